/**
 * The JSON shapes the web UI reads and writes, in one place the server and the UI share
 * (web/ imports this file through the `$api` alias). Types only: no runtime import may
 * appear here, so the browser bundle never pulls server code.
 *
 * Shapes the server declares as types are re-exported from their modules; those a route builds
 * inline (providers, pool settings, /api/models, routing's resolve) are written here as the
 * route renders them.
 */
import type { DownloadProgress, DownloadState, FileProgress } from "../hub/downloader.js";
import type { QuantGroup, GgufEntry, HubFile } from "../hub/gguf-files.js";
import type { HubModelSummary, RepoFiles } from "../hub/hub-client.js";
import type { AuditRow, AuditStats } from "../store/audit-repo.js";
import type { Timeouts } from "../settings/timeouts.js";
import type { UserView } from "../store/users-repo.js";
import type { ApiKeyView } from "../store/api-keys-repo.js";
import type { Usage } from "../store/usage-repo.js";
import type { PoolModelStatus, PoolStatus } from "../engine/pool/types.js";
import type { ResolvedTarget } from "../routing/rules/rules.js";

export type { DownloadProgress, DownloadState, FileProgress, QuantGroup, GgufEntry, HubFile, HubModelSummary, RepoFiles, AuditRow, AuditStats, Timeouts };

/** An RFC 7807 problem as every llmux error is rendered. */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
  request_id?: string;
}

/** `GET /health`. */
export interface Health {
  status: "ok";
  version: string;
}

/** `GET|PUT /admin/timeouts` (seconds). */
export interface TimeoutsResponse {
  timeouts: Timeouts;
  bounds: { min: number; max: number };
}

/** `GET /admin/audit`. */
export interface AuditPage {
  items: AuditRow[];
  next_before: number | null;
}

/** A message on `/admin/audit/live`. */
export type AuditLiveMessage = { type: "hello" } | { type: "audit_row"; row: AuditRow };

/** `GET /api/hub/search`. */
export interface HubSearchResponse {
  items: HubModelSummary[];
}

/** `GET /api/downloads`. */
export interface DownloadList {
  items: DownloadProgress[];
}

/** One entry of `GET /v1/models` with llmux's metadata. */
export interface ModelEntry {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  llmux?: {
    architecture: string;
    parameters: number | null;
    quantization: string | null;
    context_length: number | null;
    size_bytes: number;
    synthetic: boolean;
    capabilities: { tools: boolean; reasoning: boolean; embeddings: boolean };
  };
}

export interface ModelList {
  object: "list";
  data: ModelEntry[];
}

/** One local model of `GET /api/models`. */
export interface LocalModel {
  id: string;
  architecture: string;
  parameters: number | null;
  quantization: string | null;
  context_length: number | null;
  size_bytes: number;
  capabilities: { tools: boolean; reasoning: boolean; embeddings: boolean };
  synthetic: boolean;
  /** In the pool now. */
  loaded: boolean;
}

export interface LocalModelList {
  models: LocalModel[];
}

// ---- accounts and keys (src/store/users-repo.ts, api-keys-repo.ts) ----

export type User = UserView;
export type ApiKey = ApiKeyView;
/** `GET /api/usage`: the signed-in user's own requests and tokens, from the audit log. */
export type { Usage };

export interface RegisterResponse {
  user: User;
  signed_in: boolean;
}

/** `POST /api/keys`: the secret is in this answer only. */
export interface CreatedApiKey {
  key: ApiKey;
  secret: string;
}

// ---- providers and routing (src/http/routes/admin-providers.ts, admin-routing.ts) ----

export type ProviderKind = "openai" | "anthropic" | "openai-compatible" | "anthropic-compatible";

/** A provider as the API shows it: never its key, never its header values. */
export interface Provider {
  id: string;
  name: string;
  kind: ProviderKind;
  base_url: string;
  has_api_key: boolean;
  header_names: string[];
  timeout_ms: number;
  models: string[] | null;
  created_at: number;
  updated_at: number;
}

export type ProviderTestResult = { ok: true; latency_ms: number; models: string[] } | { ok: false; status?: number; message: string };

/** Rules are the router's own type (src/routing/rules/rules.ts). */
export type { RoutingRule, RuleTarget as RoutingTarget, RoutingStrategy } from "../routing/rules/rules.js";
export type { MatchKind } from "../routing/rules/match.js";

/** `GET /admin/routing/resolve?model=`. */
export interface RoutingResolve {
  model: string;
  rule_id: string | null;
  target: ResolvedTarget | null;
  fallbacks: ResolvedTarget[];
  explanation: string;
}

// ---- the pool (src/engine/pool/types.ts, src/http/routes/admin-pool.ts) ----

export type { PoolModelStatus as PoolModel, PoolStatus };

/** `GET|PUT /admin/pool/settings`. */
export interface PoolSettings {
  /** As written: "8GB", "50%" or bytes. */
  budget: string;
  budget_bytes: number;
  max_models: number;
  keep_alive_s: number;
  pinned: string[];
}
