/**
 * Shapes shared by the bench modules, and the documented JSON result (`llmux bench --json`).
 * Times are milliseconds unless a name says otherwise; rates are per second.
 */

import type { GatewayRow } from "./gateway.js";

/** Wire protocol the bench speaks. */
export type BenchProtocol = "openai" | "anthropic";

/**
 * Where output token counts came from: the server's usage report for every request,
 * counted content deltas (the server sent no usage), an estimate from the text length
 * (non-streaming without usage), or a mix of these across the level's requests.
 */
export type UsageSource = "server" | "deltas" | "estimate" | "mixed";

/** p50/p90/p99 (linear interpolation between closest ranks) and the mean of a sample. */
export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  mean: number;
}

/** What one request against the server is made of. */
export interface BenchTarget {
  /** Base URL; `/v1/...` is appended unless it already ends in `/v1`. */
  url: string;
  model: string;
  protocol: BenchProtocol;
  stream: boolean;
  maxTokens: number;
  temperature?: number;
  seed?: number;
  /** Sent as `Authorization: Bearer` (OpenAI) or `x-api-key` (Anthropic); never printed or stored. */
  apiKey?: string;
  /** Per-request limit; a request still running then counts as an error. */
  timeoutMs: number;
}

/** The timings of one request. */
export interface RequestResult {
  ok: boolean;
  /** Why it failed (HTTP status and body excerpt, network error, in-band stream error). */
  error?: string;
  /** Request sent → first content delta; null without a content delta (and for non-streaming requests). */
  ttftMs: number | null;
  /** Request sent → response complete. */
  e2eMs: number;
  /** First content delta → response complete; null when there is no first delta. */
  decodeMs: number | null;
  outputTokens: number;
  /** Prompt tokens the server reported, when it did. */
  promptTokens: number | null;
  usageSource: Exclude<UsageSource, "mixed">;
  /** Content deltas received (streams). */
  deltas: number;
}

/** How much work each concurrency level gets: a request count or a duration. */
export type LevelPlan = { requests: number; durationS?: undefined } | { durationS: number; requests?: undefined };

/** The measurements of one concurrency level (one closed loop of `concurrency` workers). */
export interface LevelResult {
  concurrency: number;
  /** Requests sent (successful + failed). */
  requests: number;
  /** Requests that completed without error. */
  completed: number;
  errors: { count: number; first: string | null };
  /** Level start → last request done, seconds. */
  wallS: number;
  /** Completed requests / wall time. */
  requestsPerS: number;
  /** Output tokens of the completed requests. */
  outputTokens: number;
  /** Mean prompt tokens the server reported; null when it reported none. */
  promptTokensMean: number | null;
  usageSource: UsageSource;
  /** Aggregate output tokens / wall time of the level. */
  outputTokPerS: number;
  /** Per request: output tokens / (end − first token); streams only, else null. */
  perRequestTokPerS: Percentiles | null;
  /** Time to first token; streams only, else null. */
  ttftMs: Percentiles | null;
  /** Gaps between consecutive content deltas, pooled over the level's requests; streams only. */
  itlMs: Percentiles | null;
  /** End-to-end latency. */
  e2eMs: Percentiles | null;
}

/** The configuration of a run as recorded in its JSON (no API key). */
export interface BenchRunConfig {
  url: string;
  model: string;
  protocol: BenchProtocol;
  stream: boolean;
  prompt: { spec: string; approxTokens: number; words: number };
  maxTokens: number;
  temperature: number | null;
  seed: number | null;
  concurrency: number[];
  /** Requests per level as given; null with a duration or the default (max(4, 2 × concurrency); see `levels[].requests`). */
  requests: number | null;
  /** Seconds per level when run by duration (null with a count). */
  durationS: number | null;
  warmup: number;
  /** Whether an API key was sent (the key itself is never recorded). */
  apiKey: boolean;
}

/** The machine the bench ran on. */
export interface BenchEnvironment {
  node: string;
  platform: string;
  arch: string;
  cpus: number;
  cpuModel: string;
}

/** `llmux bench --json`: one run. */
export interface BenchResult {
  schema: typeof BENCH_SCHEMA;
  kind: "run";
  startedAt: string;
  llmuxVersion: string;
  environment: BenchEnvironment;
  config: BenchRunConfig;
  levels: LevelResult[];
  comparison?: Comparison;
}

