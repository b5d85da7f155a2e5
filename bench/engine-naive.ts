/**
 * node-llama-cpp called directly, the natural way: each sequence in its own
 * `for await` loop over `sequence.evaluate()`, library defaults (mmap, libuv's
 * 4 worker threads). Measures aggregate decode tok/s at the concurrency each stdin line asks for.
 *   node --import tsx bench/engine-naive.ts <model.gguf> <threads> <tokens> <max level>
 */
import { createInterface } from "node:readline";
import { getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { PROMPT_TEXT, SAMPLING } from "./prompt.js";

const [modelPath, threadsArg, tokensArg, maxLevelArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const tokens = Number(tokensArg);
const maxLevel = Number(maxLevelArg);

const llama = await getLlama({ build: "never", gpu: false, maxThreads: threads, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize: 1024, sequences: maxLevel, threads });

let pool: ReturnType<typeof context.getSequence>[] | null = null;
async function naiveRun(n: number): Promise<number> {
  pool ??= Array.from({ length: maxLevel }, () => context.getSequence());
  const seqs = pool.slice(0, n);
  await Promise.all(seqs.map((s) => s.clearHistory()));
  const prompt = model.tokenize(PROMPT_TEXT, true);
  let total = 0;
  await Promise.all(
    seqs.map(async (seq, i) => {
      let count = 0;
      for await (const _t of seq.evaluate(prompt as Token[], { ...SAMPLING, seed: i + 1, yieldEogToken: true })) {
        if (++count >= tokens) break;
      }
      total += count;
    }),
  );
  return total;
}

// Serve mode: one line per measurement on stdin ("<n>"), one line of JSON on stdout
// ({"tps": aggregate tok/s}), so the orchestrator can alternate this path with the others
// round by round (the machine's speed drifts; alternating makes the drift hit every path alike).
await naiveRun(1); // warm-up
process.stdout.write("READY\n");
for await (const line of createInterface({ input: process.stdin })) {
  const n = Number(line.trim());
  if (!Number.isInteger(n) || n < 1 || n > maxLevel) {
    process.stdout.write(`${JSON.stringify({ error: `bad level ${line}` })}\n`);
    continue;
  }
  const t0 = performance.now();
  const total = await naiveRun(n);
  process.stdout.write(`${JSON.stringify({ tps: total / ((performance.now() - t0) / 1000) })}\n`);
}
process.exit(0);
