import type { FastifyInstance } from "fastify";
import { statSync } from "node:fs";
import { encodeOpenAIModel } from "../../codecs/openai/models.js";
import type { ModelRegistry } from "../../engine/model-registry.js";

const createdOf = (path: string): number => {
  try {
    return Math.floor(statSync(path).mtimeMs / 1000);
  } catch {
    return 0;
  }
};

/** `GET /v1/models` and `GET /v1/models/{id}`. */
export function registerOpenAIModelRoutes(app: FastifyInstance, deps: { registry: ModelRegistry }): void {
  app.get("/v1/models", { config: { auth: "inference" } }, async () => {
    await deps.registry.refresh();
    return { object: "list", data: deps.registry.list().map((m) => encodeOpenAIModel(m, createdOf(m.path))) };
  });

  app.get<{ Params: { id: string } }>("/v1/models/:id", { config: { auth: "inference" } }, async (request) => {
    const info = await deps.registry.get(request.params.id);
    return encodeOpenAIModel(info, createdOf(info.path));
  });
}
