import { createHash, randomBytes } from "node:crypto";
import type { Db } from "./db.js";
import type { ApiKeysTable } from "./schema.js";

/** Every llmux API key starts with this, so a key is recognisable (and scannable) when leaked. */
export const API_KEY_PREFIX = "llmux-sk-";
const VISIBLE_CHARS = 8;

/** An API key as the API shows it (CONTRACTS.md): never the secret nor its hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  created_at: number;
  expires_at: number | null;
  allowed_models: string[] | null;
  rpm: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

/** A stored key with its owner, for the request path. */
export interface ApiKeyRecord extends ApiKeyView {
  userId: string;
}

export interface NewApiKey {
  name: string;
  expiresAt?: number | null;
  allowedModels?: string[] | null;
  rpm?: number | null;
}

/** Keys are 32 random bytes: sha256 is enough (no guessing to slow down), and lets the lookup be one indexed equality. */
export const hashApiKey = (secret: string): string => createHash("sha256").update(secret, "utf8").digest("hex");

const toRecord = (r: ApiKeysTable): ApiKeyRecord => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  prefix: r.prefix,
  created_at: Number(r.created_at),
  expires_at: r.expires_at === null ? null : Number(r.expires_at),
  allowed_models: r.allowed_models_json === null ? null : (JSON.parse(r.allowed_models_json) as string[]),
  rpm: r.rpm === null ? null : Number(r.rpm),
  revoked_at: r.revoked_at === null ? null : Number(r.revoked_at),
  last_used_at: r.last_used_at === null ? null : Number(r.last_used_at),
});

export const toApiKeyView = ({ userId: _u, ...view }: ApiKeyRecord): ApiKeyView => view;

/** API keys, stored as sha256 hashes with a visible prefix; the secret exists only in `create`'s answer. */
export class ApiKeysRepository {
  constructor(private readonly db: Db) {}

  /** Creates a key; the returned `secret` is shown once and never stored. */
  async create(userId: string, input: NewApiKey): Promise<{ key: ApiKeyRecord; secret: string }> {
    const secret = `${API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
    const row: ApiKeysTable = {
      id: `key_${randomBytes(12).toString("hex")}`,
      user_id: userId,
      name: input.name,
      prefix: secret.slice(0, API_KEY_PREFIX.length + VISIBLE_CHARS),
      secret_hash: hashApiKey(secret),
      created_at: Date.now(),
      expires_at: input.expiresAt ?? null,
      allowed_models_json: input.allowedModels ? JSON.stringify(input.allowedModels) : null,
      rpm: input.rpm ?? null,
      revoked_at: null,
      last_used_at: null,
    };
    await this.db.insertInto("api_keys").values(row).execute();
    return { key: toRecord(row), secret };
  }

  async listOf(userId: string): Promise<ApiKeyRecord[]> {
    const rows = await this.db.selectFrom("api_keys").selectAll().where("user_id", "=", userId).orderBy("created_at", "desc").orderBy("id").execute();
    return rows.map(toRecord);
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const r = await this.db.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirst();
    return r ? toRecord(r) : undefined;
  }

  async findBySecret(secret: string): Promise<ApiKeyRecord | undefined> {
    const r = await this.db.selectFrom("api_keys").selectAll().where("secret_hash", "=", hashApiKey(secret)).executeTakeFirst();
    return r ? toRecord(r) : undefined;
  }

  /** Revokes one of the user's keys; false when they have no such key. Revoking twice keeps the first time. */
  async revoke(userId: string, id: string): Promise<boolean> {
    const r = await this.db.selectFrom("api_keys").select(["id", "revoked_at"]).where("id", "=", id).where("user_id", "=", userId).executeTakeFirst();
    if (!r) return false;
    if (r.revoked_at === null) await this.db.updateTable("api_keys").set({ revoked_at: Date.now() }).where("id", "=", id).execute();
    return true;
  }

  async touch(id: string, at: number): Promise<void> {
    await this.db.updateTable("api_keys").set({ last_used_at: at }).where("id", "=", id).execute();
  }
}
