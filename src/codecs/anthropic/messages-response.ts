import { randomBytes } from "node:crypto";
import type { ChatEvent, FinishReason, ReasoningBlock, Usage } from "../../core/chat.js";
import { LlmuxError } from "../../errors/llmux-error.js";

/**
 * Canonical events → Anthropic Messages wire format: the streaming events
 * (`message_start` … `message_stop`) and, by accumulating exactly those events the
 * way the SDK does, the non-streaming `Message`, so both always agree.
 */

export type AnthropicStopReason = "end_turn" | "stop_sequence" | "max_tokens" | "tool_use" | "refusal";

export type AnthropicContentBlock =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "redacted_thinking"; data: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

export interface AnthropicUsage {
  input_tokens: number;
  /** Always 0: no provider llmux translates from reports cache writes apart. Sent so clients that add the counters get numbers. */
  cache_creation_input_tokens: number;
  /** A translated provider's cached prompt tokens (OpenAI's `cached_tokens`), else 0: `input_tokens` leaves them out, as Anthropic counts. */
  cache_read_input_tokens: number;
  output_tokens: number;
}

export interface AnthropicMessage {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: AnthropicContentBlock[];
  stop_reason: AnthropicStopReason | null;
  stop_sequence: string | null;
  stop_details: null;
  usage: AnthropicUsage;
}

export type AnthropicStreamEvent =
  | { type: "message_start"; message: AnthropicMessage }
  | { type: "content_block_start"; index: number; content_block: AnthropicContentBlock }
  | { type: "ping" }
  | {
      type: "content_block_delta";
      index: number;
      delta:
        | { type: "text_delta"; text: string }
        | { type: "thinking_delta"; thinking: string }
        | { type: "signature_delta"; signature: string }
        | { type: "input_json_delta"; partial_json: string };
    }
  | { type: "content_block_stop"; index: number }
  | {
      type: "message_delta";
      delta: { stop_reason: AnthropicStopReason; stop_sequence: string | null; stop_details: null };
      usage: AnthropicUsage;
    }
  | { type: "message_stop" };

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `msg_01…` followed by 22 base62 characters, like Anthropic's ids. */
export function newMessageId(): string {
  const bytes = randomBytes(22);
  let s = "msg_01";
  for (const b of bytes) s += BASE62[b % 62];
  return s;
}

export const anthropicStopReason = (r: FinishReason): AnthropicStopReason =>
  r === "stop" ? "end_turn" : r === "length" ? "max_tokens" : r === "tool_calls" ? "tool_use" : r === "refusal" ? "refusal" : "stop_sequence";

const usageJson = (inputTokens: number, outputTokens: number, cacheRead = 0): AnthropicUsage => ({
  input_tokens: inputTokens - cacheRead,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: cacheRead,
  output_tokens: outputTokens,
});

/** One SSE frame: the event name, and the same name as `type` inside the data. */
const frame = (ev: AnthropicStreamEvent): string => `event: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`;

type OpenBlock = { kind: "text" | "thinking"; index: number } | { kind: "tool_use"; index: number; toolIndex: number };

/**
 * Encodes canonical events as Anthropic's streaming events, in the order Anthropic
 * sends them: `message_start`, then per content block `content_block_start`
 * (the first followed by a `ping`), its deltas and `content_block_stop`, then
 * `message_delta` (stop reason, cumulative usage) and `message_stop`. Blocks get
 * consecutive indexes and one closes before the next opens. One encoder per
 * response: it holds that stream's state.
 */
export class AnthropicStreamEncoder {
  readonly id: string;
  private model: string;
  private inputTokens: number;
  private started = false;
  private pinged = false;
  private nextIndex = 0;
  private open: OpenBlock | null = null;
  private usage: Usage | null = null;
  private finish: { reason: FinishReason; stopSequence?: string } | null = null;

  /**
   * `inputTokens` fills `message_start`'s usage when the backend's `start` event does not
   * carry the prompt size (the final count also goes in `message_delta`); `id` pins the
   * message id (recorded-fixture tests).
   */
  constructor(requestedModel: string, options: { id?: string; inputTokens?: number } = {}) {
    this.model = requestedModel;
    this.id = options.id ?? newMessageId();
    this.inputTokens = options.inputTokens ?? 0;
  }

  /** The prompt size `message_start` reports, when the backend's `start` event does not carry it. */
  setInputTokens(n: number): void {
    this.inputTokens = n;
  }

