import { randomBytes } from "node:crypto";
import type { ChatEvent, FinishReason, ReasoningBlock, Usage } from "../../core/chat.js";
import type { LlmuxError } from "../../errors/llmux-error.js";
import { thinkingBlockJson } from "./thinking-blocks.js";

export const SYSTEM_FINGERPRINT = "llmux";

export const newCompletionId = (): string => `chatcmpl-${randomBytes(12).toString("base64url")}`;

/** OpenAI has no "stop_sequence": a stop string is a plain `stop`; a refusal is OpenAI's `content_filter`. */
export const openaiFinishReason = (r: FinishReason): "stop" | "length" | "tool_calls" | "content_filter" =>
  r === "stop_sequence" ? "stop" : r === "refusal" ? "content_filter" : r;

const usageJson = (u: Usage) => ({
  prompt_tokens: u.promptTokens,
  completion_tokens: u.completionTokens,
  total_tokens: u.promptTokens + u.completionTokens,
  ...(u.cachedPromptTokens !== undefined ? { prompt_tokens_details: { cached_tokens: u.cachedPromptTokens } } : {}),
});

/** Collects a whole event stream into an OpenAI `chat.completion` object. */
export async function collectOpenAIChat(events: AsyncIterable<ChatEvent>, requestedModel: string): Promise<Record<string, unknown>> {
  let model = requestedModel;
  let content = "";
  let reasoning = "";
  const blocks: ReasoningBlock[] = [];
  let finish: FinishReason = "stop";
  let usage: Usage = { promptTokens: 0, completionTokens: 0 };
  const toolCalls: { id: string; type: "function"; function: { name: string; arguments: string } }[] = [];
  for await (const ev of events) {
    switch (ev.type) {
      case "start":
        model = ev.model;
        break;
      case "text":
        content += ev.text;
        break;
      case "reasoning":
        reasoning += ev.text;
        break;
      case "reasoning_block":
        blocks.push(ev.block);
        break;
      case "tool_call_start":
        toolCalls[ev.index] = { id: ev.id, type: "function", function: { name: ev.name, arguments: "" } };
        break;
      case "tool_call_delta":
        toolCalls[ev.index].function.arguments += ev.argumentsDelta;
        break;
      case "usage":
        usage = ev.usage;
        break;
      case "finish":
        finish = ev.reason;
        break;
    }
  }
  const message: Record<string, unknown> = { role: "assistant", content: toolCalls.length && !content ? null : content, refusal: null };
  if (reasoning) message.reasoning_content = reasoning;
  if (blocks.length) message.thinking_blocks = blocks.map(thinkingBlockJson);
  if (toolCalls.length) message.tool_calls = toolCalls;
  return {
    id: newCompletionId(),
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: openaiFinishReason(finish) }],
    usage: usageJson(usage),
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
}

/**
 * Encodes canonical events as OpenAI `chat.completion.chunk` SSE frames, exactly
 * as OpenAI sends them: a first chunk with the role, content deltas, a chunk with
 * `finish_reason`, the usage chunk when `include_usage` is set, then `[DONE]`.
 * A provider's signed or redacted reasoning blocks go out together in one `thinking_blocks`
 * delta once the reasoning is over, before the text or tool calls that follow it: whether a
 * client appends that list or assigns it (as the `openai` SDK's stream helper does with fields it
 * does not know), it ends up with all of them. (Thinking interleaved with tool calls, an Anthropic
 * beta, would give one such delta per stretch of thinking.)
 * One encoder per response: it holds that stream's state.
 */
export class OpenAIChatStreamEncoder {
  private readonly id: string;
  private readonly created: number;
  private model: string;
  private usage: Usage | null = null;
  private readonly blocks: ReasoningBlock[] = [];

  /** `fixed` pins the id and timestamp (recorded-fixture tests). */
  constructor(
    requestedModel: string,
    private readonly includeUsage: boolean,
    fixed: { id?: string; created?: number } = {},
  ) {
    this.model = requestedModel;
    this.id = fixed.id ?? newCompletionId();
    this.created = fixed.created ?? Math.floor(Date.now() / 1000);
  }

  private chunk(choices: unknown[], extra: Record<string, unknown> = {}): string {
    const body: Record<string, unknown> = {
      id: this.id,
      object: "chat.completion.chunk",
      created: this.created,
      model: this.model,
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices,
      ...extra,
    };
    if (this.includeUsage && !("usage" in body)) body.usage = null;
    return `data: ${JSON.stringify(body)}\n\n`;
  }

  private delta(delta: Record<string, unknown>, finish: string | null = null): string {
    return this.chunk([{ index: 0, delta, logprobs: null, finish_reason: finish }]);
  }

  /** Frames for one event (often one, sometimes none). */
  encode(ev: ChatEvent): string {
    switch (ev.type) {
      case "start":
        this.model = ev.model;
        return this.delta({ role: "assistant", content: "", refusal: null });
      case "text":
        return ev.text ? this.reasoningBlocks() + this.delta({ content: ev.text }) : "";
      case "reasoning":
        return ev.text ? this.delta({ reasoning_content: ev.text }) : "";
      case "reasoning_block":
        this.blocks.push(ev.block);
        return "";
      case "tool_call_start":
        return this.reasoningBlocks() + this.delta({
          tool_calls: [{ index: ev.index, id: ev.id, type: "function", function: { name: ev.name, arguments: "" } }],
        });
      case "tool_call_delta":
        return this.delta({ tool_calls: [{ index: ev.index, function: { arguments: ev.argumentsDelta } }] });
      case "tool_call_end":
        return "";
      case "usage":
        this.usage = ev.usage;
        return "";
      case "finish":
        return this.reasoningBlocks() + this.delta({}, openaiFinishReason(ev.reason));
    }
  }

  /** The reasoning blocks held since the last such delta, as one `thinking_blocks` delta. */
  private reasoningBlocks(): string {
    return this.blocks.length ? this.delta({ thinking_blocks: this.blocks.splice(0).map(thinkingBlockJson) }) : "";
  }

  /** The closing frames: usage (when asked for) and `[DONE]`. */
  end(): string {
    const usage = this.includeUsage && this.usage ? this.chunk([], { usage: usageJson(this.usage) }) : "";
    return `${usage}data: [DONE]\n\n`;
  }

  /** An error after the stream began goes in-band; the OpenAI SDK raises it from the iterator. */
  error(err: LlmuxError, requestId: string): string {
    return `data: ${JSON.stringify({
      error: { message: err.detail, type: err.spec.openaiType, param: err.param ?? null, code: err.code },
      request_id: requestId,
    })}\n\n`;
  }
}
