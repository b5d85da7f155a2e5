import type { FastifyInstance } from "fastify";
import type { ModelPool } from "../../engine/model-pool.js";
import type { ModelRegistry } from "../../engine/model-registry.js";
import { deleteLocalModel } from "../../engine/pool/delete-model.js";

/** `GET /api/models` (local models with their metadata and capabilities) and `DELETE /api/models/:id`. */
export function registerLocalModelRoutes(app: FastifyInstance, deps: { pool: ModelPool; registry: ModelRegistry }): void {
  app.get("/api/models", { config: { auth: "user" } }, async () => {
    await deps.registry.refresh();
    return {
      models: deps.registry.list().map((m) => ({
        id: m.id,
        architecture: m.architecture,
        parameters: m.parameterCount,
        quantization: m.quantization,
        context_length: m.contextLength,
        size_bytes: m.sizeBytes,
        capabilities: { tools: m.capabilities.tools, reasoning: m.capabilities.reasoning, embeddings: m.capabilities.embeddings },
        synthetic: m.synthetic,
        loaded: deps.pool.has(m.id),
      })),
    };
  });

  // An admin's API key too: `llmux rm` deletes through the running server from a terminal.
  app.delete<{ Params: { id: string } }>("/api/models/:id", { config: { auth: "admin", allowApiKey: true } }, async (request, reply) => {
    // The pool holds chat and embedding runners alike: unloading there ends either.
    await deleteLocalModel(deps.registry, deps.pool, request.params.id);
    return reply.code(204).send();
  });
}
