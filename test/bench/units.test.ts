import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { PromptBuilder, fillerWords, parsePromptSpec } from "../../src/bench/prompt.js";
import { endpointUrl } from "../../src/bench/protocols.js";
import { compareResults, formatComparison, formatRun, loadResult, TABLE_COLUMNS } from "../../src/bench/report.js";
import { summarizeLevel } from "../../src/bench/runner.js";
import { SseParser } from "../../src/bench/sse.js";
import { percentiles, quantile } from "../../src/bench/stats.js";
import { BENCH_SCHEMA, type BenchResult, type LevelResult, type RequestResult } from "../../src/bench/types.js";

const collect = (chunks: string[]): [string, string | undefined][] => {
  const p = new SseParser();
  const out: [string, string | undefined][] = [];
  const on = (d: string, e: string | undefined) => out.push([d, e]);
  for (const c of chunks) p.push(c, on);
  p.flush(on);
  return out;
};

describe("SseParser", () => {
  const stream = 'data: {"a":1}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n: comment\n\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n';
  const expected: [string, string | undefined][] = [
    ['{"a":1}', undefined],
    ['{"type":"message_stop"}', "message_stop"],
    ["line1\nline2", undefined],
    ["[DONE]", undefined],
  ];

  it("parses data and event fields, joins data lines, skips comments", () => {
    assert.deepEqual(collect([stream]), expected);
  });

  it("gives the same frames however the bytes are split, with \\r\\n line endings too", () => {
    for (const text of [stream, stream.replace(/\n/g, "\r\n")]) {
      for (let size = 1; size <= 7; size++) {
        const chunks: string[] = [];
        for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
        assert.deepEqual(collect(chunks), expected, `chunk size ${size}`);
      }
    }
  });

  it("flushes a last frame without its blank line", () => {
    assert.deepEqual(collect(["data: x\n\ndata: [DONE]"]), [["x", undefined], ["[DONE]", undefined]]);
  });
});

describe("stats", () => {
  it("interpolates between closest ranks", () => {
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(quantile([10], 0.99), 10);
    const p = percentiles([5, 1, 4, 2, 3]);
    assert.deepEqual(p, { p50: 3, p90: 4.6, p99: 4.96, mean: 3 });
    assert.equal(percentiles([]), null);
  });
});

describe("prompt", () => {
  it("sizes prompts at ~0.75 words a token, deterministically, with a distinct tag per request", () => {
    // 10 words of tag and lead (~16 tokens), then ~0.9 filler words a token.
    assert.deepEqual(parsePromptSpec("short"), { spec: "short", approxTokens: 32, words: 24 });
    assert.equal(parsePromptSpec("long").words, 10 + Math.round((1024 - 16) * 0.9));
    assert.equal(parsePromptSpec("100").approxTokens, 100);
    assert.throws(() => parsePromptSpec("huge"), /--prompt/);
    assert.throws(() => parsePromptSpec("0"), /--prompt/);
    // Unbounded, 400000000 filled 1.7 GB before failing with "Invalid array length".
    assert.throws(() => parsePromptSpec("400000000"), /token count from 1 to 1048576/);
    assert.equal(parsePromptSpec("1048576").approxTokens, 1_048_576);
    const b = new PromptBuilder(parsePromptSpec("medium"));
    assert.equal(b.prompt(3).split(" ").length, parsePromptSpec("medium").words);
    assert.equal(b.prompt(3), new PromptBuilder(parsePromptSpec("medium")).prompt(3));
    assert.notEqual(b.prompt(3), b.prompt(4));
    assert.match(fillerWords(12), /^The [a-z]+ [a-z]+ [a-z]+ the /);
    assert.equal(fillerWords(100).split(" ").length, 100);
    assert.match(fillerWords(100), /[a-z]+\.$/);
  });
});

it("endpointUrl appends /v1 unless the base has it", () => {
  assert.equal(endpointUrl("http://h:1", "/chat/completions"), "http://h:1/v1/chat/completions");
  assert.equal(endpointUrl("http://h:1/v1/", "/messages"), "http://h:1/v1/messages");
});

const req = (over: Partial<RequestResult>): RequestResult => ({
  ok: true, ttftMs: 100, e2eMs: 500, decodeMs: 400, outputTokens: 10, promptTokens: 30, usageSource: "server", deltas: 10, ...over,
});

