/**
 * npm run bench:engine — aggregate decode tok/s of the `bench` model (Qwen2.5-0.5B
 * shape, Q8_0) at 1, 4 and 8 concurrent streams, one path after the other:
 *   1. node-llama-cpp called directly the natural way (its own process, its defaults);
 *   2. llmux's runner process driven over IPC, without HTTP (the ceiling for the HTTP path);
 *   3. llmux over HTTP, streaming through the OpenAI API.
 *   env: BENCH_THREADS (2), BENCH_TOKENS (64), BENCH_LEVELS (1,4,8), BENCH_REPS (3);
 *   BENCH_EXTERNAL_URL adds a row for another OpenAI-compatible server already serving
 *   the same file (e.g. llama.cpp's llama-server: see docs/PERFORMANCE.md for its flags).
 */
import { execFileSync } from "node:child_process";
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

async function httpBench(): Promise<Record<number, number[]>> {
  const app = await startApp(
    { ...resolveServeConfig({ host: "127.0.0.1", port: 0, home: benchHome(), engine: { threads, parallel: Math.max(...levels), contextSize: 1024 } }), logLevel: "warn" },
    { logStream: process.stderr },
  );
  try {
    return await perLevel(async (n) => (await Promise.all(Array.from({ length: n }, (_, i) => stream(app.url, i + 1)))).reduce((a, b) => a + b, 0));
  } finally {
    await app.close();
  }
}

/** Runs `measure(n)` (returns tokens generated) `reps` times per level after one warm-up. */
async function perLevel(measure: (n: number) => Promise<number>): Promise<Record<number, number[]>> {
  await measure(1);
  const out: Record<number, number[]> = {};
  for (const n of levels) {
    out[n] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      const total = await measure(n);
      out[n].push(total / ((performance.now() - t0) / 1000));
    }
  }
  return out;
}

async function runnerBench(): Promise<Record<number, number[]>> {
  const runner = new RunnerClient("bench");
  await runner.start({ modelPath, contextSize: 1024, parallel: Math.max(...levels), threads, useMmap: false, vocabSize: 151936 });
  const one = async (seed: number) => {
    let n = 0;
    const params = { prompt: PROMPT_TEXT, maxTokens: tokens, stop: [], sampling: { temperature: 0.8, seed } };
    for await (const ev of runner.generate(params, new AbortController().signal)) if (ev.t === "done") n = ev.completionTokens;
    return n;
  };
  try {
    return await perLevel(async (n) => (await Promise.all(Array.from({ length: n }, (_, i) => one(i + 1)))).reduce((a, b) => a + b, 0));
  } finally {
    await runner.stop();
  }
}

function naive(): Record<number, number[]> {
  const script = fileURLToPath(new URL("./engine-naive.ts", import.meta.url));
  const out = execFileSync(process.execPath, ["--import", "tsx", script, modelPath, String(threads), String(tokens), levels.join(","), String(reps)], { encoding: "utf8" });
  return JSON.parse(out) as Record<number, number[]>;
}

const NAIVE = "node-llama-cpp direct, per-sequence loops, library defaults";
const RUNNER = "llmux runner over IPC, no HTTP";
const HTTP = "llmux over HTTP (OpenAI API, streaming)";
const results: Record<string, Record<number, number[]>> = {
  [NAIVE]: naive(),
  [RUNNER]: await runnerBench(),
  [HTTP]: await httpBench(),
};
const external = process.env.BENCH_EXTERNAL_URL;
if (external) {
  results[`external server at ${external} (streaming)`] = await perLevel(async (n) =>
    (await Promise.all(Array.from({ length: n }, (_, i) => stream(external, i + 1)))).reduce((a, b) => a + b, 0),
  );
}

const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log(`\nbench model: ${modelPath}\nmachine: ${cpus().length} cores (${cpu}), threads ${threads}, ${tokens} tokens per stream, best of ${reps}\n`);
console.log(`| path | ${levels.map((n) => `${n} stream${n > 1 ? "s" : ""}`).join(" | ")} |`);
console.log(`| --- | ${levels.map(() => "---").join(" | ")} |`);
for (const [name, byLevel] of Object.entries(results)) {
  console.log(`| ${name} | ${levels.map((n) => { const s = summary(byLevel[n]); return `${s.best.toFixed(1)} (median ${s.median.toFixed(1)})`; }).join(" | ")} |`);
  console.error(`${name}: ${JSON.stringify(Object.fromEntries(Object.entries(byLevel).map(([k, v]) => [k, v.map((x) => Math.round(x * 10) / 10)])))}`);
}
const http = results[HTTP];
const ceiling = results[RUNNER];
console.log(`\nHTTP / runner without HTTP (best): ${levels.map((n) => `${n}: ${((summary(http[n]).best / summary(ceiling[n]).best) * 100).toFixed(0)}%`).join(", ")}`);
