import type { Generated } from "kysely";

/** Table types for the query builder; one interface per table. */
export interface SettingsTable {
  key: string;
  /** JSON-encoded value. */
  value: string;
  /** Unix epoch milliseconds. */
  updated_at: number;
}

/** One inference request: metadata only, never prompt or completion text. */
export interface AuditLogTable {
  id: Generated<number>;
  request_id: string;
  /** Epoch milliseconds when the request arrived. */
  ts: number;
  route: string;
  protocol: string;
  model_requested: string | null;
  model_served: string | null;
  backend: string | null;
  /** 0 or 1. */
  stream: number;
  status: string;
  http_status: number;
  duration_ms: number;
  ttft_ms: number | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  total_tokens: number | null;
  error_type: string | null;
  error_message: string | null;
  api_key_id: string | null;
  user_id: string | null;
}

/** A configured cloud provider; its API key is stored sealed (`src/security/secret-box.ts`), never in clear. */
export interface ProvidersTable {
  id: string;
  /** Unique; also the backend's name. */
  name: string;
  kind: string;
  base_url: string;
  /** `v1:<iv>:<tag>:<ciphertext>` from `SecretBox.seal`, or null when the provider needs no key. */
  api_key_sealed: string | null;
  /** JSON object of extra request headers (never the key). */
  headers_json: string;
  timeout_ms: number;
  /** JSON list of model ids, or null to discover them from the provider. */
  models_json: string | null;
  /** Epoch milliseconds. */
  created_at: number;
  updated_at: number;
}

/** A person who signs in to the UI and admin API. The password is an argon2id hash, never clear. */
export interface UsersTable {
  id: string;
  /** Lowercased; unique. */
  email: string;
  password_hash: string;
  /** `admin` or `user`. */
  role: string;
  /** `approved`, `pending` or `disabled`. */
  status: string;
  created_at: number;
  updated_at: number;
}

/** A signed-in browser session; deleting the row ends it at once, whatever the cookie's expiry says. */
export interface SessionsTable {
  id: string;
  user_id: string;
  created_at: number;
  expires_at: number;
}

/** An API key for `/v1`: only the sha256 of the secret is kept, with its first characters for recognition. */
export interface ApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  /** The secret's first characters (e.g. `llmux-sk-AbCd1234`), shown in lists. */
  prefix: string;
  /** Hex sha256 of the whole secret; unique. */
  secret_hash: string;
  created_at: number;
  expires_at: number | null;
  /** JSON list of model ids, or null for every model. */
  allowed_models_json: string | null;
  /** Requests per minute, or null for no limit. */
  rpm: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

/** One routing rule (`src/routing/rules/rules.ts`), in order. */
export interface RoutingRulesTable {
  /** 0-based order; the first matching rule wins. */
  position: number;
  id: string;
  /** The whole `RoutingRule` as JSON. */
  rule_json: string;
  /** Epoch milliseconds. */
  updated_at: number;
}

/** Per-model load and request settings (JSON), applied at the model's next load or request. */
export interface ModelSettingsTable {
  model_id: string;
  /** JSON of `ModelSettings` (src/store/model-settings-repo.ts). */
  value: string;
  updated_at: number;
}

export interface Database {
  settings: SettingsTable;
  audit_log: AuditLogTable;
  providers: ProvidersTable;
  users: UsersTable;
  sessions: SessionsTable;
  api_keys: ApiKeysTable;
  routing_rules: RoutingRulesTable;
  model_settings: ModelSettingsTable;
}
