/** The synthetic `bench` model the suite measures, generated once into the bench home. */
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { synthesizeModel } from "../engine/synth/synthesize.js";

/** Where benchmarks keep their models and database (never the user's llmux home): `LLMUX_BENCH_HOME` or `~/.llmux-bench`. */
export const benchHome = (): string => process.env.LLMUX_BENCH_HOME || join(homedir(), ".llmux-bench");

export const BENCH_MODEL = "bench";

/**
 * Makes sure `<bench home>/models/bench.gguf` exists (Qwen2.5-0.5B shape, Q8_0, seed 1, the
 * same file `npm run bench:engine` uses); writes it under a temporary name first so an
 * interrupted run leaves no half-written model behind.
 */
export async function ensureBenchModel(onGenerate?: (path: string) => void): Promise<string> {
  const dir = join(benchHome(), "models");
  const path = join(dir, `${BENCH_MODEL}.gguf`);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  onGenerate?.(path);
  const partial = `${path}.partial-${process.pid}`;
  try {
    await synthesizeModel(partial, { preset: "bench", seed: 1 });
    renameSync(partial, path);
  } finally {
    rmSync(partial, { force: true });
  }
  return path;
}
