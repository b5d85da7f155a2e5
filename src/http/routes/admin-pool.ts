import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { parseBody } from "../../codecs/validation.js";
import type { ModelInfo } from "../../engine/gguf/model-info.js";
import type { ModelPool } from "../../engine/model-pool.js";
import type { ModelRegistry } from "../../engine/model-registry.js";
import { LlmuxError } from "../../errors/llmux-error.js";
import type { ModelSettingsRepository } from "../../store/model-settings-repo.js";

const pinBody = z.strictObject({ pinned: z.boolean() });

const modelSettingsBody = z.strictObject({
  context_size: z.number().int().min(64).max(1_048_576).optional(),
  parallel: z.number().int().min(1).max(64).optional(),
  threads: z.number().int().min(1).max(1024).optional(),
  gpu_layers: z.number().int().min(0).max(10_000).optional(),
  sampling: z
    .strictObject({
      temperature: z.number().min(0).max(2).optional(),
      top_p: z.number().min(0).max(1).optional(),
      top_k: z.number().int().min(0).max(100_000).optional(),
      min_p: z.number().min(0).max(1).optional(),
      repeat_penalty: z.number().min(0).max(10).optional(),
    })
    .optional(),
  system_prompt: z.string().max(32_768).optional(),
});

export interface PoolRouteDeps {
  pool: ModelPool;
  registry: ModelRegistry;
  modelSettings: ModelSettingsRepository;
}

/**
 * The pool admin API: status, limits, load / unload / pin, and each model's own settings.
 * Routes only translate HTTP; the pool decides (and says why when a model cannot fit).
 */
export function registerAdminPoolRoutes(app: FastifyInstance, deps: PoolRouteDeps): void {
  const admin = { config: { auth: "admin" as const } };
  // What the CLI needs (`llmux ps`, `llmux rm`) also takes an admin's API key: a terminal has no session.
  const adminOrKey = { config: { auth: "admin" as const, allowApiKey: true } };
  const { pool, registry } = deps;

  const settingsView = () => {
    const s = pool.settings.current;
    return { budget: s.budget, budget_bytes: pool.settings.budgetBytes, max_models: s.maxModels, keep_alive_s: s.keepAliveS, pinned: s.pinned };
  };

  /** A chat model by id: 404 when unknown, 400 for an embedding model (served by /v1/embeddings, outside the pool). */
  const chatModel = async (id: string): Promise<ModelInfo> => {
    const info = await registry.get(id);
    if (info.capabilities.embeddings && !info.capabilities.chat) {
      const message = `model '${id}' is an embedding model; the pool holds chat models`;
      throw new LlmuxError("validation_failed", message, { param: "id", fieldErrors: [{ field: "id", message }] });
    }
    return info;
  };

  app.get("/admin/pool", adminOrKey, async () => pool.status());

  app.get("/admin/pool/settings", admin, async () => settingsView());

  app.put("/admin/pool/settings", admin, async (request) => {
    const body = request.body as Record<string, unknown> | null;
    if (!body || typeof body !== "object" || Array.isArray(body)) throw new LlmuxError("validation_failed", "the request body must be a JSON object", { param: "(body)" });
    const unknown = Object.keys(body).filter((k) => !["budget", "max_models", "keep_alive_s", "pinned"].includes(k));
    if (unknown.length > 0) throw new LlmuxError("validation_failed", `invalid '${unknown[0]}': unknown parameter`, { param: unknown[0], fieldErrors: unknown.map((field) => ({ field, message: "unknown parameter" })) });
    await pool.settings.update(body);
    return settingsView();
  });

  app.post<{ Params: { id: string } }>("/admin/pool/models/:id/load", admin, async (request) => {
    const info = await chatModel(request.params.id);
    await pool.ensureLoaded(info);
    return { model: await pool.describeModel(info.id) };
  });

  app.post<{ Params: { id: string }; Querystring: { force?: string } }>("/admin/pool/models/:id/unload", adminOrKey, async (request, reply) => {
    const { id } = request.params;
    if (!pool.has(id)) await registry.get(id); // 404 for a model that does not exist; unloading one not loaded is a no-op
    await pool.unload(id, { force: request.query.force === "true" });
    return reply.code(204).send();
  });

  app.put<{ Params: { id: string } }>("/admin/pool/models/:id/pin", admin, async (request) => {
    const { pinned } = parseBody(pinBody, request.body);
    const info = await chatModel(request.params.id);
    await pool.pin(info, pinned);
    return { model: (await pool.describeModel(info.id)) ?? null };
  });

  app.get<{ Params: { id: string } }>("/admin/models/:id/settings", admin, async (request) => {
    const info = await registry.get(request.params.id);
    return deps.modelSettings.get(info.id);
  });

  app.put<{ Params: { id: string } }>("/admin/models/:id/settings", admin, async (request) => {
    const body = parseBody(modelSettingsBody, request.body);
    const info = await registry.get(request.params.id);
    return deps.modelSettings.put(info.id, body);
  });
}
