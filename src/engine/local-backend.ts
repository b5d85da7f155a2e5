import type { ChatBackend, ChatEvent, ChatRequest, StreamOptions } from "../core/chat.js";
import { LlmuxError } from "../errors/llmux-error.js";
import type { ModelInfo } from "./gguf/model-info.js";
import type { ModelPool } from "./model-pool.js";
import type { ModelRegistry } from "./model-registry.js";
import { renderChatPrompt } from "./prompt/chat-template.js";

/**
 * The embedded llama.cpp engine as a {@link ChatBackend}: renders the prompt with
 * the model's template, runs it on the model's runner, and maps runner messages
 * to canonical events.
 */
export class LocalBackend implements ChatBackend {
  readonly name = "local";

  constructor(
    private readonly registry: ModelRegistry,
    private readonly pool: ModelPool,
  ) {}

  async *stream(request: ChatRequest, { signal }: StreamOptions): AsyncIterable<ChatEvent> {
    const { info, prompt } = await this.prepare(request);
    const loaded = await this.pool.acquire(info);
    if (signal.aborted) return;
    const events = loaded.runner.generate(
      { prompt, maxTokens: request.maxTokens, stop: request.stop, sampling: request.sampling },
      signal,
    );
    for await (const ev of events) {
      // "start" waits for the runner to accept the prompt, so a prompt too long for the
      // context is still an HTTP error rather than an in-band one.
      if (ev.t === "started") yield { type: "start", model: info.id };
      else if (ev.t === "text") yield { type: "text", text: ev.text };
      else if (ev.t === "done") {
        yield { type: "usage", usage: { promptTokens: ev.promptTokens, completionTokens: ev.completionTokens } };
        yield { type: "finish", reason: ev.finish, stopSequence: ev.stopSequence };
      }
    }
  }

  async countTokens(request: ChatRequest): Promise<number> {
    const { info, prompt } = await this.prepare(request);
    const loaded = await this.pool.acquire(info);
    return loaded.runner.tokenize(prompt);
  }

  /** Checks what this engine can serve and renders the prompt with the model's template. */
  private async prepare(request: ChatRequest): Promise<{ info: ModelInfo; prompt: string }> {
    const info = await this.registry.get(request.model);
    if (info.capabilities.embeddings && !info.capabilities.chat) {
      throw new LlmuxError("validation_failed", `model '${info.id}' is an embedding model; it cannot generate text`, { param: "model" });
    }
    if (request.messages.some((m) => m.content.some((p) => p.type === "image"))) {
      throw new LlmuxError("unsupported_parameter", `model '${info.id}' cannot see images; send text only`, {
        param: "messages",
      });
    }
    if (request.tools?.length || (request.toolChoice && request.toolChoice.type !== "none")) {
      throw new LlmuxError("unsupported_parameter", "tool calling on local models is not available yet", { param: "tools" });
    }
    return { info, prompt: request.prompt ?? renderChatPrompt(info.chatTemplate, request) };
  }
}
