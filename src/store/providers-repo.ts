import { randomUUID } from "node:crypto";
import { LlmuxError, type FieldError } from "../errors/llmux-error.js";
import type { ProviderConfig, ProviderKind } from "../providers/provider-config.js";
import { SecretBoxError, type SecretBox } from "../security/secret-box.js";
import type { Db } from "./db.js";
import type { ProvidersTable } from "./schema.js";

export const PROVIDER_KINDS: readonly ProviderKind[] = ["openai", "openai-compatible", "anthropic", "anthropic-compatible"];
const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** HTTP header field name (RFC 9110 token). */
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Credentials belong in `apiKey`, which is sealed; headers are stored in clear. */
const CREDENTIAL_HEADERS = new Set(["authorization", "proxy-authorization", "x-api-key"]);
/**
 * Headers that frame the request or the connection, which the HTTP client sets itself:
 * a configured `content-length` made every translated request wait for a body that never came.
 */
const FRAMING_HEADERS = new Set(["host", "content-length", "content-type", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"]);
/** The routing target name of the embedded engine: no provider may take it. */
const RESERVED_NAMES = new Set(["local"]);
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const DEFAULT_PROVIDER_TIMEOUT_MS = 600_000;
const MIN_TIMEOUT_MS = 1_000;
const MAX_TIMEOUT_MS = 3_600_000;

/** What a caller gives to create a provider. */
export interface ProviderInput {
  name: string;
  kind: ProviderKind;
  baseUrl: string;
  /** Sealed before it is stored; never returned by `get`/`list`. */
  apiKey?: string | null;
  headers?: Record<string, string>;
  /** 1,000–3,600,000 (1 s – 1 h); default {@link DEFAULT_PROVIDER_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Model ids served by this provider; null/absent: discover them. */
  models?: string[] | null;
}

/** A change to a provider; absent fields are kept. `apiKey: null` removes the key. The name cannot change. */
export type ProviderPatch = Partial<Omit<ProviderInput, "name">>;

/** A provider as shown to admins and the API: never the key, only whether one is set. */
export interface ProviderRecord {
  id: string;
  name: string;
  kind: ProviderKind;
  baseUrl: string;
  hasApiKey: boolean;
  headers: Record<string, string>;
  timeoutMs: number;
  models: string[] | null;
  createdAt: number;
  updatedAt: number;
}

/** For the backend only: the provider's config with its decrypted key. */
export interface ProviderWithSecret extends ProviderConfig {
  models: string[] | null;
}

/**
 * Cloud providers stored in the database, with API keys sealed by a {@link SecretBox}
 * (AES-256-GCM, bound to the row's id). Reads return {@link ProviderRecord}s without the key;
 * only {@link ProvidersRepository.getWithSecret} decrypts, for building a backend.
 * Bad input throws `validation_failed` naming each field; a duplicate name also throws
 * `validation_failed` with param `name` (the error registry has no conflict code).
 */
export class ProvidersRepository {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  async create(input: ProviderInput): Promise<ProviderRecord> {
    const v = validate(input, true);
    if (await this.findRow(v.name)) throw duplicateName(v.name);
    const id = randomUUID();
    const now = Date.now();
    const row: ProvidersTable = {
      id,
      name: v.name,
      kind: v.kind,
      base_url: v.baseUrl,
      api_key_sealed: v.apiKey ? this.box.seal(v.apiKey, id) : null,
      headers_json: JSON.stringify(v.headers),
      timeout_ms: v.timeoutMs,
      models_json: v.models === null ? null : JSON.stringify(v.models),
      created_at: now,
      updated_at: now,
    };
    try {
      await this.db.insertInto("providers").values(row).execute();
    } catch (err) {
      // Another writer took the name between the check and the insert.
      if (isUniqueViolation(err)) throw duplicateName(v.name);
      throw err;
    }
    return toRecord(row);
  }

  /** Applies `patch`; undefined when no provider has that name. */
  async update(name: string, patch: ProviderPatch): Promise<ProviderRecord | undefined> {
    const row = await this.findRow(name);
    if (!row) return undefined;
    const current = toRecord(row);
    const merged: ProviderInput = {
      name: current.name,
      kind: patch.kind ?? current.kind,
      baseUrl: patch.baseUrl ?? current.baseUrl,
      headers: patch.headers ?? current.headers,
      timeoutMs: patch.timeoutMs ?? current.timeoutMs,
      models: patch.models === undefined ? current.models : patch.models,
      apiKey: patch.apiKey,
    };
    const v = validate(merged, false);
    const sealed =
      patch.apiKey === undefined ? row.api_key_sealed : patch.apiKey === null ? null : this.box.seal(patch.apiKey, row.id);
    const next: ProvidersTable = {
      ...row,
      kind: v.kind,
      base_url: v.baseUrl,
      api_key_sealed: sealed,
      headers_json: JSON.stringify(v.headers),
      timeout_ms: v.timeoutMs,
      models_json: v.models === null ? null : JSON.stringify(v.models),
      updated_at: Math.max(Date.now(), row.updated_at),
    };
    await this.db
      .updateTable("providers")
      .set({
        kind: next.kind,
        base_url: next.base_url,
        api_key_sealed: next.api_key_sealed,
        headers_json: next.headers_json,
        timeout_ms: next.timeout_ms,
        models_json: next.models_json,
        updated_at: next.updated_at,
      })
      .where("id", "=", row.id)
      .execute();
    return toRecord(next);
  }

  /** True when a provider was deleted. */
  async delete(name: string): Promise<boolean> {
    const res = await this.db.deleteFrom("providers").where("name", "=", name).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async get(name: string): Promise<ProviderRecord | undefined> {
    const row = await this.findRow(name);
    return row ? toRecord(row) : undefined;
  }

  /** All providers, by name. */
  async list(): Promise<ProviderRecord[]> {
    const rows = await this.db.selectFrom("providers").selectAll().orderBy("name").execute();
    return rows.map(toRecord);
  }

  /**
   * The provider's config with its key decrypted, for the backend only: never render it.
   * Throws `internal` (without the key) when the key no longer opens (secret changed or tampered).
   */
  async getWithSecret(name: string): Promise<ProviderWithSecret | undefined> {
    const row = await this.findRow(name);
    if (!row) return undefined;
    const rec = toRecord(row);
    let apiKey: string | undefined;
    if (row.api_key_sealed !== null) {
      try {
        apiKey = this.box.open(row.api_key_sealed, row.id);
      } catch (err) {
        if (!(err instanceof SecretBoxError)) throw err;
        throw new LlmuxError("internal", `the API key of provider '${rec.name}' cannot be decrypted: ${err.message}`, { cause: err });
      }
    }
    return {
      name: rec.name,
      kind: rec.kind,
      baseUrl: rec.baseUrl,
      ...(apiKey !== undefined ? { apiKey } : {}),
      headers: rec.headers,
      timeoutMs: rec.timeoutMs,
      models: rec.models,
    };
  }

  private findRow(name: string): Promise<ProvidersTable | undefined> {
    return this.db.selectFrom("providers").selectAll().where("name", "=", name).executeTakeFirst();
  }
}

function toRecord(row: ProvidersTable): ProviderRecord {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as ProviderKind,
    baseUrl: row.base_url,
    hasApiKey: row.api_key_sealed !== null,
    headers: JSON.parse(row.headers_json) as Record<string, string>,
    timeoutMs: Number(row.timeout_ms),
    models: row.models_json === null ? null : (JSON.parse(row.models_json) as string[]),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

interface Valid {
  name: string;
  kind: ProviderKind;
  baseUrl: string;
  apiKey: string | null | undefined;
  headers: Record<string, string>;
  timeoutMs: number;
  models: string[] | null;
}

/** Checks every field and throws one `validation_failed` listing all bad fields. Messages never echo the key. */
function validate(input: ProviderInput, checkName: boolean): Valid {
  const errors: FieldError[] = [];
  const bad = (field: string, message: string) => errors.push({ field, message });
  const raw = (input ?? {}) as unknown as Record<string, unknown>;

  if (checkName && (typeof raw.name !== "string" || !NAME_RE.test(raw.name))) {
    bad("name", "must match [a-z0-9][a-z0-9_-]{0,63} (lowercase letters, digits, '_' and '-', 1-64 characters)");
  }
  else if (checkName && RESERVED_NAMES.has(raw.name as string)) bad("name", `'${raw.name as string}' names the embedded engine in routing rules; choose another name`);
  // The admin API finds a provider by id or by name: a name shaped like an id could shadow another provider.
  else if (checkName && UUID_RE.test(raw.name as string)) bad("name", "is shaped like a provider id (a UUID), which the admin API would read as one; choose another name");
  if (typeof raw.kind !== "string" || !PROVIDER_KINDS.includes(raw.kind as ProviderKind)) {
    bad("kind", `must be one of ${PROVIDER_KINDS.join(", ")}`);
  }
  if (typeof raw.baseUrl !== "string") bad("baseUrl", "must be an http(s) URL");
  else {
    let url: URL | undefined;
    try {
      url = new URL(raw.baseUrl);
    } catch {
      bad("baseUrl", "must be an absolute http(s) URL");
    }
    if (url && url.protocol !== "http:" && url.protocol !== "https:") bad("baseUrl", "must use http or https");
    else if (url && (url.username || url.password)) bad("baseUrl", "must not hold credentials; put the key in apiKey");
    else if (url && (url.search || url.hash)) bad("baseUrl", "must not have a query or fragment");
  }
  const apiKey = raw.apiKey;
  if (apiKey !== undefined && apiKey !== null) {
    if (typeof apiKey !== "string" || apiKey.length === 0 || apiKey.length > 4096 || /[\s\u0000-\u001f\u007f]/.test(apiKey)) {
      bad("apiKey", "must be a non-empty string of at most 4096 characters without whitespace or control characters");
    }
  }
  const headers = raw.headers ?? {};
  if (typeof headers !== "object" || headers === null || Array.isArray(headers)) bad("headers", "must be an object of string to string");
  else {
    for (const [k, val] of Object.entries(headers)) {
      const field = `headers.${k}`;
      if (!HEADER_NAME_RE.test(k)) bad(field, "is not a valid HTTP header name");
      else if (CREDENTIAL_HEADERS.has(k.toLowerCase())) bad(field, "credentials are not allowed in headers; set apiKey, which is stored encrypted");
      else if (FRAMING_HEADERS.has(k.toLowerCase())) bad(field, "is set by llmux's HTTP client for each request and cannot be configured");
      else if (typeof val !== "string" || /[\r\n\u0000]/.test(val)) bad(field, "must be a string without CR, LF or NUL");
    }
  }
  const timeoutMs = raw.timeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS;
  if (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < MIN_TIMEOUT_MS || timeoutMs > MAX_TIMEOUT_MS) {
    bad("timeoutMs", `must be an integer number of milliseconds from ${MIN_TIMEOUT_MS} to ${MAX_TIMEOUT_MS} (1 s to 1 h)`);
  }
  const models = raw.models ?? null;
  if (models !== null) {
    if (!Array.isArray(models)) bad("models", "must be a list of model ids or null");
    else {
      models.forEach((m, i) => {
        if (typeof m !== "string" || m.length === 0 || m.length > 256) bad(`models.${i}`, "must be a non-empty string of at most 256 characters");
      });
      if (new Set(models).size !== models.length) bad("models", "must not list a model twice");
    }
  }

  if (errors.length > 0) {
    const first = errors[0] as FieldError;
    const detail = errors.length === 1 ? `invalid '${first.field}': ${first.message}` : `invalid provider: ${errors.map((e) => e.field).join(", ")}`;
    throw new LlmuxError("validation_failed", detail, { param: first.field, fieldErrors: errors });
  }
  return {
    name: raw.name as string,
    kind: raw.kind as ProviderKind,
    baseUrl: raw.baseUrl as string,
    apiKey: apiKey as string | null | undefined,
    headers: { ...(headers as Record<string, string>) },
    timeoutMs: timeoutMs as number,
    models: models === null ? null : [...(models as string[])],
  };
}

function duplicateName(name: string): LlmuxError {
  return new LlmuxError("validation_failed", `a provider named '${name}' already exists`, {
    param: "name",
    fieldErrors: [{ field: "name", message: "already exists" }],
  });
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return (
    e?.code === "SQLITE_CONSTRAINT_UNIQUE" || e?.code === "23505" || (typeof e?.message === "string" && /UNIQUE constraint failed/i.test(e.message))
  );
}
