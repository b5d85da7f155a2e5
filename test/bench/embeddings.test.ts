/**
 * The embeddings measurement against a fake `/v1/embeddings` whose timing is known (every
 * request answered 50 ms after it arrives), its summary, its report, and the suite section.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runEmbeddingsBench, summarizeEmbeddingsLevel } from "../../src/bench/embeddings.js";
import { parsePromptSpec } from "../../src/bench/prompt.js";
import { EMBEDDINGS_COLUMNS, compareResults, formatComparison, formatEmbeddings, formatSuite, levelsOf } from "../../src/bench/report.js";
import { runSuite } from "../../src/bench/suite.js";
import type { EmbeddingsLevelResult, EmbeddingsResult, EmbeddingsTarget, SuiteResult } from "../../src/bench/types.js";
import { startFakeServer } from "./fake-server.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

const EMBED_MS = 50;
const TOKENS_PER_INPUT = 10;
const BATCH = 8;

const target = (url: string, over: Partial<EmbeddingsTarget> = {}): EmbeddingsTarget => ({ url, model: "e", timeoutMs: 10_000, ...over });

const near = (actual: number | undefined | null, expected: number, tolerance: number, what: string) => {
  assert.ok(typeof actual === "number" && Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not ${expected} ± ${tolerance}`);
};

describe("embeddings bench against a fake server (each request answered after 50 ms)", () => {
  it("measures latency, req/s, inputs/s and input tok/s at concurrency 1 and 4", async () => {
    const run = async () => {
      const fake = await startFakeServer({ embedMs: EMBED_MS, embedTokensPerInput: TOKENS_PER_INPUT });
      try {
        const r = await runEmbeddingsBench({
          target: target(fake.url, { apiKey: "sk-secret" }),
          input: parsePromptSpec("64"),
          batch: BATCH,
          concurrency: [1, 4],
          plan: { requests: 8 },
          warmup: 1,
        });
        return { r, received: fake.received };
      } finally {
        await fake.close();
      }
    };
    // What holds however slow the machine is: counts, bounds, and the rates' arithmetic.
    const exact = ({ r, received }: Awaited<ReturnType<typeof run>>) => {
      assert.equal(received.length, 1 + 8 + 8);
      for (const [i, l] of r.levels.entries()) {
        const c = [1, 4][i];
        assert.deepEqual([l.concurrency, l.requests, l.completed, l.errors], [c, 8, 8, { count: 0, first: null }]);
        const lat = l.latencyMs!;
        // The server answers 50 ms after a request arrives: never sooner.
        assert.ok(lat.p50 >= EMBED_MS && lat.p50 <= lat.p90 && lat.p90 <= lat.p99, `c=${c} latency ${JSON.stringify(lat)}`);
        // Closed loop: c workers, each request >= 50 ms, so at most c / 0.05 requests a second.
        assert.ok(l.requestsPerS <= (c / (EMBED_MS / 1000)) * 1.02, `c=${c} req/s ${l.requestsPerS}`);
        near(l.requestsPerS, 8 / l.wallS, 1e-9, `c=${c} req/s over the wall time`);
        near(l.inputsPerS, l.requestsPerS * BATCH, 1e-9, `c=${c} inputs/s`);
        assert.equal(l.inputTokens, 8 * BATCH * TOKENS_PER_INPUT);
        near(l.inputTokPerS, l.inputsPerS * TOKENS_PER_INPUT, 1e-9, `c=${c} in tok/s`);
      }
    };
    // What a stall of the shared machine can break: the measured values close to the known ones.
    const timing = ({ r }: Awaited<ReturnType<typeof run>>): string[] => {
      const failures: string[] = [];
      for (const l of r.levels) {
        const c = l.concurrency;
        const lat = l.latencyMs!;
        const ideal = c / (EMBED_MS / 1000);
        if (lat.p50 > EMBED_MS + 40) failures.push(`c=${c} latency p50 ${lat.p50} is not 50 + at most 40`);
        if (l.requestsPerS < ideal * 0.6) failures.push(`c=${c} req/s ${l.requestsPerS} is under 60% of ${ideal}`);
        const law = c / (lat.mean / 1000);
        if (Math.abs(l.requestsPerS - law) > law * 0.25) failures.push(`c=${c} req/s ${l.requestsPerS} is not c / mean latency ${law} ± 25%`);
      }
      // Concurrency 4 finishes its 8 requests in two rounds of 50 ms, c=1 in eight.
      if (r.levels[1].wallS >= r.levels[0].wallS / 2) failures.push(`c=4 took ${r.levels[1].wallS}s, c=1 ${r.levels[0].wallS}s`);
      return failures;
    };
    // A wrong measurement is wrong every time; a machine stall rarely repeats three times.
    const attempts: string[][] = [];
    let last!: Awaited<ReturnType<typeof run>>;
    for (let i = 0; i < 3; i++) {
      last = await run();
      exact(last);
      attempts.push(timing(last));
      if (attempts.at(-1)!.length === 0) break;
    }
    assert.deepEqual(attempts.at(-1), [], `timings off in every attempt: ${JSON.stringify(attempts)}`);

    const { r, received } = last;
    const req = received[1];
    assert.equal(req.path, "/v1/embeddings");
    assert.equal(req.headers.authorization, "Bearer sk-secret");
    assert.equal(req.body.model, "e");
    assert.equal(req.body.encoding_format, "float");
    const inputs = received.flatMap((x) => x.body.input as string[]);
    assert.equal(inputs.length, 17 * BATCH);
    assert.equal(new Set(inputs).size, inputs.length, "every input distinct (no server-side cache hits)");
    const words = (received[1].body.input as string[])[0].split(" ").length;
    assert.equal(words, parsePromptSpec("64").words);

    assert.equal(r.kind, "embeddings");
    assert.equal(r.config.batch, BATCH);
    assert.deepEqual(r.config.input, { spec: "64", approxTokens: 64, words });
    assert.equal(r.config.apiKey, true);
    assert.doesNotMatch(JSON.stringify(r), /sk-secret/);
  });

  it("counts 500s and responses with the wrong number of vectors as errors, and carries on", async () => {
    const fake = await startFakeServer({ embedMs: 2, failEvery: 3 });
    try {
      const r = await runEmbeddingsBench({ target: target(fake.url), input: parsePromptSpec("16"), batch: 2, concurrency: [1], plan: { requests: 6 }, warmup: 0 });
      const l = r.levels[0];
      assert.deepEqual([l.requests, l.completed, l.errors.count], [6, 4, 2]);
      assert.match(l.errors.first ?? "", /^HTTP 500: .*boom/);
      assert.equal(l.inputTokens, 4 * 2 * 10, "only completed requests count");
      near(l.inputsPerS, (4 * 2) / l.wallS, 1e-9, "inputs/s of completed requests");
    } finally {
      await fake.close();
    }
    const short = await startFakeServer({ embedMs: 2, embedVectors: 1 });
    try {
      const r = await runEmbeddingsBench({ target: target(short.url), input: parsePromptSpec("16"), batch: 3, concurrency: [1], plan: { requests: 2 }, warmup: 1 });
      assert.deepEqual([r.levels[0].completed, r.levels[0].errors.first], [0, "expected 3 embeddings, got 1"]);
    } finally {
      await short.close();
    }
  });

  it("reports no input tok/s when the server reports no usage", async () => {
    const fake = await startFakeServer({ embedMs: 2, usage: false });
    try {
      const r = await runEmbeddingsBench({ target: target(fake.url), input: parsePromptSpec("16"), batch: 2, concurrency: [2], plan: { requests: 4 }, warmup: 0 });
      assert.equal(r.levels[0].completed, 4);
      assert.equal(r.levels[0].inputTokens, null);
      assert.equal(r.levels[0].inputTokPerS, null);
      assert.match(formatEmbeddings(r), /note: in tok\/s: the server did not report usage/);
    } finally {
      await fake.close();
    }
  });

  it("stops at once when the warm-up shows a wrong model or URL", async () => {
    const fake = await startFakeServer({ badRequest: () => true });
    try {
      await assert.rejects(
        runEmbeddingsBench({ target: target(fake.url), input: parsePromptSpec("16"), batch: 1, concurrency: [1], warmup: 1 }),
        /warm-up request failed: HTTP 400: .*prompt too long/,
      );
    } finally {
      await fake.close();
    }
  });
});

const level = (concurrency: number, over: Partial<EmbeddingsLevelResult> = {}): EmbeddingsLevelResult => ({
  concurrency, requests: 10, completed: 10, errors: { count: 0, first: null }, wallS: 2, requestsPerS: 5, inputsPerS: 40,
  inputTokens: 3200, inputTokPerS: 1600, latencyMs: { p50: 100, p90: 150, p99: 190, mean: 110 }, ...over,
});

const result = (levels: EmbeddingsLevelResult[]): EmbeddingsResult => ({
  schema: "llmux.bench/1", kind: "embeddings", startedAt: "2026-01-01T00:00:00.000Z", llmuxVersion: "0.0.0",
  environment: { node: "v20", platform: "linux", arch: "x64", cpus: 2, cpuModel: "cpu" },
  config: { url: "http://x", model: "e", batch: 8, input: { spec: "64", approxTokens: 64, words: 53 }, concurrency: levels.map((l) => l.concurrency), requests: null, durationS: null, warmup: 1, apiKey: false },
  levels,
});

const suiteOf = (levels: EmbeddingsLevelResult[]): SuiteResult => ({
  schema: "llmux.bench/1", kind: "suite", startedAt: "2026-01-01T00:00:00.000Z", llmuxVersion: "0.0.0",
  environment: { node: "v20", platform: "linux", arch: "x64", cpus: 2, cpuModel: "cpu" },
  server: { inProcess: false, url: "http://x", model: "m", embedModel: "e" },
  sections: [{ name: "embeddings", title: "Embeddings", status: "ok", cases: [{ name: "batch", description: "8 inputs", embeddings: result(levels) }] }],
});

describe("summarizeEmbeddingsLevel", () => {
  it("rates over the wall time, tokens only from completed requests, no tok/s from a partial usage sum", () => {
    const l = summarizeEmbeddingsLevel(2, [
      { ok: true, e2eMs: 100, inputs: 8, promptTokens: 80 },
      { ok: true, e2eMs: 300, inputs: 8, promptTokens: 90 },
      { ok: false, error: "HTTP 500", e2eMs: 5, inputs: 8, promptTokens: null },
    ], 500);
    assert.deepEqual([l.requests, l.completed, l.errors], [3, 2, { count: 1, first: "HTTP 500" }]);
    assert.equal(l.requestsPerS, 4);
    assert.equal(l.inputsPerS, 32);
    assert.equal(l.inputTokens, 170);
    assert.equal(l.inputTokPerS, 340);
    assert.equal(l.latencyMs?.p50, 200);
    const partial = summarizeEmbeddingsLevel(1, [{ ok: true, e2eMs: 1, inputs: 1, promptTokens: 5 }, { ok: true, e2eMs: 1, inputs: 1, promptTokens: null }], 1000);
    assert.equal(partial.inputTokens, 5);
    assert.equal(partial.inputTokPerS, null);
    const none = summarizeEmbeddingsLevel(1, [], 0);
    assert.deepEqual([none.requestsPerS, none.inputsPerS, none.inputTokens, none.latencyMs], [0, 0, null, null]);
  });
});

describe("embeddings report", () => {
  it("prints a table with the documented columns and one row per level", () => {
    const text = formatEmbeddings(result([level(1), level(4, { errors: { count: 2, first: "HTTP 500: boom" }, inputTokPerS: null })]));
    const lines = text.split("\n");
    assert.match(lines[0], /model e · 8 inputs of ~64 tokens per request/);
    const header = lines.find((l) => l.startsWith("| "))!;
    assert.deepEqual(header.split("|").slice(1, -1).map((s) => s.trim()), [...EMBEDDINGS_COLUMNS]);
    const rows = lines.filter((l) => /^\|\s+\d/.test(l)).map((l) => l.split("|").slice(1, -1).map((s) => s.trim()));
    assert.deepEqual(rows, [
      ["1", "10", "0", "5.00", "40.0", "1600", "100", "150", "190"],
      ["4", "10", "2", "5.00", "40.0", "-", "100", "150", "190"],
    ]);
    assert.match(text, /note: input tokens \(server\): 40 per input on average/);
    assert.match(text, /note: c=4: 2 errors, first: HTTP 500: boom/);
  });

  it("is a section of the suite report, and --compare gives its ratios in a table of its own", () => {
    const now = suiteOf([level(1, { requestsPerS: 10, inputsPerS: 80, latencyMs: { p50: 50, p90: 150, p99: 380, mean: 0 } }), level(4)]);
    const text = formatSuite(now);
    assert.match(text, /## Embeddings\n\n### batch: 8 inputs\n\nllmux bench embeddings: /);
    assert.deepEqual(levelsOf(now).map((e) => [e.key, e.level.concurrency]), [["embeddings/batch", 1], ["embeddings/batch", 4]]);

    const cmp = compareResults(now, suiteOf([level(1), level(8)]), "base.json");
    assert.equal(cmp.rows.length, 1);
    assert.deepEqual(cmp.rows[0], {
      key: "embeddings/batch",
      concurrency: 1,
      ratios: { requestsPerS: 2, inputsPerS: 2, inputTokPerS: 1, "latencyMs.p50": 0.5, "latencyMs.p90": 1, "latencyMs.p99": 2 },
    });
    const table = formatComparison(cmp).split("\n").filter((l) => l.startsWith("|"));
    assert.deepEqual(table[0].split("|").slice(1, -1).map((s) => s.trim()), ["case", "conc", "req/s", "inputs/s", "in tok/s", "lat p50", "lat p90", "lat p99"]);
    assert.deepEqual(table[2].split("|").slice(1, -1).map((s) => s.trim()), ["embeddings/batch", "1", "2.00x", "2.00x", "1.00x", "0.50x", "1.00x", "2.00x"]);
  });
});

describe("the suite's embeddings section", () => {
  it("measures the given embedding model against an external server, or is skipped without one", async () => {
    const fake = await startFakeServer({ firstMs: 5, gapMs: 1, tokens: 3, embedMs: 5 });
    try {
      const common = { protocol: "openai" as const, concurrency: [1, 2], plan: { requests: 2 }, warmup: 0, timeoutMs: 5000 };
      const suite = await runSuite({ ...common, external: { url: fake.url, model: "m", embedModel: "e" } });
      assert.deepEqual(suite.server, { inProcess: false, url: fake.url, model: "m", embedModel: "e" });
      const section = suite.sections.find((s) => s.name === "embeddings")!;
      assert.ok(section.status === "ok");
      const e = section.cases[0].embeddings!;
      assert.equal(section.cases[0].name, "batch");
      assert.deepEqual([e.config.model, e.config.batch, e.config.input.spec], ["e", 8, "64"]);
      assert.deepEqual(e.levels.map((l) => [l.concurrency, l.completed]), [[1, 2], [2, 2]]);
      const embedRequests = fake.received.filter((r) => r.path === "/v1/embeddings");
      assert.equal(embedRequests.length, 4);
      assert.ok(embedRequests.every((r) => r.body.model === "e" && (r.body.input as string[]).length === 8));

      const without = await runSuite({ ...common, external: { url: fake.url, model: "m" } });
      const skipped = without.sections.find((s) => s.name === "embeddings")!;
      assert.deepEqual(skipped, { name: "embeddings", title: "Embeddings", status: "skipped", reason: "no embedding model given (--embed-model)" });
      assert.match(formatSuite(without), /## Embeddings\n\nskipped: no embedding model given/);
    } finally {
      await fake.close();
    }
  });

  it("llmux bench --suite --url … --embed-model runs it from the CLI", async () => {
    const fake = await startFakeServer({ firstMs: 5, gapMs: 1, tokens: 3, embedMs: 5 });
    try {
      const proc = spawn(
        process.execPath,
        ["--import", "tsx", CLI, "bench", "--suite", "--url", fake.url, "--model", "m", "--embed-model", "e", "--concurrency", "1", "--requests", "1", "--warmup", "0", "--json"],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let stdout = "";
      let stderr = "";
      proc.stdout.on("data", (d) => (stdout += String(d)));
      proc.stderr.on("data", (d) => (stderr += String(d)));
      const [code] = await once(proc, "exit");
      assert.equal(code, 0, stderr);
      const suite = JSON.parse(stdout) as SuiteResult;
      const section = suite.sections.find((s) => s.name === "embeddings")!;
      assert.ok(section.status === "ok");
      assert.equal(section.cases[0].embeddings?.levels[0].completed, 1);
      assert.match(stderr, /bench: embeddings batch c=1: 1\/1 in [\d.]+s, [\d.]+ req\/s, [\d.]+ inputs\/s/);
    } finally {
      await fake.close();
    }
  });
});
