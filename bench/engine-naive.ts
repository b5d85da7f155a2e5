/**
 * node-llama-cpp called directly, the natural way: each sequence in its own
 * `for await` loop over `sequence.evaluate()`, library defaults (mmap, libuv's
 * 4 worker threads). Prints aggregate decode tok/s per concurrency as JSON.
 *   node --import tsx bench/engine-naive.ts <model.gguf> <threads> <tokens> <levels> <reps>
 */
import { getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { PROMPT_TEXT, SAMPLING } from "./prompt.js";

const [modelPath, threadsArg, tokensArg, levelsArg, repsArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const tokens = Number(tokensArg);
const levels = levelsArg.split(",").map(Number);
const reps = Number(repsArg);
const maxLevel = Math.max(...levels);

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

const run = naiveRun;
await run(1); // warm-up
const out: Record<number, number[]> = {};
for (const n of levels) {
  out[n] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const total = await run(n);
    out[n].push(total / ((performance.now() - t0) / 1000));
  }
}
process.stdout.write(JSON.stringify(out));
process.exit(0);
