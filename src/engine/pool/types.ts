/**
 * The pool's public shapes: what a request holds, and what the admin API shows.
 */
import type { EmbedRunnerClient } from "../embeddings/embed-runner-client.js";
import type { RunnerClient } from "../runner/runner-client.js";

/** A model's life in the pool. */
export type PoolModelState = "loading" | "ready" | "unloading";

/**
 * What a runner in the pool does: `chat` (text generation, `RunnerClient`) or `embedding`
 * (`EmbedRunnerClient`). Both kinds share one budget and one model count.
 */
export type PoolModelKind = "chat" | "embedding";

/** One model as the pool sees it. */
export interface LoadedModel {
  id: string;
  runner: RunnerClient;
  lastUsed: number;
  requestsServed: number;
}

/** A model held for one request: it is not evicted until released. */
export interface PoolLease {
  readonly model: LoadedModel;
  readonly runner: RunnerClient;
  /** Idempotent; the model becomes evictable again once nothing holds it. */
  release(): void;
}

/** An embedding model held for one request: it is not evicted until released. */
export interface EmbedLease {
  readonly id: string;
  readonly runner: EmbedRunnerClient;
  /** Idempotent; the model becomes evictable again once nothing holds it. */
  release(): void;
}

/** One row of the pool's status (snake_case: it is the admin API's shape). */
export interface PoolModelStatus {
  id: string;
  kind: PoolModelKind;
  state: PoolModelState;
  estimated_bytes: number;
  /** Resident memory of the runner process, read from the kernel; null while it cannot be read. */
  rss_bytes: number | null;
  slots: number;
  slots_busy: number;
  context_size: number;
  last_used: number;
  requests_served: number;
  pinned: boolean;
}

export interface PoolStatus {
  budget_bytes: number;
  used_bytes: number;
  max_models: number;
  keep_alive_s: number;
  models: PoolModelStatus[];
}