  /** The structured events for one canonical event (often one, sometimes none or several). */
  events(ev: ChatEvent): AnthropicStreamEvent[] {
    switch (ev.type) {
      case "start":
        this.model = ev.model;
        if ("promptTokens" in ev && typeof ev.promptTokens === "number") this.inputTokens = ev.promptTokens;
        return this.begin();
      case "text":
        if (!ev.text) return [];
        return [
          ...this.begin(),
          ...this.ensureOpen("text"),
          { type: "content_block_delta", index: this.open!.index, delta: { type: "text_delta", text: ev.text } },
        ];
      case "reasoning":
        if (!ev.text) return [];
        return [
          ...this.begin(),
          ...this.ensureOpen("thinking"),
          { type: "content_block_delta", index: this.open!.index, delta: { type: "thinking_delta", thinking: ev.text } },
        ];
      case "reasoning_block":
        return [...this.begin(), ...this.reasoningBlock(ev.block)];
      case "tool_call_start": {
        const out = [...this.begin(), ...this.close()];
        const index = this.nextIndex++;
        this.open = { kind: "tool_use", index, toolIndex: ev.index };
        out.push({ type: "content_block_start", index, content_block: { type: "tool_use", id: anthropicToolId(ev.id), name: ev.name, input: {} } });
        return [...out, ...this.ping()];
      }
      case "tool_call_delta": {
        const open = this.open;
        if (open?.kind !== "tool_use" || open.toolIndex !== ev.index) {
          // Anthropic's blocks are strictly sequential; a backend must not interleave tool calls.
          throw new LlmuxError("upstream_error", "the backend streamed tool call arguments out of order");
        }
        if (!ev.argumentsDelta) return [];
        return [{ type: "content_block_delta", index: open.index, delta: { type: "input_json_delta", partial_json: ev.argumentsDelta } }];
      }
      case "tool_call_end":
        return this.open?.kind === "tool_use" && this.open.toolIndex === ev.index ? this.close() : [];
      case "usage":
        this.usage = ev.usage;
        return [];
      case "finish":
        this.finish = { reason: ev.reason, stopSequence: ev.stopSequence };
        // No content follows a finish: close the block now rather than at the end.
        return [...this.begin(), ...this.close()];
    }
  }

  /** The closing events: any open block's stop, `message_delta` and `message_stop`. */
  closing(): AnthropicStreamEvent[] {
    const out = [...this.begin(), ...this.close(), ...this.ping()];
    const reason = this.finish?.reason ?? "stop";
    const inputTokens = this.usage?.promptTokens ?? this.inputTokens;
    out.push({
      type: "message_delta",
      delta: {
        stop_reason: anthropicStopReason(reason),
        stop_sequence: reason === "stop_sequence" ? (this.finish?.stopSequence ?? null) : null,
        stop_details: null,
      },
      usage: usageJson(inputTokens, this.usage?.completionTokens ?? 0, this.usage?.cachedPromptTokens),
    });
    out.push({ type: "message_stop" });
    return out;
  }

  /** SSE frames for one canonical event. */
  encode(ev: ChatEvent): string {
    return this.events(ev).map(frame).join("");
  }

  /** SSE frames that end the stream. */
  end(): string {
    return this.closing().map(frame).join("");
  }

  /** An error after the stream began goes in-band; the Anthropic SDK raises it from the iterator. */
  error(err: LlmuxError, requestId: string): string {
    const body = { type: "error", error: { type: err.spec.anthropicType, message: err.detail }, request_id: requestId };
    return `event: error\ndata: ${JSON.stringify(body)}\n\n`;
  }

  private begin(): AnthropicStreamEvent[] {
    if (this.started) return [];
    this.started = true;
    return [
      {
        type: "message_start",
        message: {
          id: this.id,
          type: "message",
          role: "assistant",
          model: this.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          stop_details: null,
          // Nothing generated yet: output_tokens is 0 here; message_delta carries the totals.
          usage: usageJson(this.inputTokens, 0),
        },
      },
    ];
  }

  private ping(): AnthropicStreamEvent[] {
    if (this.pinged) return [];
    this.pinged = true;
    return [{ type: "ping" }];
  }

  private close(): AnthropicStreamEvent[] {
    if (!this.open) return [];
    const index = this.open.index;
    this.open = null;
    return [{ type: "content_block_stop", index }];
  }

