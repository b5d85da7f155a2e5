import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parsePromptSpec } from "../../src/bench/prompt.js";
import { formatSuite } from "../../src/bench/report.js";
import { runBench } from "../../src/bench/runner.js";
import { runSuite } from "../../src/bench/suite.js";
import type { BenchProtocol, BenchResult, BenchTarget, LevelResult } from "../../src/bench/types.js";
import { startFakeServer, type FakeServer } from "./fake-server.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

const FIRST = 200;
const GAP = 20;
const TOKENS = 20;
const E2E = FIRST + (TOKENS - 1) * GAP;

const target = (url: string, over: Partial<BenchTarget> = {}): BenchTarget => ({
  url, model: "m", protocol: "openai", stream: true, maxTokens: 64, timeoutMs: 10_000, ...over,
});

const near = (actual: number | undefined, expected: number, tolerance: number, what: string) => {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not ${expected} ± ${tolerance}`);
};

/** What the fake server's answers fix exactly, whatever the machine does: counts and usage. */
function assertExact(l: LevelResult, concurrency: number, requests: number) {
  assert.equal(l.concurrency, concurrency);
  assert.equal(l.requests, requests);
  assert.equal(l.completed, requests);
  assert.deepEqual(l.errors, { count: 0, first: null });
  assert.equal(l.usageSource, "server");
  assert.equal(l.outputTokens, TOKENS * requests);
}

/** The timings the fake server promises, as a list of what is off (a stall of a shared machine can move them). */
function timingFailures(l: LevelResult, concurrency: number): string[] {
  const failures: string[] = [];
  const near = (actual: number | null | undefined, expected: number, tolerance: number, what: string) => {
    if (actual === null || actual === undefined || Math.abs(actual - expected) > tolerance) failures.push(`c=${concurrency} ${what}: ${actual} is not ${expected} ± ${tolerance}`);
  };
  near(l.ttftMs?.p50, FIRST, 60, "TTFT p50");
  near(l.itlMs?.p50, GAP, 8, "ITL p50");
  near(l.e2eMs?.p50, E2E, 100, "E2E p50");
  // Closed loop: each worker runs requests / concurrency requests back to back.
  const idealTokPerS = (concurrency * TOKENS) / (E2E / 1000);
  near(l.outputTokPerS, idealTokPerS, idealTokPerS * 0.2, "aggregate tok/s");
  near(l.requestsPerS, concurrency / (E2E / 1000), (concurrency / (E2E / 1000)) * 0.2, "req/s");
  near(l.perRequestTokPerS?.p50, TOKENS / ((E2E - FIRST) / 1000), 15, "tok/s per request");
  return failures;
}

for (const protocol of ["openai", "anthropic"] as BenchProtocol[]) {
  describe(`bench against a fake ${protocol} server (first token 200 ms, then one every 20 ms)`, () => {
    let fake: FakeServer;
    before(async () => {
      fake = await startFakeServer({ firstMs: FIRST, gapMs: GAP, tokens: TOKENS });
    });
    after(() => fake.close());

    it("measures TTFT, ITL, E2E and tok/s at concurrency 1 and 4, streaming", async () => {
      // A wrong measurement is wrong every time; a stall of the shared machine rarely repeats three times.
      const attempts: string[][] = [];
      let r!: Awaited<ReturnType<typeof runBench>>;
      let first = 0;
      for (let i = 0; i < 3; i++) {
        first = fake.received.length;
        r = await runBench({
          target: target(fake.url, { protocol, apiKey: "sk-secret", temperature: 0.5, seed: 7 }),
          prompt: parsePromptSpec("short"),
          concurrency: [1, 4],
          warmup: 1,
        });
        assert.equal(fake.received.length - first, 1 + 4 + 8, "warm-up + 2 × concurrency, at least 4");
        assertExact(r.levels[0], 1, 4);
        assertExact(r.levels[1], 4, 8);
        attempts.push([...timingFailures(r.levels[0], 1), ...timingFailures(r.levels[1], 4)]);
        if (attempts.at(-1)!.length === 0) break;
      }
      assert.deepEqual(attempts.at(-1), [], `timings off in every attempt: ${JSON.stringify(attempts)}`);
      assert.equal(r.levels[0].promptTokensMean, 7);

      const req = fake.received[first + 1];
      assert.equal(req.path, protocol === "openai" ? "/v1/chat/completions" : "/v1/messages");
      assert.equal(req.body.stream, true);
      assert.equal(req.body.max_tokens, 64);
      assert.equal(req.body.temperature, 0.5);
      if (protocol === "openai") {
        assert.equal(req.headers.authorization, "Bearer sk-secret");
        assert.deepEqual(req.body.stream_options, { include_usage: true });
        assert.equal(req.body.seed, 7);
      } else {
        assert.equal(req.headers["x-api-key"], "sk-secret");
        assert.equal(req.headers["anthropic-version"], "2023-06-01");
        assert.equal(req.body.seed, undefined);
      }
      assert.doesNotMatch(JSON.stringify(r), /sk-secret/);
      assert.equal(r.config.apiKey, true);
    });

    it("measures E2E and tok/s without streaming", async () => {
      const r = await runBench({ target: target(fake.url, { protocol, stream: false }), prompt: parsePromptSpec("short"), concurrency: [2], warmup: 0, plan: { requests: 4 } });
      const l = r.levels[0];
      assert.equal(l.completed, 4);
      assert.equal(l.outputTokens, 4 * TOKENS);
      assert.equal(l.usageSource, "server");
      near(l.e2eMs?.p50, E2E, 100, "E2E p50");
      near(l.outputTokPerS, (2 * TOKENS) / (E2E / 1000), (2 * TOKENS) / (E2E / 1000) * 0.2, "aggregate tok/s");
      assert.equal(l.ttftMs, null);
      assert.equal(l.itlMs, null);
      assert.equal(l.perRequestTokPerS, null);
    });
  });
}

describe("bench against misbehaving servers", () => {
  it("counts 500s as errors and carries on", async () => {
    const fake = await startFakeServer({ firstMs: 5, gapMs: 1, tokens: 5, failEvery: 3 });
    try {
      const r = await runBench({ target: target(fake.url), prompt: parsePromptSpec("short"), concurrency: [1], warmup: 0, plan: { requests: 6 } });
      const l = r.levels[0];
      assert.equal(l.requests, 6);
      assert.equal(l.completed, 4);
      assert.equal(l.errors.count, 2);
      assert.match(l.errors.first ?? "", /^HTTP 500: .*boom/);
      assert.equal(l.outputTokens, 20);
    } finally {
      await fake.close();
    }
  });

  it("counts content deltas when the server reports no usage, and says so", async () => {
    const fake = await startFakeServer({ firstMs: 5, gapMs: 1, tokens: 9, usage: false });
    try {
      for (const protocol of ["openai", "anthropic"] as BenchProtocol[]) {
        const r = await runBench({ target: target(fake.url, { protocol }), prompt: parsePromptSpec("short"), concurrency: [2], warmup: 0, plan: { requests: 4 } });
        assert.equal(r.levels[0].usageSource, "deltas", protocol);
        assert.equal(r.levels[0].outputTokens, 36, protocol);
      }
      const whole = await runBench({ target: target(fake.url, { stream: false }), prompt: parsePromptSpec("short"), concurrency: [1], warmup: 0, plan: { requests: 1 } });
      assert.equal(whole.levels[0].usageSource, "estimate");
    } finally {
      await fake.close();
    }
  });

  it("stops at once when the warm-up shows a wrong model or URL (4xx, connection refused)", async () => {
    const fake = await startFakeServer();
    await fake.close();
    await assert.rejects(
      runBench({ target: target(fake.url), prompt: parsePromptSpec("short"), concurrency: [1], warmup: 1 }),
      /warm-up request failed: fetch failed/,
    );
  });

  it("runs a level for a duration", async () => {
    const fake = await startFakeServer({ firstMs: 20, gapMs: 5, tokens: 4 });
    try {
      const r = await runBench({ target: target(fake.url), prompt: parsePromptSpec("short"), concurrency: [2], warmup: 0, plan: { durationS: 0.5 } });
      const l = r.levels[0];
      assert.ok(l.requests >= 10 && l.requests <= 40, `${l.requests} requests in 0.5 s at ~35 ms each, 2 workers`);
      assert.ok(l.wallS >= 0.5 && l.wallS < 0.8, `wall ${l.wallS}`);
      assert.equal(r.config.durationS, 0.5);
    } finally {
      await fake.close();
    }
  });
});

it("the suite runs its chat cases against a given server, skips embeddings without an embedding model, and skips the gateway (it needs the in-process llmux)", async () => {
  const fake = await startFakeServer({ firstMs: 5, gapMs: 1, tokens: 3 });
  try {
    const suite = await runSuite({
      external: { url: fake.url, model: "m" }, protocol: "openai", concurrency: [1, 2], plan: { requests: 2 }, warmup: 0, timeoutMs: 5000,
    });
    assert.equal(suite.kind, "suite");
    assert.deepEqual(suite.server, { inProcess: false, url: fake.url, model: "m" });
    assert.deepEqual(suite.sections.map((s) => [s.name, s.status]), [["chat", "ok"], ["embeddings", "skipped"], ["gateway", "skipped"]]);
    const chat = suite.sections[0];
    assert.ok(chat.status === "ok");
    assert.deepEqual(chat.cases.map((c) => [c.name, c.result!.config.prompt.spec, c.result!.config.maxTokens, c.result!.levels.map((l) => l.concurrency)]), [
      ["decode", "short", 128, [1, 2]],
      ["prefill", "long", 16, [1, 2]],
    ]);
    const longPrompt = fake.received.find((r) => r.body.max_tokens === 16)!.body.messages as { content: string }[];
    assert.equal(longPrompt[0].content.split(" ").length, 917);
    const text = formatSuite(suite);
    assert.match(text, /### decode: decode-heavy/);
    assert.match(text, /## Embeddings\n\nskipped: /);
    assert.match(text, /## Gateway overhead.*\n\nskipped: needs the in-process llmux/);
  } finally {
    await fake.close();
  }
});

it("a suite case that cannot run is recorded as failed; the other cases keep their results", async () => {
  const fake = await startFakeServer({ firstMs: 5, gapMs: 1, tokens: 3, badRequest: (body) => body.max_tokens === 16 });
  try {
    const suite = await runSuite({ external: { url: fake.url, model: "m" }, protocol: "openai", concurrency: [1], plan: { requests: 1 }, warmup: 1, timeoutMs: 5000 });
    const chat = suite.sections[0];
    assert.ok(chat.status === "ok");
    assert.equal(chat.cases[0].result?.levels[0].completed, 1);
    assert.match(chat.cases[1].error ?? "", /warm-up request failed: HTTP 400: .*prompt too long/);
    assert.match(formatSuite(suite), /### prefill: .*\n\nfailed: warm-up request failed/);
  } finally {
    await fake.close();
  }
});

describe("llmux bench (the CLI)", () => {
  let fake: FakeServer;
  before(async () => {
    fake = await startFakeServer({ firstMs: 30, gapMs: 5, tokens: 6 });
  });
  after(() => fake.close());

  it("prints only the JSON result on stdout with --json", async () => {
    const proc = spawn(process.execPath, ["--import", "tsx", CLI, "bench", "--url", fake.url, "--model", "m", "--concurrency", "1,2", "--requests", "4", "--json"], {
      env: { ...process.env, LLMUX_API_KEY: "sk-from-env" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d) => (stdout += String(d)));
    proc.stderr.on("data", (d) => (stderr += String(d)));
    const [code] = await once(proc, "exit");
    assert.equal(code, 0, stderr);
    const r = JSON.parse(stdout) as BenchResult;
    assert.equal(r.schema, "llmux.bench/1");
    assert.equal(r.kind, "run");
    assert.deepEqual(Object.keys(r).sort(), ["config", "environment", "kind", "levels", "llmuxVersion", "schema", "startedAt"]);
    assert.deepEqual(r.config.concurrency, [1, 2]);
    assert.deepEqual(r.levels.map((l) => [l.concurrency, l.requests, l.completed, l.outputTokens]), [[1, 4, 4, 24], [2, 4, 4, 24]]);
    assert.deepEqual(Object.keys(r.levels[0]).sort(), [
      "completed", "concurrency", "e2eMs", "errors", "itlMs", "outputTokPerS", "outputTokens", "perRequestTokPerS",
      "promptTokensMean", "requests", "requestsPerS", "ttftMs", "usageSource", "wallS",
    ]);
    assert.deepEqual(Object.keys(r.levels[0].ttftMs!).sort(), ["mean", "p50", "p90", "p99"]);
    assert.equal(fake.received.at(-1)!.headers.authorization, "Bearer sk-from-env");
    assert.doesNotMatch(stdout + stderr, /sk-from-env/);
    assert.match(stderr, /bench: c=2: 4\/4 in/, "plain progress lines on a non-TTY stderr");
  });
});
