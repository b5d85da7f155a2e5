import { encodeOpenAIChatRequest } from "../codecs/openai/chat-request-encode.js";
import { OpenAIChatStreamDecoder } from "../codecs/openai/chat-stream-decode.js";
import type { ChatBackend, ChatEvent, ChatRequest, StreamOptions } from "../core/chat.js";
import { LlmuxError } from "../errors/llmux-error.js";
import { providerUrl, type ProviderConfig } from "./provider-config.js";
import { fetchProviderModels, type ProviderModel } from "./provider-models.js";
import { upstreamSse } from "./upstream-http.js";
import { providerMessage } from "./upstream-errors.js";

/**
 * A cloud provider speaking OpenAI Chat Completions (`openai`, `openai-compatible`).
 * It always streams from the provider (non-streaming clients are served by collecting the
 * events) and calls the provider's model named `request.model`.
 */
export class OpenAIBackend implements ChatBackend {
  readonly name: string;

  constructor(private readonly config: ProviderConfig) {
    if (config.kind !== "openai" && config.kind !== "openai-compatible") throw new Error(`OpenAIBackend cannot serve kind '${config.kind}'`);
    this.name = config.name;
  }

  private headers(): Record<string, string> {
    return {
      accept: "application/json, text/event-stream",
      ...this.config.headers,
      ...(this.config.apiKey ? { authorization: `Bearer ${this.config.apiKey}` } : {}),
    };
  }

  async *stream(request: ChatRequest, { signal }: StreamOptions): AsyncIterable<ChatEvent> {
    const ctx = { provider: this.name, model: request.model, apiKey: this.config.apiKey };
    const kind = this.config.kind === "openai-compatible" ? "openai-compatible" : "openai";
    const body = encodeOpenAIChatRequest({ ...request, stream: true }, request.model, { kind });
    const decoder = new OpenAIChatStreamDecoder();
    let done = false;
    const frames = upstreamSse({
      url: providerUrl(this.config.baseUrl, "/chat/completions"),
      method: "POST",
      headers: this.headers(),
      body,
      signal,
      timeoutMs: this.config.timeoutMs,
      ctx,
    });
    for await (const frame of frames) {
      const data = frame.data.trim();
      if (data === "" || done) continue;
      if (data === "[DONE]") {
        done = true;
        yield* decoder.decode(data);
        continue;
      }
      // Parsed once: looked into for an in-band error, then decoded.
      let chunk: unknown;
      try {
        chunk = JSON.parse(data);
      } catch {
        throw this.malformed();
      }
      if ((chunk as { error?: unknown } | null)?.error) {
        const quoted = providerMessage(data, this.config.apiKey);
        throw new LlmuxError("upstream_error", `provider '${this.name}' reported an error mid-stream`, quoted ? { quoted } : {});
      }
      let events: ChatEvent[];
      try {
        events = decoder.decodeChunk(chunk);
      } catch {
        // A chunk of the wrong shape (not an object, a field of the wrong type): the provider's fault, not ours.
        throw this.malformed();
      }
      yield* events;
    }
    if (done || signal.aborted) return;
    // Some compatible servers end the body without `[DONE]`: fine once a finish reason came.
    if (decoder.finished) yield* decoder.decode("[DONE]");
    else throw new LlmuxError("upstream_error", `provider '${this.name}' ended the stream before finishing`);
  }

  private malformed(): LlmuxError {
    return new LlmuxError("upstream_error", `provider '${this.name}' sent a malformed stream chunk`);
  }

  /** The provider's models (`GET /v1/models`), to test a provider's URL and key. */
  listModels(options: { signal?: AbortSignal } = {}): Promise<ProviderModel[]> {
    return fetchProviderModels(this.config, "/models", this.headers(), options.signal);
  }

}
