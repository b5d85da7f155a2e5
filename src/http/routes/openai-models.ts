import type { FastifyInstance } from "fastify";
import { statSync } from "node:fs";
import { encodeOpenAIModel } from "../../codecs/openai/models.js";
import type { ModelRegistry } from "../../engine/model-registry.js";
import type { Router } from "../../routing/router.js";

const createdOf = (path: string): number => {
  try {
    return Math.floor(statSync(path).mtimeMs / 1000);
  } catch {
    return 0;
  }
};

/** `GET /v1/models` and `GET /v1/models/{id}`. */
export function registerOpenAIModelRoutes(app: FastifyInstance, deps: { registry: ModelRegistry; router: Router }): void {
  /** Local models (`owned_by: "llmux"`), then the names routing rules make reachable (`owned_by`: the provider). */
  const all = async (): Promise<Record<string, unknown>[]> => {
    await deps.registry.refresh();
    const local = deps.registry.list().map((m) => encodeOpenAIModel(m, createdOf(m.path)));
    const seen = new Set(local.map((m) => m.id as string));
    const routed = (await deps.router.reachableModels())
      .filter((m) => !seen.has(m.id))
      .map((m) => ({ id: m.id, object: "model", created: 0, owned_by: m.ownedBy }));
    return [...local, ...routed];
  };

  app.get("/v1/models", { config: { auth: "inference" } }, async (request) => {
    // A key limited to some models lists only those: it may not use the others (403).
    const allowed = request.principal?.apiKey?.allowed_models ?? null;
    const data = await all();
    return { object: "list", data: allowed === null ? data : data.filter((m) => allowed.includes(m.id as string)) };
  });

  app.get<{ Params: { id: string } }>("/v1/models/:id", { config: { auth: "inference" } }, async (request) => {
    const info = await deps.registry.get(request.params.id).catch(() => null);
    if (info) return encodeOpenAIModel(info, createdOf(info.path));
    const routed = (await all()).find((m) => m.id === request.params.id);
    if (routed) return routed;
    return deps.registry.get(request.params.id); // throws model_not_found
  });
}