  /**
   * A provider's signed block ends the thinking block its text went out in, with the signature
   * as Anthropic sends it (a `signature_delta` before the stop); a redacted block is a block of its own.
   */
  private reasoningBlock(b: ReasoningBlock): AnthropicStreamEvent[] {
    if (b.kind === "redacted") {
      const out = this.close();
      const index = this.nextIndex++;
      out.push({ type: "content_block_start", index, content_block: { type: "redacted_thinking", data: b.data } }, ...this.ping(), { type: "content_block_stop", index });
      return out;
    }
    const out: AnthropicStreamEvent[] = [];
    if (this.open?.kind !== "thinking") {
      out.push(...this.ensureOpen("thinking"));
      if (b.text) out.push({ type: "content_block_delta", index: this.open!.index, delta: { type: "thinking_delta", thinking: b.text } });
    }
    out.push({ type: "content_block_delta", index: this.open!.index, delta: { type: "signature_delta", signature: b.signature } }, ...this.close());
    return out;
  }

  private ensureOpen(kind: "text" | "thinking"): AnthropicStreamEvent[] {
    if (this.open?.kind === kind) return [];
    const out = this.close();
    const index = this.nextIndex++;
    this.open = { kind, index };
    out.push({
      type: "content_block_start",
      index,
      content_block: kind === "text" ? { type: "text", text: "" } : { type: "thinking", thinking: "", signature: "" },
    });
    return [...out, ...this.ping()];
  }
}

/**
 * Builds the Message out of the stream events, as the SDK's stream accumulator
 * does, so a streamed and a non-streamed answer to the same request are equal.
 */
export class AnthropicMessageAccumulator {
  private message: AnthropicMessage | null = null;
  private readonly json = new Map<number, string>();
  private badInput: LlmuxError | null = null;

  add(ev: AnthropicStreamEvent): void {
    if (ev.type === "message_start") {
      this.message = structuredClone(ev.message);
      return;
    }
    const m = this.message;
    if (!m) throw new LlmuxError("internal", `stream event ${ev.type} before message_start`);
    switch (ev.type) {
      case "content_block_start":
        m.content[ev.index] = structuredClone(ev.content_block);
        if (ev.content_block.type === "tool_use") this.json.set(ev.index, "");
        break;
      case "content_block_delta": {
        const block = m.content[ev.index];
        const d = ev.delta;
        if (d.type === "text_delta" && block.type === "text") block.text += d.text;
        else if (d.type === "thinking_delta" && block.type === "thinking") block.thinking += d.thinking;
        else if (d.type === "signature_delta" && block.type === "thinking") block.signature = d.signature;
        else if (d.type === "input_json_delta" && block.type === "tool_use") this.json.set(ev.index, (this.json.get(ev.index) ?? "") + d.partial_json);
        break;
      }
      case "content_block_stop": {
        const block = m.content[ev.index];
        if (block.type !== "tool_use") break;
        try {
          block.input = parseToolInput(this.json.get(ev.index) ?? "");
        } catch (err) {
          // Judged in result(), once the stop reason is known: arguments the token limit cut short are expected.
          this.badInput ??= err as LlmuxError;
        }
        break;
      }
      case "message_delta":
        m.stop_reason = ev.delta.stop_reason;
        m.stop_sequence = ev.delta.stop_sequence;
        m.usage = { ...ev.usage };
        break;
      case "ping":
      case "message_stop":
        break;
    }
  }

  /**
   * The whole message. A tool call whose arguments are not a JSON object is a 502, unless the
   * token limit cut it short (`max_tokens`): its `input` then stays `{}`, as far as a client can use it.
   */
  result(): AnthropicMessage {
    if (!this.message) throw new LlmuxError("internal", "the backend produced no events");
    if (this.badInput && this.message.stop_reason !== "max_tokens") throw this.badInput;
    return this.message;
  }
}

/**
 * A tool call's arguments as Anthropic's `input` object. Arguments that are not a JSON object
 * are the backend's fault (a provider's, or a model's without a grammar): a 502, not a 500.
 */
function parseToolInput(text: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new LlmuxError("upstream_error", "the model produced tool arguments that are not valid JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new LlmuxError("upstream_error", "the model produced tool arguments that are not a JSON object");
  }
  return value as Record<string, unknown>;
}

/** Collects a whole event stream into an Anthropic `Message` object. */
export async function collectAnthropicMessage(
  events: AsyncIterable<ChatEvent>,
  requestedModel: string,
  options: { id?: string } = {},
): Promise<AnthropicMessage> {
  const encoder = new AnthropicStreamEncoder(requestedModel, options);
  const acc = new AnthropicMessageAccumulator();
  for await (const ev of events) for (const e of encoder.events(ev)) acc.add(e);
  for (const e of encoder.closing()) acc.add(e);
  return acc.result();
}

/** llmux mints `call_…` ids; Anthropic clients see the same id as `toolu_…`. Ids from elsewhere pass unchanged. */
export const anthropicToolId = (id: string): string => (id.startsWith("call_") ? `toolu_${id.slice("call_".length)}` : id);
