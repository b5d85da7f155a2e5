import { isLlmuxError } from "../../errors/llmux-error.js";

export interface RetryDelayOptions {
  /** Ceiling of the first retry's delay. */
  baseMs: number;
  /** No delay exceeds this, `Retry-After` included. */
  maxMs: number;
  /** In [0, 1); `Math.random` in production, a fixed or seeded source in tests. */
  jitter: () => number;
  /** The upstream's `Retry-After` header: delay-seconds or an HTTP-date. */
  retryAfter?: string;
  /** For HTTP-date `Retry-After`; default `Date.now`. */
  now?: () => number;
}

/** `Retry-After` as milliseconds from `now` (past dates → 0), or `undefined` when absent or malformed. */
export function parseRetryAfterMs(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === "") return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // HTTP-date (IMF-fixdate, RFC 850 or asctime): needs letters, so bare numbers never reach Date.parse.
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * The wait before retry number `attempt` (0 for the first retry): a valid `Retry-After`
 * wins (capped by `maxMs`); otherwise exponential backoff with full jitter,
 * `jitter() × min(maxMs, baseMs × 2^attempt)`.
 */
export function retryDelayMs(attempt: number, opts: RetryDelayOptions): number {
  const maxMs = Math.max(0, opts.maxMs);
  const after = parseRetryAfterMs(opts.retryAfter, (opts.now ?? Date.now)());
  if (after !== undefined) return Math.min(after, maxMs);
  const n = Math.max(0, Math.floor(Number.isFinite(attempt) ? attempt : 0));
  const ceiling = Math.min(maxMs, Math.max(0, opts.baseMs) * 2 ** Math.min(n, 60));
  const j = opts.jitter();
  const unit = Number.isFinite(j) ? Math.min(Math.max(j, 0), 1) : 0;
  return Math.floor(unit * ceiling);
}

/** Error codes of network failures that a retry (here or on another target) may get past. */
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

/**
 * Whether retrying (the same target after a delay, or a fallback) may help. Coded errors
 * follow the registry's `retryable` flag (`upstream_error`, `rate_limited`, `engine_unavailable`,
 * `model_crashed`, `shutting_down`), except that the client's own deadline (`timeout`) is never
 * retried and an upstream 4xx answer other than 408/429 (bad key, rejected request) would only
 * repeat itself. Uncoded errors are retryable only when they are network failures; aborts never.
 */
export function isRetryable(err: unknown): boolean {
  if (isLlmuxError(err)) {
    if (err.code === "timeout") return false;
    const status = err.extra?.upstream_status;
    if (typeof status === "number" && status >= 400 && status < 500 && status !== 408 && status !== 429) return false;
    return err.spec.retryable;
  }
  for (let e: unknown = err, depth = 0; e && typeof e === "object" && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { name, code } = e as { name?: unknown; code?: unknown };
    if (name === "AbortError") return false;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
  }
  return false;
}
