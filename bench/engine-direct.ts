/**
 * The engine without HTTP: node-llama-cpp called in this process, either with its
 * natural per-sequence loops ("naive") or through llmux's BatchScheduler. Prints
 * aggregate decode tok/s per concurrency as JSON on stdout.
 *   node --import tsx bench/engine-direct.ts <naive|scheduler> <model.gguf> <threads> <tokens> <levels> <reps>
 */
import { getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { BatchScheduler } from "../src/engine/runner/scheduler.js";
import type { FromRunner } from "../src/engine/runner/protocol.js";
import { PROMPT } from "./prompt.js";

const [mode, modelPath, threadsArg, tokensArg, levelsArg, repsArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const tokens = Number(tokensArg);
const levels = levelsArg.split(",").map(Number);
const reps = Number(repsArg);
const maxLevel = Math.max(...levels);

const llama = await getLlama({ build: "never", gpu: false, maxThreads: threads, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, useMmap: mode === "naive" });
const context = await model.createContext({ contextSize: 1024, sequences: maxLevel, threads });
const promptText = `<|im_start|>user\n${PROMPT}<|im_end|>\n<|im_start|>assistant\n`;

async function naiveRun(n: number): Promise<number> {
  const seqs = Array.from({ length: n }, () => context.getSequence());
  const prompt = model.tokenize(promptText, true);
  let total = 0;
  await Promise.all(
    seqs.map(async (seq, i) => {
      let count = 0;
      for await (const _t of seq.evaluate(prompt as Token[], { temperature: 0.8, seed: i + 1, yieldEogToken: true })) {
        if (++count >= tokens) break;
      }
      total += count;
    }),
  );
  for (const s of seqs) s.dispose();
  return total;
}

let scheduler: BatchScheduler | null = null;
let onMsg: (m: FromRunner) => void = () => undefined;
async function schedulerRun(n: number): Promise<number> {
  scheduler ??= new BatchScheduler(model, context, (m) => onMsg(m));
  let total = 0;
  let done = 0;
  await new Promise<void>((resolve) => {
    onMsg = (m) => {
      if (m.t === "done") {
        total += m.completionTokens;
        if (++done === n) resolve();
      }
    };
    for (let i = 0; i < n; i++) {
      scheduler!.submit(i + 1, { prompt: promptText, maxTokens: tokens, stop: [], sampling: { temperature: 0.8, seed: i + 1 } });
    }
  });
  return total;
}

const run = mode === "naive" ? naiveRun : schedulerRun;
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