describe("summarizeLevel", () => {
  it("aggregates successful requests and counts errors", () => {
    const l = summarizeLevel(2, [req({}), req({ ttftMs: 300, e2eMs: 700 }), req({ ok: false, error: "HTTP 500: boom", outputTokens: 0 })], [10, 20, 30], 2000);
    assert.equal(l.requests, 3);
    assert.equal(l.completed, 2);
    assert.deepEqual(l.errors, { count: 1, first: "HTTP 500: boom" });
    assert.equal(l.requestsPerS, 1);
    assert.equal(l.outputTokens, 20);
    assert.equal(l.outputTokPerS, 10);
    assert.equal(l.ttftMs?.p50, 200);
    assert.equal(l.itlMs?.p50, 20);
    assert.equal(l.e2eMs?.p50, 600);
    assert.equal(l.perRequestTokPerS?.p50, 25);
    assert.equal(l.promptTokensMean, 30);
    assert.equal(l.usageSource, "server");
    assert.equal(summarizeLevel(1, [req({}), req({ usageSource: "deltas" })], [], 1000).usageSource, "mixed");
  });
});

const level = (concurrency: number, over: Partial<LevelResult> = {}): LevelResult => ({
  ...summarizeLevel(concurrency, [req({}), req({})], [20, 22], 1000),
  ...over,
});

const result = (levels: LevelResult[]): BenchResult => ({
  schema: BENCH_SCHEMA,
  kind: "run",
  startedAt: "2026-01-01T00:00:00.000Z",
  llmuxVersion: "0.0.0",
  environment: { node: "v20", platform: "linux", arch: "x64", cpus: 2, cpuModel: "cpu" },
  config: {
    url: "http://h", model: "m", protocol: "openai", stream: true, prompt: { spec: "short", approxTokens: 32, words: 24 },
    maxTokens: 64, temperature: null, seed: null, concurrency: levels.map((l) => l.concurrency), requests: null, durationS: null, warmup: 1, apiKey: false,
  },
  levels,
});

describe("report", () => {
  it("prints a table with the documented columns and one row per level", () => {
    const text = formatRun(result([level(1), level(4, { errors: { count: 2, first: "HTTP 500: boom" } })]));
    const lines = text.split("\n");
    const header = lines.find((l) => l.startsWith("| "))!;
    assert.deepEqual(header.split("|").slice(1, -1).map((s) => s.trim()), [...TABLE_COLUMNS]);
    const rows = lines.filter((l) => /^\|\s+\d/.test(l));
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[1].split("|").slice(1, 5).map((s) => s.trim()), ["4", "2", "2", "2.00"]);
    assert.match(text, /c=4: 2 errors, first: HTTP 500: boom/);
    assert.match(text, /prompt tokens \(server\): 30/);
  });

  it("computes --compare ratios per level and metric (current / baseline)", () => {
    const base = result([
      level(1, { requestsPerS: 2, outputTokPerS: 100, ttftMs: { p50: 200, p90: 300, p99: 400, mean: 0 }, itlMs: null }),
      level(8, { requestsPerS: 4 }),
    ]);
    const now = result([
      level(1, { requestsPerS: 3, outputTokPerS: 150, ttftMs: { p50: 100, p90: 300, p99: 800, mean: 0 } }),
      level(4),
    ]);
    const cmp = compareResults(now, base, "base.json");
    assert.equal(cmp.baseline, "base.json");
    assert.equal(cmp.baselineStartedAt, "2026-01-01T00:00:00.000Z");
    assert.equal(cmp.rows.length, 1, "only concurrency 1 is in both");
    const r = cmp.rows[0];
    assert.equal(r.concurrency, 1);
    assert.equal(r.ratios.requestsPerS, 1.5);
    assert.equal(r.ratios.outputTokPerS, 1.5);
    assert.equal(r.ratios["ttftMs.p50"], 0.5);
    assert.equal(r.ratios["ttftMs.p90"], 1);
    assert.equal(r.ratios["ttftMs.p99"], 2);
    assert.equal(r.ratios["itlMs.p50"], null, "the baseline lacks ITL");
    const text = formatComparison(cmp);
    assert.match(text, /\|\s+1 \|\s+1\.50x \|\s+1\.50x \|/);
  });

  it("loads only bench results", () => {
    const dir = mkdtempSync(join(tmpdir(), "bench-"));
    try {
      const good = join(dir, "good.json");
      writeFileSync(good, JSON.stringify(result([level(1)])));
      assert.equal(loadResult(good).kind, "run");
      const bad = join(dir, "bad.json");
      writeFileSync(bad, JSON.stringify({ hello: 1 }));
      assert.throws(() => loadResult(bad), /not an `llmux bench --json` result/);
      assert.throws(() => loadResult(join(dir, "missing.json")), /cannot read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
