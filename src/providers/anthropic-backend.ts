import { encodeAnthropicRequest } from "../codecs/anthropic/messages-request-encode.js";
import { asksForJson, jsonAnswerEvents } from "../codecs/anthropic/json-answer.js";
import { AnthropicStreamDecoder } from "../codecs/anthropic/stream-decode.js";
import type { ChatBackend, ChatEvent, ChatRequest, StreamOptions } from "../core/chat.js";
import { tokenCount } from "../core/token-count.js";
import { LlmuxError, isLlmuxError } from "../errors/llmux-error.js";
import { providerUrl, type ProviderConfig } from "./provider-config.js";
import { fetchProviderModels, type ProviderModel } from "./provider-models.js";
import { upstreamJson, upstreamSse } from "./upstream-http.js";
import { scrub } from "./upstream-errors.js";

export const ANTHROPIC_VERSION = "2023-06-01";

/**
 * A cloud provider speaking Anthropic Messages (`anthropic`, `anthropic-compatible`).
 * It always streams from the provider and calls the provider's model named `request.model`.
 */
export class AnthropicBackend implements ChatBackend {
  readonly name: string;

  constructor(private readonly config: ProviderConfig) {
    if (config.kind !== "anthropic" && config.kind !== "anthropic-compatible") throw new Error(`AnthropicBackend cannot serve kind '${config.kind}'`);
    this.name = config.name;
  }

  private headers(): Record<string, string> {
    return {
      accept: "application/json, text/event-stream",
      "anthropic-version": ANTHROPIC_VERSION,
      ...this.config.headers,
      ...(this.config.apiKey ? { "x-api-key": this.config.apiKey } : {}),
    };
  }

  async *stream(request: ChatRequest, { signal }: StreamOptions): AsyncIterable<ChatEvent> {
    const ctx = { provider: this.name, model: request.model, apiKey: this.config.apiKey };
    const body = encodeAnthropicRequest({ ...request, stream: true }, request.model);
    const decoder = new AnthropicStreamDecoder();
    const jsonAnswer = asksForJson(request);
    let done = false;
    const frames = upstreamSse({
      url: providerUrl(this.config.baseUrl, "/messages"),
      method: "POST",
      headers: this.headers(),
      body,
      signal,
      timeoutMs: this.config.timeoutMs,
      ctx,
    });
    for await (const frame of frames) {
      if (done) continue;
      let events: ChatEvent[];
      try {
        events = decoder.decode(frame.event, frame.data);
      } catch (err) {
        if (isLlmuxError(err)) {
          const quoted = scrub(err.quoted ?? "", this.config.apiKey).slice(0, 300);
          throw new LlmuxError(err.code, `provider '${this.name}' reported an error mid-stream`, quoted ? { quoted } : {});
        }
        throw new LlmuxError("upstream_error", `provider '${this.name}' sent a malformed stream event`);
      }
      if ((frame.event || "") === "message_stop" || /"type"\s*:\s*"message_stop"/.test(frame.data)) done = true;
      // A JSON answer came as a forced tool call (see jsonAnswerTool): its arguments are the answer.
      if (jsonAnswer) for (const ev of events) yield* jsonAnswerEvents(ev);
      else yield* events;
    }
    if (!done && !signal.aborted) throw new LlmuxError("upstream_error", `provider '${this.name}' ended the stream before finishing`);
  }

  /**
   * Prompt tokens as the provider counts them (`POST /v1/messages/count_tokens`), for the
   * request as `stream` would send it: its messages, system prompt, tools and thinking.
   */
  async countTokens(request: ChatRequest, options: { signal?: AbortSignal } = {}): Promise<number> {
    const full = encodeAnthropicRequest({ ...request, stream: false }, request.model);
    const body: Record<string, unknown> = {};
    // What count_tokens takes; sampling, max_tokens, stop sequences and metadata it refuses.
    for (const key of ["model", "messages", "system", "tools", "tool_choice", "thinking"]) if (full[key] !== undefined) body[key] = full[key];
    const answer = await upstreamJson({
      url: providerUrl(this.config.baseUrl, "/messages/count_tokens"),
      method: "POST",
      headers: this.headers(),
      body,
      signal: options.signal ?? new AbortController().signal,
      timeoutMs: this.config.timeoutMs,
      ctx: { provider: this.name, model: request.model, apiKey: this.config.apiKey },
    });
    const n = tokenCount((answer as { input_tokens?: unknown } | null)?.input_tokens);
    if (n === null) throw new LlmuxError("upstream_error", `provider '${this.name}' answered count_tokens without a token count`);
    return n;
  }

  /** The provider's models (`GET /v1/models`, up to 1000), to test a provider's URL and key. */
  listModels(options: { signal?: AbortSignal } = {}): Promise<ProviderModel[]> {
    return fetchProviderModels(this.config, "/models?limit=1000", this.headers(), options.signal);
  }

}
