import type { Command } from "commander";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { defaultHome } from "../config.js";
import { ModelRegistry, isValidModelId } from "../engine/model-registry.js";
import { PRESETS, synthesizeModel } from "../engine/synth/synthesize.js";
import { listLocalModels } from "./local-models.js";
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
    .option("--force", "replace a model file of that name (by default an existing file is kept and the command fails)")
    .action(async (name: string, opts: { preset: string; seed: number; home?: string; force?: boolean }) => {
      if (!isValidModelId(name)) throw new Error(`invalid model name '${name}': use letters, digits, '.', '-', '_'`);
      if (!(PRESETS as readonly string[]).includes(opts.preset)) throw new Error(`unknown preset '${opts.preset}'; use one of ${PRESETS.join(", ")}`);
      const dir = join(opts.home ?? defaultHome(), "models");
      const path = join(dir, `${name}.gguf`);
      // The name may be a downloaded model's (one file, or a split set): random weights must not replace or shadow it unasked.
      if (!opts.force && existsSync(path)) throw new Error(`${path} exists: pick another name, or pass --force to replace it`);
      if (existsSync(dir)) {
        const registry = new ModelRegistry(dir);
        await registry.refresh();
        if (registry.files(name).length > 0 && !existsSync(path)) throw new Error(`a model named '${name}' is already in ${dir}: pick another name`);
      }
      const started = Date.now();
      await synthesizeModel(path, { preset: opts.preset as (typeof PRESETS)[number], seed: opts.seed });
      process.stdout.write(`wrote ${path} (${opts.preset}, seed ${opts.seed}) in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
    });

  models
    .command("ls")
    .description("list local models (the same as `llmux ls`)")
    .option("--home <dir>", "data folder (env LLMUX_HOME, default ~/.llmux)")
    .action(async (opts: { home?: string }) => {
      process.stdout.write(await listLocalModels(opts.home ?? defaultHome()));
    });
}
