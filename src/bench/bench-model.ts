/** The synthetic models the suite measures, generated once into the bench home. */
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { synthesizeModel, type SynthPresetName } from "../engine/synth/synthesize.js";

/** Where benchmarks keep their models and database (never the user's llmux home): `LLMUX_BENCH_HOME` or `~/.llmux-bench`. */
export const benchHome = (): string => process.env.LLMUX_BENCH_HOME || join(homedir(), ".llmux-bench");

export const BENCH_MODEL = "bench";
/** The suite's embedding model (bge-small-en-v1.5 shape, F16). */
export const BENCH_EMBED_MODEL = "bench-embed";

/**
 * Makes sure `<bench home>/models/bench.gguf` exists (Qwen2.5-0.5B shape, Q8_0, seed 1, the
 * same file `npm run bench:engine` uses); writes it under a temporary name first so an
 * interrupted run leaves no half-written model behind.
 */
export function ensureBenchModel(onGenerate?: (path: string) => void): Promise<string> {
  return ensureModel(BENCH_MODEL, "bench", onGenerate);
}

/** Makes sure `<bench home>/models/bench-embed.gguf` exists (the `bench-embed` preset, seed 1), like {@link ensureBenchModel}. */
export function ensureBenchEmbedModel(onGenerate?: (path: string) => void): Promise<string> {
  return ensureModel(BENCH_EMBED_MODEL, "bench-embed", onGenerate);
}

async function ensureModel(name: string, preset: SynthPresetName, onGenerate?: (path: string) => void): Promise<string> {
  const dir = join(benchHome(), "models");
  const path = join(dir, `${name}.gguf`);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  onGenerate?.(path);
  const partial = `${path}.partial-${process.pid}`;
  try {
    await synthesizeModel(partial, { preset, seed: 1 });
    renameSync(partial, path);
  } finally {
    rmSync(partial, { force: true });
  }
  return path;
}
