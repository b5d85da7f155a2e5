import type { ChatEvent, FinishReason, Usage } from "../../core/chat.js";
import { LlmuxError } from "../../errors/llmux-error.js";
import { tokenCount } from "../../core/token-count.js";

interface WireUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

interface WireBlock {
  type: string;
  id?: string;
  name?: string;
  thinking?: string;
  signature?: string;
  data?: string;
}

interface WireEvent {
  type?: string;
  message?: { model?: string; usage?: WireUsage };
  index?: number;
  content_block?: WireBlock;
  delta?: {
    type?: string;
    text?: string;
    thinking?: string;
    partial_json?: string;
    signature?: string;
    stop_reason?: string | null;
    stop_sequence?: string | null;
  };
  usage?: WireUsage;
  error?: { type?: string; message?: string };
}

const FINISH: Record<string, FinishReason> = {
  end_turn: "stop",
  max_tokens: "length",
  stop_sequence: "stop_sequence",
  tool_use: "tool_calls",
  pause_turn: "stop",
  refusal: "refusal",
  // The model's context filled up before max_tokens: for the client, cut short all the same.
  model_context_window_exceeded: "length",
};

/**
 * Decodes Anthropic Messages streaming events (one SSE frame each: its `event:` name
 * and `data:` JSON) into canonical events: the inverse of `AnthropicStreamEncoder`.
 * One decoder per stream: it numbers tool_use blocks (canonical tool call index =
 * running count of tool_use blocks), remembers which content block indexes are tool
 * calls so their stop becomes `tool_call_end`, and holds the stop reason and usage
 * from `message_delta` until `message_stop`, where it emits `usage` then `finish`.
 * A thinking block's text and `signature_delta` are kept until its stop, which emits the
 * whole signed block (`reasoning_block`); a `redacted_thinking` block is emitted as it starts.
 */
export class AnthropicStreamDecoder {
  private readonly toolBlocks = new Map<number, number>();
  private readonly thinkingBlocks = new Map<number, { text: string; signature: string }>();
  private toolCount = 0;
  private promptTokens = 0;
  private cacheRead = 0;
  private cacheWrite = 0;
  private outputTokens = 0;
  private stopReason: string | null = null;
  private stopSequence: string | null = null;

