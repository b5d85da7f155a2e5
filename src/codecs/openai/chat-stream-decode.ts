import type { ChatEvent, FinishReason } from "../../core/chat.js";

interface ChunkToolCall {
  index: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

interface Chunk {
  model?: string;
  choices?: { index: number; delta?: { role?: string; content?: string | null; reasoning_content?: string | null; tool_calls?: ChunkToolCall[] }; finish_reason?: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
}

const FINISH: Record<string, FinishReason> = { stop: "stop", length: "length", tool_calls: "tool_calls", function_call: "tool_calls", content_filter: "stop" };

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

  /** Events for one `data:` payload (`[DONE]` included). */
  decode(data: string): ChatEvent[] {
    if (data === "[DONE]") return this.close();
    const chunk = JSON.parse(data) as Chunk;
    const out: ChatEvent[] = [];
    if (!this.started) {
      this.started = true;
      out.push({ type: "start", model: chunk.model ?? "" });
    }
    for (const choice of chunk.choices ?? []) {
      if (choice.index !== 0) continue;
      const d = choice.delta ?? {};
      if (d.reasoning_content) out.push({ type: "reasoning", text: d.reasoning_content });
      if (d.content) out.push({ type: "text", text: d.content });
      for (const tc of d.tool_calls ?? []) {
        if (!this.openCalls.has(tc.index)) {
          this.openCalls.add(tc.index);
          out.push({ type: "tool_call_start", index: tc.index, id: tc.id ?? "", name: tc.function?.name ?? "" });
        }
        if (tc.function?.arguments) out.push({ type: "tool_call_delta", index: tc.index, argumentsDelta: tc.function.arguments });
      }
      if (choice.finish_reason) {
        out.push(...this.closeCalls());
        this.finish = { type: "finish", reason: FINISH[choice.finish_reason] ?? "stop" };
      }
    }
    if (chunk.usage) out.push({ type: "usage", usage: { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens } });
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
