export type BreakerState = "closed" | "open" | "half_open";

export interface BreakerOptions {
  /** Consecutive failures that open the circuit (default 5). */
  failureThreshold?: number;
  /** How long an open circuit skips the target before a trial (default 30 s). */
  cooldownMs?: number;
  /** A half-open trial that never reports back frees its slot after this long (default `cooldownMs`). */
  trialTimeoutMs?: number;
  /** Milliseconds; default `Date.now`. */
  now?: () => number;
}

interface Entry {
  failures: number;
  openedAt: number | null;
  /** When the half-open trial was let through; `null` when none is out. */
  trialAt: number | null;
}

/**
 * A circuit breaker per target key (e.g. `openai` or `openai:gpt-4o`). Closed: every request
 * goes, and `failureThreshold` consecutive failures open it. Open: `allow` refuses until
 * `cooldownMs` has passed, then the circuit is half-open and `allow` lets exactly one trial
 * through: its success closes the circuit, its failure re-opens it for another cooldown.
 * Unknown keys are closed.
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #trialTimeoutMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(options: BreakerOptions = {}) {
    this.#threshold = Math.max(1, Math.floor(options.failureThreshold ?? 5));
    this.#cooldownMs = Math.max(0, options.cooldownMs ?? 30_000);
    this.#trialTimeoutMs = Math.max(0, options.trialTimeoutMs ?? this.#cooldownMs);
    this.#now = options.now ?? Date.now;
  }

  #entry(key: string): Entry {
    let e = this.#entries.get(key);
    if (!e) {
      e = { failures: 0, openedAt: null, trialAt: null };
      this.#entries.set(key, e);
    }
    return e;
  }

  /** The circuit's state now; reading it changes nothing. */
  state(key: string): BreakerState {
    const e = this.#entries.get(key);
    if (!e || e.openedAt === null) return "closed";
    return this.#now() - e.openedAt >= this.#cooldownMs ? "half_open" : "open";
  }

  /** Whether a request may go to the target now; in half-open, `true` claims the single trial. */
  allow(key: string): boolean {
    const state = this.state(key);
    if (state === "closed") return true;
    if (state === "open") return false;
    const e = this.#entry(key);
    const now = this.#now();
    if (e.trialAt !== null && now - e.trialAt < this.#trialTimeoutMs) return false;
    e.trialAt = now;
    return true;
  }

  /** Whether `allow` would let a request through, without claiming the trial (for routing's `available`). */
  available(key: string): boolean {
    const state = this.state(key);
    if (state !== "half_open") return state === "closed";
    const e = this.#entries.get(key)!;
    return e.trialAt === null || this.#now() - e.trialAt >= this.#trialTimeoutMs;
  }

  /** A request to the target succeeded: the circuit closes and the failure count resets. */
  onSuccess(key: string): void {
    this.#entries.delete(key);
  }

  /** A request to the target failed (with an error `isRetryable` counts as the target's fault). */
  onFailure(key: string): void {
    const e = this.#entry(key);
    const state = this.state(key);
    if (state === "half_open") {
      if (e.trialAt === null) return; // a late failure from before the cooldown: the trial decides
      e.openedAt = this.#now();
      e.trialAt = null;
      return;
    }
    if (state === "open") return; // in-flight requests from before opening do not extend the cooldown
    e.failures++;
    if (e.failures >= this.#threshold) {
      e.openedAt = this.#now();
      e.trialAt = null;
    }
  }

  /** The trial (or any request) ended without a verdict (e.g. the client cancelled): frees the trial slot. */
  release(key: string): void {
    const e = this.#entries.get(key);
    if (e) e.trialAt = null;
  }
}