/** What every embeddings request is made of (`POST /v1/embeddings`, OpenAI wire format). */
export interface EmbeddingsTarget {
  /** Base URL; `/v1/...` is appended unless it already ends in `/v1`. */
  url: string;
  model: string;
  /** Sent as `Authorization: Bearer`; never printed or stored. */
  apiKey?: string;
  /** Per-request limit; a request still running then counts as an error. */
  timeoutMs: number;
}

/** The timings of one embeddings request. */
export interface EmbeddingsRequestResult {
  ok: boolean;
  /** Why it failed (HTTP status and body excerpt, network error, wrong number of vectors). */
  error?: string;
  /** Request sent → response read. */
  e2eMs: number;
  /** Inputs sent (and, when ok, vectors received). */
  inputs: number;
  /** `usage.prompt_tokens` of the response; null when the server reported none. */
  promptTokens: number | null;
}

/** The measurements of one concurrency level of embeddings requests. */
export interface EmbeddingsLevelResult {
  concurrency: number;
  /** Requests sent (successful + failed). */
  requests: number;
  /** Requests that completed without error. */
  completed: number;
  errors: { count: number; first: string | null };
  /** Level start → last request done, seconds. */
  wallS: number;
  /** Completed requests / wall time. */
  requestsPerS: number;
  /** Inputs embedded (completed requests × batch) / wall time. */
  inputsPerS: number;
  /** Input tokens the server reported (`usage.prompt_tokens`) over the completed requests; null when it reported none. */
  inputTokens: number | null;
  /** `inputTokens` / wall time; null when some completed request reported no usage (a partial sum would understate it). */
  inputTokPerS: number | null;
  /** Request latency (send → whole response read). */
  latencyMs: Percentiles | null;
}

/** The configuration of an embeddings run as recorded in its JSON (no API key). */
export interface EmbeddingsRunConfig {
  url: string;
  model: string;
  /** Inputs per request (`input` is an array of this many strings). */
  batch: number;
  /** The size of each input (a prompt spec: approximate tokens, words). */
  input: { spec: string; approxTokens: number; words: number };
  concurrency: number[];
  /** Requests per level as given; null with a duration or the default (max(4, 2 × concurrency)). */
  requests: number | null;
  durationS: number | null;
  warmup: number;
  /** Whether an API key was sent (the key itself is never recorded). */
  apiKey: boolean;
}

/** An embeddings throughput run (the suite's embeddings section). */
export interface EmbeddingsResult {
  schema: typeof BENCH_SCHEMA;
  kind: "embeddings";
  startedAt: string;
  llmuxVersion: string;
  environment: BenchEnvironment;
  config: EmbeddingsRunConfig;
  levels: EmbeddingsLevelResult[];
}

/**
 * One case of a suite section (e.g. decode-heavy chat): its result (`result` for chat cases,
 * `embeddings` for embeddings cases), or why it could not run.
 */
export interface SuiteCase {
  name: string;
  description: string;
  result?: BenchResult;
  embeddings?: EmbeddingsResult;
  error?: string;
}

/** A suite section: measured, not available yet (route missing), skipped (nothing to measure it with), or failed. */
export type SuiteSectionResult =
  | {
      name: string;
      title: string;
      status: "ok";
      cases: SuiteCase[];
      /** The gateway section: direct vs through llmux per mode and concurrency, and what made the load. */
      gateway?: { tool: "wrk" | "node"; rows: GatewayRow[] };
    }
  | { name: string; title: string; status: "not available yet" | "skipped" | "failed"; reason: string };

/** `llmux bench --suite --json`: every section and case of the standard suite. */
export interface SuiteResult {
  schema: typeof BENCH_SCHEMA;
  kind: "suite";
  startedAt: string;
  llmuxVersion: string;
  environment: BenchEnvironment;
  /** The server measured: llmux started in-process (with its engine settings) or an external URL. */
  server:
    | { inProcess: true; url: string; model: string; embedModel?: string; engine: { threads: number; parallel: number; contextSize: number } }
    | { inProcess: false; url: string; model: string; embedModel?: string };
  sections: SuiteSectionResult[];
  comparison?: Comparison;
}

/** Ratios of this run over a baseline result: current / baseline, per level and metric. */
export interface Comparison {
  baseline: string;
  baselineStartedAt: string | null;
  rows: { key: string; concurrency: number; ratios: Record<string, number | null> }[];
}

/** Identifies bench JSON files (bumped when the shape changes incompatibly). */
export const BENCH_SCHEMA = "llmux.bench/1" as const;
