/**
 * npm run bench:engine — aggregate decode tok/s of the `bench` model (Qwen2.5-0.5B
 * shape, Q8_0) at 1, 4 and 8 concurrent streams, on three paths that take turns round by round:
 *   1. node-llama-cpp called directly the natural way (its own process, its defaults);
 *   2. llmux's runner process driven over IPC, without HTTP (the ceiling for the HTTP path);
 *   3. llmux over HTTP, streaming through the OpenAI API.
 *   env: BENCH_THREADS (2), BENCH_TOKENS (64), BENCH_LEVELS (1,4,8), BENCH_REPS (3);
 *   BENCH_EXTERNAL_URL adds a row for another OpenAI-compatible server already serving
 *   the same file (e.g. llama.cpp's llama-server: see docs/PERFORMANCE.md for its flags).
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { startApp } from "../src/app.js";
import { resolveServeConfig } from "../src/config.js";
import { RunnerClient } from "../src/engine/runner/runner-client.js";
import { benchHome, ensureBenchModel, summary } from "./lib.js";
import { PROMPT, PROMPT_TEXT } from "./prompt.js";

const threads = Number(process.env.BENCH_THREADS ?? 2);
const tokens = Number(process.env.BENCH_TOKENS ?? 64);
const levels = (process.env.BENCH_LEVELS ?? "1,4,8").split(",").map(Number);
const reps = Number(process.env.BENCH_REPS ?? 3);

const modelPath = await ensureBenchModel();

/** One streaming request; returns completion tokens from the usage chunk. */
async function stream(url: string, seed: number): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "bench",
      messages: [{ role: "user", content: PROMPT }],
      max_tokens: tokens,
      temperature: 0.8,
      seed,
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let buf = "";
  let completion = 0;
  let deltas = 0; // for servers that send no usage: one content delta per token
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += Buffer.from(chunk).toString("utf8");
    let i;
    while ((i = buf.indexOf("\n\n")) !== -1) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (frame.includes('"content":"') && !frame.includes('"content":""')) deltas++;
      if (frame.startsWith("data: {") && frame.includes('"usage":{')) {
        completion = (JSON.parse(frame.slice(6)) as { usage: { completion_tokens: number } }).usage.completion_tokens;
      }
    }
  }
  return completion || deltas;
}

/** One path under test: `measure(n)` runs n concurrent streams once and returns aggregate tok/s. */
interface Path {
  name: string;
  measure(n: number): Promise<number>;
  close(): Promise<void>;
}

/** Times `run(n)` (which returns tokens generated) and turns it into aggregate tok/s. */
async function tps(run: () => Promise<number>): Promise<number> {
  const t0 = performance.now();
  const total = await run();
  return total / ((performance.now() - t0) / 1000);
}

const streams = (url: string, n: number) => Promise.all(Array.from({ length: n }, (_, i) => stream(url, i + 1))).then((xs) => xs.reduce((a, b) => a + b, 0));

async function httpPath(): Promise<Path> {
  const app = await startApp(
    { ...resolveServeConfig({ host: "127.0.0.1", port: 0, home: benchHome(), engine: { threads, parallel: Math.max(...levels), contextSize: 1024 } }), logLevel: "warn" },
    { logStream: process.stderr },
  );
  await streams(app.url, 1); // loads the model, warms the path
  return { name: HTTP, measure: (n) => tps(() => streams(app.url, n)), close: () => app.close() };
}

async function runnerPath(): Promise<Path> {
  const runner = new RunnerClient("bench");
  await runner.start({ modelPath, contextSize: 1024, parallel: Math.max(...levels), threads, useMmap: false, vocabSize: 151936 });
  const one = async (seed: number) => {
    let n = 0;
    const params = { prompt: PROMPT_TEXT, maxTokens: tokens, stop: [], sampling: { temperature: 0.8, seed } };
    for await (const ev of runner.generate(params, new AbortController().signal)) if (ev.t === "done") n = ev.completionTokens;
    return n;
  };
  const run = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => one(i + 1))).then((xs) => xs.reduce((a, b) => a + b, 0));
  await run(1);
  return { name: RUNNER, measure: (n) => tps(() => run(n)), close: () => runner.stop() };
}

