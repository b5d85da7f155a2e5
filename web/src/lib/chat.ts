/**
 * Sends a conversation to llmux over the chosen protocol and yields the decoded stream,
 * timing the first token. Both protocols go through the same /v1 routes any SDK uses.
 */
import { rawFetch } from "./api";
import { readSse } from "./sse";
import { AnthropicStreamDecoder } from "./stream/anthropic";
import type { ChatStreamEvent } from "./stream/events";
import { decodeOpenAIFrame } from "./stream/openai";

export type Protocol = "openai" | "anthropic";

export interface Sampling {
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
}

export interface TurnMessage {
  role: "user" | "assistant";
  content: string;
}

/** The request body for one protocol (the UI sends plain text turns). */
export function buildChatBody(protocol: Protocol, model: string, system: string, messages: TurnMessage[], sampling: Sampling): Record<string, unknown> {
  const common: Record<string, unknown> = { model, stream: true };
  if (sampling.temperature !== undefined) common.temperature = sampling.temperature;
  if (sampling.top_p !== undefined) common.top_p = sampling.top_p;
  if (protocol === "openai") {
    const msgs = system.trim() ? [{ role: "system", content: system }, ...messages] : messages;
    return { ...common, messages: msgs, max_tokens: sampling.max_tokens, stream_options: { include_usage: true } };
  }
  return { ...common, ...(system.trim() ? { system } : {}), messages, max_tokens: sampling.max_tokens ?? 1024 };
}

/** Streams one answer; the caller aborts with `signal` (the Stop button). */
export async function* streamChat(
  protocol: Protocol,
  body: Record<string, unknown>,
  signal: AbortSignal,
): AsyncGenerator<ChatStreamEvent> {
  const res = await rawFetch(protocol === "openai" ? "/v1/chat/completions" : "/v1/messages", { method: "POST", body, signal });
  if (!res.body) throw new Error("empty response");
  const anthropic = new AnthropicStreamDecoder();
  for await (const frame of readSse(res.body)) {
    yield* protocol === "openai" ? decodeOpenAIFrame(frame) : anthropic.decode(frame);
  }
}

/** Figures shown under an answer. */
export interface AnswerStats {
  ttft_ms?: number;
  tokens_per_s?: number;
  completion_tokens?: number;
}

/** TTFT and decode speed from the timestamps of a streamed answer. */
export function answerStats(startedAt: number, firstTokenAt: number | undefined, endedAt: number, completionTokens: number | undefined): AnswerStats {
  const stats: AnswerStats = { completion_tokens: completionTokens };
  if (firstTokenAt !== undefined) stats.ttft_ms = Math.round(firstTokenAt - startedAt);
  if (firstTokenAt !== undefined && completionTokens && endedAt > firstTokenAt) {
    // The first token arrived at firstTokenAt: the rest were decoded in the time after it.
    stats.tokens_per_s = Math.round(((Math.max(completionTokens - 1, 1)) / ((endedAt - firstTokenAt) / 1000)) * 10) / 10;
  }
  return stats;
}
