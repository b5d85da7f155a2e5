import type { FastifyInstance } from "fastify";
import { LlmuxError, isLlmuxError } from "../../errors/llmux-error.js";
import type { ProviderKind } from "../../providers/provider-config.js";
import { build, type ProviderSet } from "../../routing/provider-set.js";
import type { ProviderInput, ProviderPatch, ProviderRecord, ProvidersRepository } from "../../store/providers-repo.js";

/** A provider as the API shows it: never the key, never header values. */
function render(p: ProviderRecord): Record<string, unknown> {
  return {
    id: p.id,
    name: p.name,
    kind: p.kind,
    base_url: p.baseUrl,
    has_api_key: p.hasApiKey,
    header_names: Object.keys(p.headers),
    timeout_ms: p.timeoutMs,
    models: p.models,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  };
}

/** API field names (snake_case) for the repository's camelCase ones, in validation errors. */
const API_FIELD: Record<string, string> = { baseUrl: "base_url", apiKey: "api_key", timeoutMs: "timeout_ms" };

function renameFields(err: unknown): unknown {
  if (!isLlmuxError(err) || err.code !== "validation_failed") return err;
  const map = (f: string) => API_FIELD[f] ?? f;
  const fieldErrors = err.fieldErrors?.map((e) => ({ field: map(e.field), message: e.message }));
  let detail = err.detail;
  for (const [from, to] of Object.entries(API_FIELD)) detail = detail.replaceAll(`'${from}'`, `'${to}'`).replaceAll(`${from}`, to);
  return new LlmuxError("validation_failed", detail, { param: err.param ? map(err.param) : undefined, fieldErrors });
}

function objectBody(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new LlmuxError("validation_failed", "the request body must be a JSON object", { fieldErrors: [{ field: "(body)", message: "expected a JSON object" }] });
  }
  return body as Record<string, unknown>;
}

const KNOWN = new Set(["name", "kind", "base_url", "api_key", "headers", "timeout_ms", "models"]);

function unknownFields(b: Record<string, unknown>): void {
  const extra = Object.keys(b).filter((k) => !KNOWN.has(k));
  if (extra.length > 0) {
    const field = extra[0]!;
    throw new LlmuxError("validation_failed", `invalid '${field}': unknown field (expected ${[...KNOWN].join(", ")})`, {
      param: field,
      fieldErrors: extra.map((f) => ({ field: f, message: "unknown field" })),
    });
  }
}

function toPatch(b: Record<string, unknown>): ProviderPatch {
  const patch: ProviderPatch = {};
  if ("kind" in b) patch.kind = b.kind as ProviderKind;
  if ("base_url" in b) patch.baseUrl = b.base_url as string;
  if ("api_key" in b) patch.apiKey = b.api_key as string | null;
  if ("headers" in b) patch.headers = b.headers as Record<string, string>;
  if ("timeout_ms" in b) patch.timeoutMs = b.timeout_ms as number;
  if ("models" in b) patch.models = b.models as string[] | null;
  return patch;
}

const notFound = (id: string) => new LlmuxError("route_not_found", `no provider with id or name '${id.slice(0, 64)}'`);

/**
 * Providers admin API (`/admin/providers`): create, list, update, delete and test. Keys are
 * sealed by the repository and never returned; every change rebuilds the provider backends,
 * so the next request uses it.
 */
export function registerAdminProviderRoutes(app: FastifyInstance, deps: { providersRepo: ProvidersRepository; providers: ProviderSet }): void {
  const admin = { config: { auth: "admin" as const } };
  const byIdOrName = async (id: string): Promise<ProviderRecord> => {
    const list = await deps.providersRepo.list();
    const p = list.find((r) => r.id === id) ?? list.find((r) => r.name === id);
    if (!p) throw notFound(id);
    return p;
  };

  app.get("/admin/providers", admin, async () => ({ providers: (await deps.providersRepo.list()).map(render) }));

  app.post("/admin/providers", admin, async (request, reply) => {
    const b = objectBody(request.body);
    unknownFields(b);
    const input = { name: b.name, ...toPatch(b) } as ProviderInput;
    let rec: ProviderRecord;
    try {
      rec = await deps.providersRepo.create(input);
    } catch (err) {
      throw renameFields(err);
    }
    await deps.providers.reload();
    return reply.code(201).send({ provider: render(rec) });
  });

  app.patch<{ Params: { id: string } }>("/admin/providers/:id", admin, async (request) => {
    const b = objectBody(request.body);
    unknownFields(b);
    if ("name" in b) throw new LlmuxError("validation_failed", "invalid 'name': a provider's name cannot change (rules refer to it)", { param: "name" });
    const current = await byIdOrName(request.params.id);
    let rec: ProviderRecord | undefined;
    try {
      rec = await deps.providersRepo.update(current.name, toPatch(b));
    } catch (err) {
      throw renameFields(err);
    }
    if (!rec) throw notFound(request.params.id);
    await deps.providers.reload();
    return { provider: render(rec) };
  });

  app.delete<{ Params: { id: string } }>("/admin/providers/:id", admin, async (request, reply) => {
    const current = await byIdOrName(request.params.id);
    await deps.providersRepo.delete(current.name);
    await deps.providers.reload();
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string } }>("/admin/providers/:id/test", admin, async (request) => {
    const current = await byIdOrName(request.params.id);
    const config = await deps.providersRepo.getWithSecret(current.name);
    if (!config) throw notFound(request.params.id);
    // A short-lived backend: testing never disturbs the serving pools.
    const entry = build({ ...config, timeoutMs: Math.min(config.timeoutMs, 10_000) });
    const t0 = performance.now();
    try {
      const models = await entry.backend.listModels();
      return { ok: true, latency_ms: Math.round(performance.now() - t0), models: models.map((m) => m.id) };
    } catch (err) {
      const status = isLlmuxError(err) && typeof err.extra?.upstream_status === "number" ? err.extra.upstream_status : undefined;
      const message = isLlmuxError(err) ? explainFailure(err, status) : "the provider could not be reached";
      return { ok: false, ...(status !== undefined ? { status } : {}), message };
    } finally {
      void entry.pool.close().catch(() => undefined);
    }
  });
}

/** A clear, key-free message for a failed provider test. */
function explainFailure(err: LlmuxError, status: number | undefined): string {
  if (status === 401 || status === 403) return `${err.detail} (HTTP ${status}: the API key is missing, wrong or lacks access)`;
  if (/ECONNREFUSED/.test(err.detail)) return `${err.detail}: connection refused — is the base URL right and the server running?`;
  if (/did not answer within/.test(err.detail)) return `${err.detail}: timed out — the server accepted the connection but did not answer`;
  return err.detail;
}
