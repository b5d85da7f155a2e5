import { RunnerClient } from "../src/engine/runner/runner-client.js";
import { PROMPT } from "./prompt.js";
const r = new RunnerClient("bench");
await r.start({ modelPath: process.argv[2], contextSize: 1024, parallel: 8, threads: 2, useMmap: false });
const promptText = `<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n${PROMPT}<|im_end|>\n<|im_start|>assistant\n`;
const one = async (seed: number) => { let n = 0; for await (const ev of r.generate({ prompt: promptText, maxTokens: 64, stop: [], sampling: { temperature: 0.8, seed } }, new AbortController().signal)) if (ev.t === "done") n = ev.completionTokens; return n; };
await one(1);
for (let rep = 0; rep < 2; rep++) {
  const t0 = performance.now();
  const ns = await Promise.all(Array.from({ length: 8 }, (_, i) => one(i + 1)));
  const total = ns.reduce((a, b) => a + b, 0);
  console.log("fork runner 8:", total, (total / ((performance.now() - t0) / 1000)).toFixed(1));
}
await r.stop();
