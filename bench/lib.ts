import { mkdirSync } from "node:fs";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { synthesizeModel } from "../src/engine/synth/synthesize.js";

/** Where benchmarks keep their synthetic models (not the user's home). */
export const benchHome = (): string => process.env.LLMUX_BENCH_HOME ?? join(homedir(), ".llmux-bench");

/** The `bench` model (Qwen2.5-0.5B shape, Q8_0), generated once and reused. */
export async function ensureBenchModel(): Promise<string> {
  const path = join(benchHome(), "models", "bench.gguf");
  if (!existsSync(path)) {
    mkdirSync(join(benchHome(), "models"), { recursive: true });
    process.stderr.write(`generating ${path} (once)…\n`);
    await synthesizeModel(path, { preset: "bench", seed: 1 });
  }
  return path;
}

/** Median and best of a list of numbers. */
export const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { best: s[s.length - 1], median: s[Math.floor(s.length / 2)], runs: xs.length };
};
