import type { Command } from "commander";
import { join } from "node:path";
import { defaultHome } from "../config.js";
import { ModelRegistry, isValidModelId } from "../engine/model-registry.js";
import { PRESETS, synthesizeModel } from "../engine/synth/synthesize.js";
import { positiveInt } from "./options.js";

/** `llmux models …`: synthetic models and the local model list. */
export function registerModelCommands(program: Command): void {
  const models = program.command("models").description("manage local models");

  models
    .command("synth <name>")
    .description("write a GGUF with random weights and a real tokenizer into <home>/models/<name>.gguf")
    .option("--preset <preset>", `one of: ${PRESETS.join(", ")}`, "tiny")
    .option("--seed <n>", "random seed (same seed, same file)", positiveInt("--seed"), 1)
    .option("--home <dir>", "data folder (env LLMUX_HOME, default ~/.llmux)")
    .action(async (name: string, opts: { preset: string; seed: number; home?: string }) => {
      if (!isValidModelId(name)) throw new Error(`invalid model name '${name}': use letters, digits, '.', '-', '_'`);
      if (!(PRESETS as readonly string[]).includes(opts.preset)) throw new Error(`unknown preset '${opts.preset}'; use one of ${PRESETS.join(", ")}`);
      const path = join(opts.home ?? defaultHome(), "models", `${name}.gguf`);
      const started = Date.now();
      await synthesizeModel(path, { preset: opts.preset as (typeof PRESETS)[number], seed: opts.seed });
      process.stdout.write(`wrote ${path} (${opts.preset}, seed ${opts.seed}) in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
    });

  models
    .command("ls")
    .description("list local models")
    .option("--home <dir>", "data folder")
    .action(async (opts: { home?: string }) => {
      const registry = new ModelRegistry(join(opts.home ?? defaultHome(), "models"));
      await registry.refresh();
      for (const m of registry.list()) {
        process.stdout.write(
          `${m.id}\t${m.architecture}\t${(m.parameterCount / 1e6).toFixed(1)}M\t${m.quantization}\tctx ${m.contextLength}\t${(m.sizeBytes / 2 ** 20).toFixed(1)} MiB${m.synthetic ? "\tsynthetic" : ""}\n`,
        );
      }
    });
}
