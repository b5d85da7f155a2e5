/**
 * npm run bench:engine — aggregate decode tok/s of the `bench` model (Qwen2.5-0.5B
 * shape, Q8_0) at 1, 4 and 8 concurrent streams: through llmux over HTTP, through
 * llmux's scheduler without HTTP, and through node-llama-cpp's natural per-sequence
 * loops. Each engine runs in its own process, one after the other.
 *   env: BENCH_THREADS (2), BENCH_TOKENS (64), BENCH_LEVELS (1,4,8), BENCH_REPS (3)
 */
import { execFileSync } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { startApp } from "../src/app.js";
import { resolveServeConfig } from "../src/config.js";
import { benchHome, ensureBenchModel, summary } from "./lib.js";
import { PROMPT } from "./prompt.js";

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
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += Buffer.from(chunk).toString("utf8");
    let i;
    while ((i = buf.indexOf("\n\n")) !== -1) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (frame.startsWith("data: {") && frame.includes('"usage":{')) {
        completion = (JSON.parse(frame.slice(6)) as { usage: { completion_tokens: number } }).usage.completion_tokens;
      }
    }
  }
  return completion;
}

async function httpBench(): Promise<Record<number, number[]>> {
  const app = await startApp(
    resolveServeConfig({ host: "127.0.0.1", port: 0, home: benchHome(), engine: { threads, parallel: Math.max(...levels), contextSize: 1024 } }),
    { logStream: process.stderr.isTTY ? undefined : process.stderr },
  );
  try {
    await stream(app.url, 1); // load + warm-up
    const out: Record<number, number[]> = {};
    for (const n of levels) {
      out[n] = [];
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        const counts = await Promise.all(Array.from({ length: n }, (_, i) => stream(app.url, i + 1)));
        out[n].push(counts.reduce((a, b) => a + b, 0) / ((performance.now() - t0) / 1000));
      }
    }
    return out;
  } finally {
    await app.close();
  }
}

function direct(mode: "naive" | "scheduler"): Record<number, number[]> {
  const script = fileURLToPath(new URL("./engine-direct.ts", import.meta.url));
  const env = { ...process.env };
  if (mode === "scheduler") env.UV_THREADPOOL_SIZE = "1";
  const out = execFileSync(process.execPath, ["--import", "tsx", script, mode, modelPath, String(threads), String(tokens), levels.join(","), String(reps)], { env, encoding: "utf8" });
  return JSON.parse(out) as Record<number, number[]>;
}

const results = {
  "node-llama-cpp direct, natural per-sequence loops (defaults: mmap, 4 libuv threads)": direct("naive"),
  "llmux scheduler direct, no HTTP (the ceiling for our path)": direct("scheduler"),
  "llmux over HTTP (streaming, OpenAI API)": await httpBench(),
};

const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log(`\nbench model: ${modelPath}\nmachine: ${cpus().length} cores (${cpu}), threads ${threads}, ${tokens} tokens per stream, best of ${reps}\n`);
console.log(`| path | ${levels.map((n) => `${n} stream${n > 1 ? "s" : ""}`).join(" | ")} |`);
console.log(`| --- | ${levels.map(() => "---").join(" | ")} |`);
for (const [name, byLevel] of Object.entries(results)) {
  console.log(`| ${name} | ${levels.map((n) => { const s = summary(byLevel[n]); return `${s.best.toFixed(1)} (median ${s.median.toFixed(1)})`; }).join(" | ")} |`);
}
const http = results["llmux over HTTP (streaming, OpenAI API)"];
const ceiling = results["llmux scheduler direct, no HTTP (the ceiling for our path)"];
console.log(`\nHTTP / direct scheduler: ${levels.map((n) => `${n}: ${((summary(http[n]).best / summary(ceiling[n]).best) * 100).toFixed(0)}%`).join(", ")}`);
