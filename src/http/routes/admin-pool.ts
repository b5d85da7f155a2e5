import { availableParallelism } from "node:os";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { parseBody } from "../../codecs/validation.js";
import type { ModelInfo } from "../../engine/gguf/model-info.js";
import { defaultKind, type ModelPool, type PoolModelKind } from "../../engine/model-pool.js";
import { isValidModelId, type ModelRegistry } from "../../engine/model-registry.js";
import { LlmuxError } from "../../errors/llmux-error.js";
import { renderProblem } from "../../errors/render.js";
import { toLlmuxError } from "../problem.js";
import { SseWriter } from "../sse.js";
import type { ModelSettingsRepository } from "../../store/model-settings-repo.js";

const pinBody = z.strictObject({ pinned: z.boolean() });

const modelSettingsBody = z.strictObject({
  context_size: z.number().int().min(64).max(1_048_576).optional(),
  parallel: z.number().int().min(1).max(64).optional(),
  // More llama.cpp threads than CPUs stalls the model and everything else on the machine.
  threads: z.number().int().min(1).max(Math.max(1, availableParallelism())).optional(),
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
  // The pool's run-time operations (status, load, unload: what `llmux ps` and scripts drive) also
  // take an admin's API key, as a terminal has no session. What is stored (settings, pins) needs one.
  const adminOrKey = { config: { auth: "admin" as const, allowApiKey: true } };
  const { pool, registry } = deps;

  const settingsView = () => {
    const s = pool.settings.current;
    return { budget: s.budget, budget_bytes: pool.settings.budgetBytes, max_models: s.maxModels, keep_alive_s: s.keepAliveS, pinned: s.pinned };
  };

  /**
   * A model by id (404 when unknown) and the kind of runner to load it as: `?kind=chat|embedding`,
   * else an embedding-only model as `embedding` and any other as `chat`.
   */
  const modelAndKind = async (id: string, kind: string | undefined): Promise<{ info: ModelInfo; kind: PoolModelKind }> => {
    if (kind !== undefined && kind !== "chat" && kind !== "embedding") throw invalid("kind", "must be 'chat' or 'embedding'");
    const info = await registry.get(id);
    if (kind === "embedding" && !info.capabilities.embeddings) throw invalid("kind", `model '${id}' cannot produce embeddings`);
    if (kind === "chat" && !info.capabilities.chat && info.capabilities.embeddings) throw invalid("kind", `model '${id}' is an embedding model; it cannot generate text`);
    return { info, kind: kind ?? defaultKind(info) };
  };

  app.get("/admin/pool", adminOrKey, async () => pool.status());

  app.get("/admin/pool/settings", admin, async () => settingsView());

  app.put("/admin/pool/settings", admin, async (request) => {
    const body = request.body as Record<string, unknown> | null;
    if (!body || typeof body !== "object" || Array.isArray(body)) throw new LlmuxError("validation_failed", "the request body must be a JSON object", { param: "(body)" });
    const unknown = Object.keys(body).filter((k) => !["budget", "max_models", "keep_alive_s", "pinned"].includes(k));
    if (unknown.length > 0) throw new LlmuxError("validation_failed", `invalid '${unknown[0]}': unknown parameter`, { param: unknown[0], fieldErrors: unknown.map((field) => ({ field, message: "unknown parameter" })) });
    if (Array.isArray(body.pinned)) {
      // A pin names a model that is here: one that is not would only be a warning at every start.
      await registry.refresh();
      const missing = body.pinned.flatMap((p, i) => (typeof p === "string" && isValidModelId(p) && !registry.has(p) && !pool.settings.current.pinned.includes(p) ? [{ field: `pinned.${i}`, message: `no local model '${p.slice(0, 64)}'` }] : []));
      if (missing.length > 0) throw new LlmuxError("validation_failed", `invalid '${missing[0]!.field}': ${missing[0]!.message}`, { param: missing[0]!.field, fieldErrors: missing });
    }
    await pool.settings.update(body);
    return settingsView();
  });

  // With `Accept: text/event-stream` the load streams its progress (`state` events, then `error` on failure).
  app.post<{ Params: { id: string }; Querystring: { kind?: string } }>("/admin/pool/models/:id/load", adminOrKey, async (request, reply) => {
    const { info, kind } = await modelAndKind(request.params.id, request.query.kind);
    if (wantsEventStream(request.headers.accept)) return streamLoad(request, reply, info, kind);
    await pool.ensureLoaded(info, kind);
    return { model: await pool.describeModel(info.id, kind) };
  });

  app.post<{ Params: { id: string }; Querystring: { force?: string; kind?: string } }>("/admin/pool/models/:id/unload", adminOrKey, async (request, reply) => {
    const { id } = request.params;
    const { kind } = request.query;
    if (kind !== undefined && kind !== "chat" && kind !== "embedding") throw invalid("kind", "must be 'chat' or 'embedding'");
    if (!pool.has(id)) await registry.get(id); // 404 for a model that does not exist; unloading one not loaded is a no-op
    await pool.unload(id, { force: request.query.force === "true", kind });
    return reply.code(204).send();
  });

  app.put<{ Params: { id: string } }>("/admin/pool/models/:id/pin", admin, async (request) => {
    const { pinned } = parseBody(pinBody, request.body);
    const { info, kind } = await modelAndKind(request.params.id, undefined);
    await pool.pin(info, pinned);
    return { model: (await pool.describeModel(info.id, kind)) ?? null };
  });

  /**
   * Streams one load: a `state` event now (`loading`, or `ready` when it already is), one each
   * time the pool's row changes state, then `ready` with the row, or an `error` event carrying
   * the problem (`pool_exhausted`, `model_load_failed`, …). A comment every few seconds keeps
   * proxies from closing a long load. A client that goes away does not cancel the load.
   */
  const streamLoad = async (request: FastifyRequest, reply: FastifyReply, info: ModelInfo, kind: PoolModelKind): Promise<void> => {
    const sse = new SseWriter(request, reply);
    const state = (st: string, model: unknown) => sse.write(`event: state\ndata: ${JSON.stringify({ id: info.id, kind, state: st, model })}\n\n`);
    let last = "";
    const report = async () => {
      const row = (await pool.describeModel(info.id, kind)) ?? null;
      const st = row?.state ?? "loading"; // not in the pool yet: waiting for room (evicting others)
      if (st !== last && st !== "ready") {
        last = st;
        await state(st, row);
      }
    };
    const loaded = pool.ensureLoaded(info, kind);
    let done = false;
    void loaded.finally(() => (done = true)).catch(() => {});
    try {
      await report();
      let beats = 0;
      while (!done && !sse.closed) {
        await Promise.race([loaded.catch(() => {}), new Promise((r) => setTimeout(r, 200).unref())]);
        if (done) break;
        await report();
        if (++beats % 15 === 0) await sse.write(": loading\n\n");
      }
      await loaded;
      await state("ready", (await pool.describeModel(info.id, kind)) ?? null);
    } catch (err) {
      const problem = renderProblem(toLlmuxError(err), { requestId: request.id, instance: request.url.split("?")[0], surface: "plain" });
      await sse.write(`event: error\ndata: ${JSON.stringify(problem)}\n\n`);
    } finally {
      sse.end();
    }
  };

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

const invalid = (field: string, message: string): LlmuxError =>
  new LlmuxError("validation_failed", `invalid '${field}': ${message}`, { param: field, fieldErrors: [{ field, message }] });

/** Whether the client asked for an event stream (`Accept: text/event-stream`, alone or among others). */
function wantsEventStream(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((part) => part.split(";")[0].trim().toLowerCase() === "text/event-stream");
}
