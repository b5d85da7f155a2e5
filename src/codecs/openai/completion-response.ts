import { randomBytes } from "node:crypto";
import type { ChatEvent, FinishReason, Usage } from "../../core/chat.js";
import type { LlmuxError } from "../../errors/llmux-error.js";
import { openaiFinishReason, SYSTEM_FINGERPRINT } from "./chat-response.js";

export const newTextCompletionId = (): string => `cmpl-${randomBytes(12).toString("base64url")}`;

const usageJson = (u: Usage) => ({
  prompt_tokens: u.promptTokens,
  completion_tokens: u.completionTokens,
  total_tokens: u.promptTokens + u.completionTokens,
});

/** One prompt's event, tagged with the choice it belongs to. */
export interface IndexedEvent {
  index: number;
  event: ChatEvent;
}

/** Collects the events of every prompt into one `text_completion` object. */
export async function collectOpenAICompletion(
  events: AsyncIterable<IndexedEvent>,
  prompts: string[],
  opts: { model: string; echo: boolean },
): Promise<Record<string, unknown>> {
  let model = opts.model;
  const texts = prompts.map((p) => (opts.echo ? p : ""));
  const finishes: FinishReason[] = prompts.map(() => "stop");
  const usage: Usage = { promptTokens: 0, completionTokens: 0 };
  for await (const { index, event } of events) {
    if (event.type === "start") model = event.model;
    else if (event.type === "text") texts[index] += event.text;
    else if (event.type === "finish") finishes[index] = event.reason;
    else if (event.type === "usage") {
      usage.promptTokens += event.usage.promptTokens;
      usage.completionTokens += event.usage.completionTokens;
    }
  }
  return {
    id: newTextCompletionId(),
    object: "text_completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: texts.map((text, index) => ({ text, index, logprobs: null, finish_reason: openaiFinishReason(finishes[index]) })),
    usage: usageJson(usage),
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
}

/**
 * Encodes tagged events as legacy `text_completion` SSE chunks: text deltas per
 * choice, a chunk with `finish_reason` per choice, the summed usage chunk when
 * `include_usage` is set, then `[DONE]`. One encoder per response.
 */
export class OpenAICompletionStreamEncoder {
  private readonly id = newTextCompletionId();
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly usage: Usage = { promptTokens: 0, completionTokens: 0 };
  private echoed = new Set<number>();

  constructor(
    private model: string,
    private readonly prompts: string[],
    private readonly opts: { echo: boolean; includeUsage: boolean },
  ) {}

  private chunk(choices: unknown[], extra: Record<string, unknown> = {}): string {
    const body: Record<string, unknown> = {
      id: this.id,
      object: "text_completion",
      created: this.created,
      model: this.model,
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices,
      ...extra,
    };
    if (this.opts.includeUsage && !("usage" in body)) body.usage = null;
    return `data: ${JSON.stringify(body)}\n\n`;
  }

  private text(index: number, text: string, finish: string | null = null): string {
    return this.chunk([{ text, index, logprobs: null, finish_reason: finish }]);
  }

  encode({ index, event }: IndexedEvent): string {
    switch (event.type) {
      case "start":
        this.model = event.model;
        if (this.opts.echo && !this.echoed.has(index)) {
          this.echoed.add(index);
          return this.text(index, this.prompts[index]);
        }
        return "";
      case "text":
        return event.text ? this.text(index, event.text) : "";
      case "usage":
        this.usage.promptTokens += event.usage.promptTokens;
        this.usage.completionTokens += event.usage.completionTokens;
        return "";
      case "finish":
        return this.text(index, "", openaiFinishReason(event.reason));
      default:
        return "";
    }
  }

  end(): string {
    const usage = this.opts.includeUsage ? this.chunk([], { usage: usageJson(this.usage) }) : "";
    return `${usage}data: [DONE]\n\n`;
  }

  error(err: LlmuxError, requestId: string): string {
    return `data: ${JSON.stringify({
      error: { message: err.detail, type: err.spec.openaiType, param: err.param ?? null, code: err.code },
      request_id: requestId,
    })}\n\n`;
  }
}
