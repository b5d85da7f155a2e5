/**
 * The JSON shapes the web UI reads and writes, in one place the server and the UI share
 * (web/ imports this file through the `$api` alias). Types only: no runtime import may
 * appear here, so the browser bundle never pulls server code.
 *
 * Shapes already served on main are re-exported from their server modules; those of the
 * parallel branches (auth, routing, pool) are written here as /work/wt/CONTRACTS.md fixes them,
 * and should become re-exports when those branches merge.
 */
import type { DownloadProgress, DownloadState, FileProgress } from "../hub/downloader.js";
import type { QuantGroup, GgufEntry, HubFile } from "../hub/gguf-files.js";
import type { HubModelSummary, RepoFiles } from "../hub/hub-client.js";
import type { AuditRow, AuditStats } from "../store/audit-repo.js";
import type { Timeouts } from "../settings/timeouts.js";

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

/** A message on `/admin/audit/live` (main sends `audit_row`; the contract names it `row`). */
export type AuditLiveMessage = { type: "hello" } | { type: "audit_row" | "row"; row: AuditRow };

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

// ---- auth branch (CONTRACTS.md) ----

export interface User {
  id: string;
  email: string;
  role: "admin" | "user";
  status: "approved" | "pending" | "disabled";
  created_at: number;
}

export interface ApiKey {
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

export interface RegisterResponse {
  user: User;
  signed_in: boolean;
}

// ---- routing branch (CONTRACTS.md) ----

export type ProviderKind = "openai" | "anthropic" | "openai-compatible" | "anthropic-compatible";

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

export interface RoutingResolve {
  model: string;
  rule_id: string | null;
  target: { backend: string; model: string } | null;
  fallbacks: unknown[];
  explanation: string;
}

// ---- pool branch (CONTRACTS.md) ----

export interface PoolModel {
  id: string;
  /** Chat and embedding models share the pool's budget and count. */
  kind: "chat" | "embedding";
  state: "loading" | "ready" | "unloading";
  estimated_bytes: number;
  rss_bytes: number;
  slots: number;
  slots_busy: number;
  last_used: number;
  requests_served: number;
  pinned: boolean;
}

export interface PoolStatus {
  budget_bytes: number;
  used_bytes: number;
  max_models: number;
  keep_alive_s: number;
  models: PoolModel[];
}

export interface PoolSettings {
  budget: string;
  budget_bytes: number;
  max_models: number;
  keep_alive_s: number;
  pinned: string[];
}
