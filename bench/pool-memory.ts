/**
 * npm run bench:pool-memory — the pool's memory estimate for the `bench` synthetic model
 * (Qwen2.5-0.5B shape, Q8_0, ~0.5 GB) against the measured RSS growth of its runner process.
 * Growth = RSS once loaded (and after a 600-token prompt has run, which touches the compute
 * buffer) less the RSS of the same runner process before the model was loaded.
 *   env: BENCH_MODEL (an existing bench GGUF; else one is synthesized), POOL_THREADS (2)
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readModelInfo } from "../src/engine/gguf/model-info.js";
import { ModelPool } from "../src/engine/model-pool.js";
import { estimateModelMemory } from "../src/engine/pool/estimate.js";
import { formatBytes } from "../src/engine/pool/memory-budget.js";
import { synthesizeModel } from "../src/engine/synth/synthesize.js";
import { RunnerProcess } from "../src/engine/runner/runner-process.js";

const threads = Number(process.env.POOL_THREADS ?? 2);
const tmp = mkdtempSync(join(tmpdir(), "llmux-pool-mem-"));
const path = process.env.BENCH_MODEL && existsSync(process.env.BENCH_MODEL) ? process.env.BENCH_MODEL : join(tmp, "bench.gguf");
if (path.startsWith(tmp)) await synthesizeModel(path, { preset: "bench", seed: 1 });
const info = { ...(await readModelInfo(path)), id: "bench" };
const mib = (n: number) => (n / 2 ** 20).toFixed(0);

/** RSS of a runner process before any load: Node, tsx and the runner's imports. */
async function baseline(): Promise<number> {
  const proc = new RunnerProcess(new URL("../src/engine/runner/runner-main.js", import.meta.url), "baseline");
  await new Promise((r) => setTimeout(r, 1500));
  const rss = proc.rssBytes() ?? 0;
  await proc.stop();
  return rss;
}

const base = await baseline();
console.log(`bench model: ${formatBytes(info.sizeBytes)} file, ${formatBytes(info.tensorBytes)} tensor data; runner baseline RSS ${formatBytes(base)} (tsx)`);
console.log("shape (ctx x slots) | weights | KV | compute | runtime | estimate | RSS loaded | RSS after prompt | growth loaded | growth after prompt | estimate - runtime");
for (const [contextSize, parallel] of [
  [2048, 4],
  [4096, 4],
  [1024, 1],
] as const) {
  const pool = new ModelPool({ threads, parallel, contextSize, useMmap: false });
  const est = estimateModelMemory(info, { contextSize, parallel });
  const lease = await pool.acquire(info);
  const loaded = lease.runner.rssBytes() ?? 0;
  let peak = loaded;
  const sampler = setInterval(() => (peak = Math.max(peak, lease.runner.rssBytes() ?? 0)), 20);
  const ac = new AbortController();
  for await (const _ of lease.runner.generate({ prompt: "hello world ".repeat(300), maxTokens: 4, stop: [], sampling: { temperature: 0 } }, ac.signal)) void _;
  clearInterval(sampler);
  peak = Math.max(peak, lease.runner.rssBytes() ?? 0);
  lease.release();
  await pool.closeAll();
  const row = [
    `${contextSize} x ${parallel}`,
    mib(est.weightsBytes),
    mib(est.kvCacheBytes),
    mib(est.computeBytes),
    mib(est.runtimeBytes),
    mib(est.totalBytes),
    mib(loaded),
    mib(peak),
    mib(loaded - base),
    mib(peak - base),
    mib(est.totalBytes - est.runtimeBytes),
  ];
  console.log(`${row.join(" | ")}   (MiB)`);
}
rmSync(tmp, { recursive: true, force: true });
