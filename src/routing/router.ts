import type { ChatBackend } from "../core/chat.js";
import type { ModelRegistry } from "../engine/model-registry.js";

/** Where a request goes: the backend and the model name that backend knows it by. */
export interface RouteTarget {
  backend: ChatBackend;
  model: string;
}

/**
 * Chooses a backend for a model name. Today: local GGUF models only; routing
 * rules and providers slot in here without touching the HTTP layer.
 */
export class Router {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly local: ChatBackend,
  ) {}

  async resolve(model: string): Promise<RouteTarget> {
    const info = await this.registry.get(model); // throws model_not_found
    return { backend: this.local, model: info.id };
  }
}
