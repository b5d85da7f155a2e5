import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LlmuxError } from "../../src/errors/llmux-error.js";
import { CircuitBreaker } from "../../src/routing/rules/breaker.js";
import { isRetryable, parseRetryAfterMs, retryDelayMs } from "../../src/routing/rules/retry.js";

describe("retryDelayMs", () => {
  const base = { baseMs: 100, maxMs: 5000 };
  it("grows exponentially up to maxMs, with full jitter", () => {
    const top = (attempt: number) => retryDelayMs(attempt, { ...base, jitter: () => 0.9999999 });
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 100].map(top), [99, 199, 399, 799, 1599, 3199, 4999, 4999]);
    for (let a = 0; a < 10; a++) assert.equal(retryDelayMs(a, { ...base, jitter: () => 0 }), 0);
    assert.equal(retryDelayMs(2, { ...base, jitter: () => 0.5 }), 200);
    // Out-of-range jitter is clamped.
    assert.equal(retryDelayMs(0, { ...base, jitter: () => 7 }), 100);
    assert.equal(retryDelayMs(0, { ...base, jitter: () => -1 }), 0);
    assert.equal(retryDelayMs(1e9, { ...base, jitter: () => 1 }), 5000);
  });

  it("honours Retry-After seconds, capped by maxMs", () => {
    assert.equal(retryDelayMs(0, { ...base, jitter: () => 0, retryAfter: "3" }), 3000);
    assert.equal(retryDelayMs(5, { ...base, jitter: () => 0, retryAfter: " 0 " }), 0);
    assert.equal(retryDelayMs(0, { ...base, jitter: () => 0, retryAfter: "120" }), 5000);
  });

  it("honours Retry-After HTTP-dates", () => {
    const now = () => Date.parse("2025-01-01T00:00:00Z");
    assert.equal(retryDelayMs(0, { ...base, jitter: () => 0, now, retryAfter: "Wed, 01 Jan 2025 00:00:02 GMT" }), 2000);
    assert.equal(retryDelayMs(0, { ...base, jitter: () => 0, now, retryAfter: "Wed, 01 Jan 2025 01:00:00 GMT" }), 5000);
    assert.equal(retryDelayMs(0, { ...base, jitter: () => 0, now, retryAfter: "Tue, 31 Dec 2024 23:00:00 GMT" }), 0);
  });

  it("falls back to backoff on a malformed Retry-After", () => {
    for (const retryAfter of ["", "soon", "-5", "1.5", "1e3"]) {
      assert.equal(retryDelayMs(1, { ...base, jitter: () => 0.5, retryAfter }), 100, retryAfter);
    }
    assert.equal(parseRetryAfterMs(undefined), undefined);
    assert.equal(parseRetryAfterMs("garbage date Mon"), undefined);
  });
});

describe("isRetryable", () => {
  it("follows the registry, never retrying the client's own deadline", () => {
    for (const code of ["upstream_error", "rate_limited", "engine_unavailable", "model_crashed", "shutting_down"] as const) {
      assert.equal(isRetryable(new LlmuxError(code, "x")), true, code);
    }
    for (const code of ["timeout", "validation_failed", "model_not_found", "context_length_exceeded", "internal", "unauthorized"] as const) {
      assert.equal(isRetryable(new LlmuxError(code, "x")), false, code);
    }
  });

  it("uses the upstream status: 5xx, 408 and 429 retry; other 4xx do not", () => {
    const up = (status: number, code: "upstream_error" | "rate_limited" = "upstream_error") => new LlmuxError(code, "x", { extra: { upstream_status: status } });
    assert.equal(isRetryable(up(500)), true);
    assert.equal(isRetryable(up(503)), true);
    assert.equal(isRetryable(up(408)), true);
    assert.equal(isRetryable(up(429, "rate_limited")), true);
    assert.equal(isRetryable(up(401)), false);
    assert.equal(isRetryable(up(403)), false);
  });

  it("retries network failures and never aborts", () => {
    const net = (code: string) => Object.assign(new Error("net"), { code });
    assert.equal(isRetryable(net("ECONNRESET")), true);
    assert.equal(isRetryable(net("ECONNREFUSED")), true);
    assert.equal(isRetryable(new TypeError("fetch failed", { cause: net("UND_ERR_SOCKET") })), true);
    assert.equal(isRetryable(new DOMException("aborted", "AbortError")), false);
    assert.equal(isRetryable(new Error("boom")), false);
    assert.equal(isRetryable("string"), false);
    assert.equal(isRetryable(undefined), false);
  });
});

describe("CircuitBreaker", () => {
  const setup = () => {
    let t = 1_000;
    const clock = { advance: (ms: number) => (t += ms) };
    const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 10_000, now: () => t });
    return { breaker, clock };
  };

  it("opens after N consecutive failures; a success resets the count", () => {
    const { breaker } = setup();
    assert.equal(breaker.state("openai"), "closed");
    breaker.onFailure("openai");
    breaker.onFailure("openai");
    breaker.onSuccess("openai");
    breaker.onFailure("openai");
    breaker.onFailure("openai");
    assert.equal(breaker.state("openai"), "closed");
    assert.equal(breaker.allow("openai"), true);
    breaker.onFailure("openai");
    assert.equal(breaker.state("openai"), "open");
    assert.equal(breaker.allow("openai"), false);
    assert.equal(breaker.available("openai"), false);
    assert.equal(breaker.state("azure"), "closed", "targets are independent");
  });

  it("half-opens after the cooldown and lets one trial through; success closes", () => {
    const { breaker, clock } = setup();
    for (let i = 0; i < 3; i++) breaker.onFailure("t");
    clock.advance(9_999);
    assert.equal(breaker.state("t"), "open");
    breaker.onFailure("t"); // late failure while open: does not extend the cooldown
    clock.advance(1);
    assert.equal(breaker.state("t"), "half_open");
    assert.equal(breaker.available("t"), true);
    assert.equal(breaker.allow("t"), true);
    assert.equal(breaker.available("t"), false);
    assert.equal(breaker.allow("t"), false, "only one trial");
    breaker.onSuccess("t");
    assert.equal(breaker.state("t"), "closed");
    assert.equal(breaker.allow("t"), true);
  });

  it("a failed trial re-opens for another cooldown", () => {
    const { breaker, clock } = setup();
    for (let i = 0; i < 3; i++) breaker.onFailure("t");
    clock.advance(10_000);
    assert.equal(breaker.allow("t"), true);
    breaker.onFailure("t");
    assert.equal(breaker.state("t"), "open");
    assert.equal(breaker.allow("t"), false);
    clock.advance(9_999);
    assert.equal(breaker.state("t"), "open");
    clock.advance(1);
    assert.equal(breaker.state("t"), "half_open");
  });

  it("frees the trial slot on release or when the trial never reports", () => {
    const { breaker, clock } = setup();
    for (let i = 0; i < 3; i++) breaker.onFailure("t");
    clock.advance(10_000);
    assert.equal(breaker.allow("t"), true);
    breaker.release("t");
    assert.equal(breaker.allow("t"), true);
    assert.equal(breaker.allow("t"), false);
    clock.advance(10_000);
    assert.equal(breaker.allow("t"), true, "an abandoned trial times out");
    assert.equal(breaker.state("t"), "half_open");
  });
});
