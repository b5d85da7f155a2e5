import type { ChatEvent, FinishReason, Usage } from "../../core/chat.js";
import { tokenCount } from "../../core/token-count.js";
import { reasoningBlockOf } from "./thinking-blocks.js";

interface ChunkToolCall {
  index: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

interface Chunk {
  model?: string;
  choices?: {
    index: number;
    delta?: {
      role?: string;
      content?: string | null;
      refusal?: string | null;
      reasoning_content?: string | null;
      tool_calls?: ChunkToolCall[];
      thinking_blocks?: unknown[] | null;
    };
    finish_reason?: string | null;
  }[];
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown; prompt_tokens_details?: { cached_tokens?: unknown } | null } | null;
}

/** A list field of a chunk: absent or null is empty; anything but an array is malformed. */
function listOf<T>(value: T[] | null | undefined): T[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new TypeError("expected an array");
  return value;
}

/** A text field of a chunk: absent or null is empty; anything but a string is malformed. */
function textOf(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new TypeError("expected a string");
  return value;
}

const FINISH: Record<string, FinishReason> = { stop: "stop", length: "length", tool_calls: "tool_calls", function_call: "tool_calls", content_filter: "refusal" };

/**
 * Decodes OpenAI `chat.completion.chunk` objects (one SSE `data:` payload each) into
 * canonical events: the inverse of `OpenAIChatStreamEncoder`. One decoder per stream:
 * it tracks which tool calls are open so each gets its start and end. Used by the
 * cloud backends and by round-trip tests on recorded streams.
 */
export class OpenAIChatStreamDecoder {
  private started = false;
  private readonly openCalls = new Set<number>();
  private finish: ChatEvent | null = null;

  /**
   * Events for one `data:` payload (`[DONE]` included). Throws on a chunk of the wrong shape
   * (not JSON, a field of the wrong type): the caller reports the provider's malformed stream.
   */
  decode(data: string): ChatEvent[] {
    return data === "[DONE]" ? this.close() : this.decodeChunk(JSON.parse(data));
  }

  /** Whether a choice has finished (its finish reason is held until `[DONE]`, after usage). */
  get finished(): boolean {
    return this.finish !== null;
  }

  /** Events for one chunk already parsed from its `data:` payload (a caller that had to look inside it first). */
  decodeChunk(value: unknown): ChatEvent[] {
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new TypeError("a chat completion chunk must be an object");
    const chunk = value as Chunk;
    const out: ChatEvent[] = [];
    if (!this.started) {
      this.started = true;
      out.push({ type: "start", model: typeof chunk.model === "string" ? chunk.model : "" });
    }
    for (const choice of listOf(chunk.choices)) {
      if (choice?.index !== 0) continue;
      const d = choice.delta ?? {};
      const reasoning = textOf(d.reasoning_content);
      const content = textOf(d.content);
      // A refusal (OpenAI's own field, content null) is what the model said: text for the client, not nothing.
      const refusal = textOf(d.refusal);
      if (reasoning) out.push({ type: "reasoning", text: reasoning });
      if (content) out.push({ type: "text", text: content });
      if (refusal) out.push({ type: "text", text: refusal });
      for (const b of listOf(d.thinking_blocks)) {
        const block = reasoningBlockOf(b);
        if (block) out.push({ type: "reasoning_block", block });
      }
      for (const tc of listOf(d.tool_calls)) {
        if (typeof tc?.index !== "number") throw new TypeError("a tool call delta needs a numeric index");
        if (!this.openCalls.has(tc.index)) {
          this.openCalls.add(tc.index);
          out.push({ type: "tool_call_start", index: tc.index, id: textOf(tc.id), name: textOf(tc.function?.name) });
        }
        const args = textOf(tc.function?.arguments);
        if (args) out.push({ type: "tool_call_delta", index: tc.index, argumentsDelta: args });
      }
      if (choice.finish_reason) {
        out.push(...this.closeCalls());
        this.finish = { type: "finish", reason: FINISH[String(choice.finish_reason)] ?? "stop" };
      }
    }
    const usage = chunk.usage;
    if (usage && typeof usage === "object") {
      const promptTokens = tokenCount(usage.prompt_tokens);
      const completionTokens = tokenCount(usage.completion_tokens);
      if (promptTokens !== null || completionTokens !== null) {
        const u: Usage = { promptTokens: promptTokens ?? 0, completionTokens: completionTokens ?? 0 };
        // OpenAI's automatic prompt caching: part of the prompt, counted apart (Anthropic clients see it as a cache read).
        const cached = tokenCount(usage.prompt_tokens_details?.cached_tokens);
        if (cached !== null && cached > 0 && cached <= u.promptTokens) u.cachedPromptTokens = cached;
        out.push({ type: "usage", usage: u });
      }
    }
    return out;
  }

  private closeCalls(): ChatEvent[] {
    const out: ChatEvent[] = [...this.openCalls].map((index) => ({ type: "tool_call_end", index }) as ChatEvent);
    this.openCalls.clear();
    return out;
  }

  /** Canonical order puts finish last, after usage (OpenAI sends usage after the finish chunk). */
  private close(): ChatEvent[] {
    const out = this.closeCalls();
    if (this.finish) out.push(this.finish);
    this.finish = null;
    return out;
  }
}

/** Splits an SSE body into its `data:` payloads. */
export function sseDataPayloads(body: string): string[] {
  return body
    .split(/\r?\n\r?\n/)
    .map((frame) => frame.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n"))
    .filter((d) => d.length > 0);
}