/** node-llama-cpp called directly, in its own process (bench/engine-naive.ts), one measurement per stdin line. */
async function naivePath(): Promise<Path> {
  const script = fileURLToPath(new URL("./engine-naive.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script, modelPath, String(threads), String(tokens), String(Math.max(...levels))], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => {
    const r = await lines.next();
    if (r.done) throw new Error("engine-naive.ts exited");
    return r.value;
  };
  if ((await next()) !== "READY") throw new Error("engine-naive.ts did not start");
  return {
    name: NAIVE,
    measure: async (n) => {
      child.stdin!.write(`${n}\n`);
      const out = JSON.parse(await next()) as { tps?: number; error?: string };
      if (out.tps === undefined) throw new Error(out.error);
      return out.tps;
    },
    close: async () => {
      child.stdin!.end();
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

/** Another OpenAI-compatible server already serving the same file (BENCH_EXTERNAL_URL). */
function externalPath(url: string): Path {
  return { name: `external server at ${url} (streaming)`, measure: (n) => tps(() => streams(url, n)), close: async () => undefined };
}

const NAIVE = "node-llama-cpp direct, per-sequence loops, library defaults";
const RUNNER = "llmux runner over IPC, no HTTP";
const HTTP = "llmux over HTTP (OpenAI API, streaming)";

// Every path is loaded and warm before the first measurement; then, at each level, the paths take
// turns round by round (the starting path rotates), so a drift in the machine's speed during the
// run (this one moves ±10% within minutes) hits every path alike instead of whichever ran last.
const paths: Path[] = [await naivePath(), await runnerPath(), await httpPath()];
const external = process.env.BENCH_EXTERNAL_URL;
if (external) {
  const p = externalPath(external);
  await streams(external, 1);
  paths.push(p);
}
const results: Record<string, Record<number, number[]>> = Object.fromEntries(paths.map((p) => [p.name, {}]));
for (const n of levels) {
  for (const p of paths) results[p.name][n] = [];
  for (let r = 0; r < reps; r++) {
    for (let k = 0; k < paths.length; k++) {
      const p = paths[(r + k) % paths.length];
      results[p.name][n].push(await p.measure(n));
    }
  }
}
for (const p of paths) await p.close();

const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log(`\nbench model: ${modelPath}\nmachine: ${cpus().length} cores (${cpu}), threads ${threads}, ${tokens} tokens per stream, best of ${reps} rounds (median in brackets), paths alternating round by round\n`);
console.log(`| path | ${levels.map((n) => `${n} stream${n > 1 ? "s" : ""}`).join(" | ")} |`);
console.log(`| --- | ${levels.map(() => "---").join(" | ")} |`);
for (const [name, byLevel] of Object.entries(results)) {
  console.log(`| ${name} | ${levels.map((n) => { const s = summary(byLevel[n]); return `${s.best.toFixed(1)} (median ${s.median.toFixed(1)})`; }).join(" | ")} |`);
  console.error(`${name}: ${JSON.stringify(Object.fromEntries(Object.entries(byLevel).map(([k, v]) => [k, v.map((x) => Math.round(x * 10) / 10)])))}`);
}
const http = results[HTTP];
const ceiling = results[RUNNER];
const direct = results[NAIVE];
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
// Round r of each path ran back to back, so HTTP_r / direct_r compares like with like.
const paired = (n: number) => summary(http[n].map((x, r) => x / direct[n][r])).median;
console.log(`\nHTTP / direct: best ${levels.map((n) => `${n}: ${pct(summary(http[n]).best / summary(direct[n]).best)}`).join(", ")}; median ${levels.map((n) => `${n}: ${pct(summary(http[n]).median / summary(direct[n]).median)}`).join(", ")}; median of per-round ratios ${levels.map((n) => `${n}: ${pct(paired(n))}`).join(", ")}`);
console.log(`HTTP / runner without HTTP (best): ${levels.map((n) => `${n}: ${pct(summary(http[n]).best / summary(ceiling[n]).best)}`).join(", ")}`);
