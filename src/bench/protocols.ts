/**
 * What differs between the wire protocols the bench speaks: the route, the headers, the
 * request body, how a stream event is read and how a whole (non-streaming) response is read.
 */
import type { BenchProtocol, BenchTarget } from "./types.js";

/** Receives what a stream event means for the measurement. */
export interface StreamSink {
  /** A content delta (text, reasoning or tool-call arguments) arrived at `now`. */
  delta(now: number): void;
  /** The server's token counts, when it reports them. */
  usage(outputTokens: number | undefined, promptTokens: number | undefined): void;
  /** The protocol's end-of-stream marker arrived. */
  end(): void;
  /** An in-band error. */
  fail(message: string): void;
}

/** A complete (non-streaming) response, read. */
export interface WholeResponse {
  outputTokens?: number;
  promptTokens?: number;
  /** The generated text, to estimate tokens when the server reports no usage. */
  text: string;
}

export interface ProtocolAdapter {
  /** Path under `/v1`. */
  path: string;
  headers(apiKey: string | undefined): Record<string, string>;
  body(target: BenchTarget, prompt: string): Record<string, unknown>;
  /** Reads one SSE event; must stay cheap (it runs once per token). */
  onEvent(data: string, event: string | undefined, now: number, sink: StreamSink): void;
  parseResponse(json: unknown): WholeResponse;
}

// Wire JSON is read defensively (optional chaining everywhere), so `any` is the honest type.
type Json = Record<string, any>;

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

const errorText = (e: unknown): string => {
  if (typeof e === "string") return e;
  const o = e as Json | null;
  return typeof o?.message === "string" ? o.message : JSON.stringify(e);
};

/** OpenAI Chat Completions (`POST /v1/chat/completions`), as llmux, llama-server, Ollama and vLLM speak it. */
export const openaiProtocol: ProtocolAdapter = {
  path: "/chat/completions",
  headers: (apiKey) => ({ "content-type": "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) }),
  body(target, prompt) {
    const body: Record<string, unknown> = {
      model: target.model,
      messages: [{ role: "user", content: prompt }],
      max_tokens: target.maxTokens,
      stream: target.stream,
    };
    if (target.stream) body.stream_options = { include_usage: true };
    if (target.temperature !== undefined) body.temperature = target.temperature;
    if (target.seed !== undefined) body.seed = target.seed;
    return body;
  },
  onEvent(data, _event, now, sink) {
    if (data === "[DONE]") return sink.end();
    let chunk: Json;
    try {
      chunk = JSON.parse(data) as Json;
    } catch {
      return sink.fail(`unparseable SSE data: ${data.slice(0, 120)}`);
    }
    if (chunk.error) return sink.fail(errorText(chunk.error));
    const delta = chunk.choices?.[0]?.delta as Json | undefined;
    // Reasoning deltas are tokens too (llmux and llama-server: reasoning_content; Ollama: reasoning).
    if (delta && (delta.content || delta.reasoning_content || delta.reasoning || delta.tool_calls)) sink.delta(now);
    const usage = chunk.usage as Json | null | undefined;
    if (usage) sink.usage(num(usage.completion_tokens), num(usage.prompt_tokens));
  },
  parseResponse(json) {
    const o = json as Json;
    const message = o?.choices?.[0]?.message as Json | undefined;
    const text = [message?.content, message?.reasoning_content, message?.reasoning].filter((s) => typeof s === "string").join("");
    return { outputTokens: num(o?.usage?.completion_tokens), promptTokens: num(o?.usage?.prompt_tokens), text };
  },
};

/** Anthropic Messages (`POST /v1/messages`, `anthropic-version: 2023-06-01`). */
export const anthropicProtocol: ProtocolAdapter = {
  path: "/messages",
  headers: (apiKey) => ({
    "content-type": "application/json",
    "anthropic-version": "2023-06-01",
    ...(apiKey ? { "x-api-key": apiKey } : {}),
  }),
  body(target, prompt) {
    // No seed: the Messages API has none and rejects unknown fields.
    const body: Record<string, unknown> = {
      model: target.model,
      messages: [{ role: "user", content: prompt }],
      max_tokens: target.maxTokens,
      stream: target.stream,
    };
    if (target.temperature !== undefined) body.temperature = target.temperature;
    return body;
  },
  onEvent(data, _event, now, sink) {
    let ev: Json;
    try {
      ev = JSON.parse(data) as Json;
    } catch {
      return sink.fail(`unparseable SSE data: ${data.slice(0, 120)}`);
    }
    switch (ev.type) {
      case "content_block_delta": {
        const d = ev.delta as Json | undefined;
        if (d && (d.text || d.thinking || d.partial_json)) sink.delta(now);
        return;
      }
      case "message_start":
        return sink.usage(undefined, num(ev.message?.usage?.input_tokens));
      case "message_delta":
        return sink.usage(num(ev.usage?.output_tokens), num(ev.usage?.input_tokens));
      case "message_stop":
        return sink.end();
      case "error":
        return sink.fail(errorText(ev.error));
    }
  },
  parseResponse(json) {
    const o = json as Json;
    const blocks = Array.isArray(o?.content) ? (o.content as Json[]) : [];
    const text = blocks.map((b) => (typeof b.text === "string" ? b.text : typeof b.thinking === "string" ? b.thinking : "")).join("");
    return { outputTokens: num(o?.usage?.output_tokens), promptTokens: num(o?.usage?.input_tokens), text };
  },
};

export const PROTOCOLS: Readonly<Record<BenchProtocol, ProtocolAdapter>> = { openai: openaiProtocol, anthropic: anthropicProtocol };

/** `base` + `/v1` + `path`, without doubling a `/v1` the base already ends with. */
export function endpointUrl(base: string, path: string): string {
  const trimmed = base.replace(/\/+$/, "");
  return `${/\/v1$/.test(trimmed) ? trimmed : `${trimmed}/v1`}${path}`;
}
