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

export interface Database {
  settings: SettingsTable;
  audit_log: AuditLogTable;
}