  /** Events for one SSE frame; `event` is the frame's `event:` name (falls back to the data's `type`). */
  decode(event: string, data: string): ChatEvent[] {
    const ev = (data.trim() === "" ? {} : JSON.parse(data)) as WireEvent;
    const type = event || ev.type || "";
    switch (type) {
      case "message_start": {
        const usage = ev.message?.usage;
        const input = tokenCount(usage?.input_tokens);
        const output = tokenCount(usage?.output_tokens);
        if (input !== null) this.promptTokens = input;
        if (output !== null) this.outputTokens = output;
        this.cacheRead = tokenCount(usage?.cache_read_input_tokens) ?? this.cacheRead;
        this.cacheWrite = tokenCount(usage?.cache_creation_input_tokens) ?? this.cacheWrite;
        const start: ChatEvent = { type: "start", model: typeof ev.message?.model === "string" ? ev.message.model : "" };
        if (input !== null) start.promptTokens = input + this.cacheRead + this.cacheWrite;
        return [start];
      }
      case "content_block_start": {
        const block = ev.content_block;
        if (block?.type === "thinking") {
          const text = typeof block.thinking === "string" ? block.thinking : "";
          this.thinkingBlocks.set(ev.index ?? 0, { text, signature: typeof block.signature === "string" ? block.signature : "" });
          return text ? [{ type: "reasoning", text }] : [];
        }
        if (block?.type === "redacted_thinking") {
          return typeof block.data === "string" && block.data ? [{ type: "reasoning_block", block: { kind: "redacted", data: block.data } }] : [];
        }
        if (block?.type !== "tool_use") return [];
        const index = this.toolCount++;
        this.toolBlocks.set(ev.index ?? 0, index);
        return [{ type: "tool_call_start", index, id: typeof block.id === "string" ? block.id : "", name: typeof block.name === "string" ? block.name : "" }];
      }
      case "content_block_delta": {
        const d = ev.delta;
        switch (d?.type) {
          case "text_delta":
            return typeof d.text === "string" && d.text ? [{ type: "text", text: d.text }] : [];
          case "thinking_delta": {
            if (typeof d.thinking !== "string" || !d.thinking) return [];
            const block = this.thinkingBlocks.get(ev.index ?? 0);
            if (block) block.text += d.thinking;
            return [{ type: "reasoning", text: d.thinking }];
          }
          case "signature_delta": {
            const block = this.thinkingBlocks.get(ev.index ?? 0);
            if (block && typeof d.signature === "string") block.signature += d.signature;
            return [];
          }
          case "input_json_delta": {
            const index = this.toolBlocks.get(ev.index ?? 0);
            if (index === undefined || typeof d.partial_json !== "string" || !d.partial_json) return [];
            return [{ type: "tool_call_delta", index, argumentsDelta: d.partial_json }];
          }
          default:
            // citations_delta, ...: nothing canonical carries them.
            return [];
        }
      }
      case "content_block_stop": {
        const thinking = this.thinkingBlocks.get(ev.index ?? 0);
        if (thinking) {
          this.thinkingBlocks.delete(ev.index ?? 0);
          // Unsigned thinking (some Anthropic-compatible servers) is plain reasoning: nothing to send back verbatim.
          return thinking.signature ? [{ type: "reasoning_block", block: { kind: "signed", text: thinking.text, signature: thinking.signature } }] : [];
        }
        const index = this.toolBlocks.get(ev.index ?? 0);
        if (index === undefined) return [];
        this.toolBlocks.delete(ev.index ?? 0);
        return [{ type: "tool_call_end", index }];
      }
      case "message_delta":
        if (typeof ev.delta?.stop_reason === "string" || ev.delta?.stop_reason === null) this.stopReason = ev.delta.stop_reason;
        if (typeof ev.delta?.stop_sequence === "string" || ev.delta?.stop_sequence === null) this.stopSequence = ev.delta.stop_sequence;
        this.outputTokens = tokenCount(ev.usage?.output_tokens) ?? this.outputTokens;
        this.promptTokens = tokenCount(ev.usage?.input_tokens) ?? this.promptTokens;
        this.cacheRead = tokenCount(ev.usage?.cache_read_input_tokens) ?? this.cacheRead;
        this.cacheWrite = tokenCount(ev.usage?.cache_creation_input_tokens) ?? this.cacheWrite;
        return [];
      case "message_stop": {
        const reason = FINISH[this.stopReason ?? ""] ?? "stop";
        const finish: ChatEvent = { type: "finish", reason };
        if (reason === "stop_sequence" && this.stopSequence !== null) finish.stopSequence = this.stopSequence;
        // Anthropic's input_tokens leaves out what was read from or written to its prompt cache: the canonical count holds all three.
        const usage: Usage = { promptTokens: this.promptTokens + this.cacheRead + this.cacheWrite, completionTokens: this.outputTokens };
        if (this.cacheRead > 0) usage.cachedPromptTokens = this.cacheRead;
        return [{ type: "usage", usage }, finish];
      }
      case "error":
        // The provider's words may echo the prompt: quoted, so metadata-only records leave them out.
        throw new LlmuxError("upstream_error", "the upstream provider reported an error", typeof ev.error?.message === "string" && ev.error.message ? { quoted: ev.error.message } : {});
      default:
        // ping, and event types added later.
        return [];
    }
  }
}

/** Splits an SSE body into its frames: the `event:` name and the joined `data:` lines. */
export function sseFrames(body: string): { event: string; data: string }[] {
  const out: { event: string; data: string }[] = [];
  for (const frame of body.split(/\r?\n\r?\n/)) {
    let event = "";
    const data: string[] = [];
    for (const line of frame.split(/\r?\n/)) {
      if (line.startsWith("event:")) event = line.slice(6).replace(/^ /, "");
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (event || data.length > 0) out.push({ event, data: data.join("\n") });
  }
  return out;
}
