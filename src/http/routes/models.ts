import type { FastifyInstance, FastifyRequest } from "fastify";
import { statSync } from "node:fs";
import { anthropicModelPage, encodeAnthropicModel, type AnthropicPageQuery, type ListedModel } from "../../codecs/anthropic/models.js";
import { encodeOpenAIModel } from "../../codecs/openai/models.js";
import type { ModelRegistry } from "../../engine/model-registry.js";
import type { Router } from "../../routing/router.js";
import { fromAnthropicClient } from "../problem.js";

const createdOf = (path: string): number => {
  try {
    return Math.floor(statSync(path).mtimeMs / 1000);
  } catch {
    return 0;
  }
};

/** The one path serves both protocols' shapes, by who asks. */
const wantsAnthropic = (request: FastifyRequest): boolean => fromAnthropicClient(request.headers);

/** An entry of the OpenAI-shaped list as the protocol-neutral model the Anthropic codec writes. */
const listed = (m: Record<string, unknown>): ListedModel => {
  const { id, created, object: _object, ...extra } = m;
  return { id: id as string, created: created as number, extra };
};

/**
 * `GET /v1/models` and `GET /v1/models/{id}`, in OpenAI's shape, or in Anthropic's (paginated
 * with `limit`, `after_id`, `before_id`) when the request carries `anthropic-version`.
 */
export function registerModelRoutes(app: FastifyInstance, deps: { registry: ModelRegistry; router: Router }): void {
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
    const everything = await all();
    const data = allowed === null ? everything : everything.filter((m) => allowed.includes(m.id as string));
    if (wantsAnthropic(request)) return anthropicModelPage(data.map(listed), request.query as AnthropicPageQuery);
    return { object: "list", data };
  });

  app.get<{ Params: { id: string } }>("/v1/models/:id", { config: { auth: "inference" } }, async (request) => {
    const shape = (m: Record<string, unknown>) => (wantsAnthropic(request) ? encodeAnthropicModel(listed(m)) : m);
    const info = await deps.registry.get(request.params.id).catch(() => null);
    if (info) return shape(encodeOpenAIModel(info, createdOf(info.path)));
    const routed = (await all()).find((m) => m.id === request.params.id);
    if (routed) return shape(routed);
    // A name a prefix, glob or regex rule sends somewhere exists as far as a client can tell: chat with it works.
    const owner = deps.router.routedOwner(request.params.id);
    if (owner !== null) return shape({ id: request.params.id, object: "model", created: 0, owned_by: owner });
    return deps.registry.get(request.params.id); // throws model_not_found
  });
}
