#!/usr/bin/env node
import { Command, InvalidArgumentError } from "commander";
import { registerBenchCommand } from "./bench.js";
import { registerLocalModelCommands } from "./local-models.js";
import { registerModelCommands } from "./models.js";
import { registerPullCommand } from "./pull.js";
import { registerServeCommand } from "./serve.js";
import { registerUserCommands } from "./users.js";
import { releaseYoungGeneration } from "../runtime/heap.js";
import { VERSION } from "../version.js";

const program = new Command();
program.name("llmux").description("Local-first LLM server and manager").version(VERSION);
registerServeCommand(program);
registerModelCommands(program);
registerLocalModelCommands(program);
registerPullCommand(program);
registerBenchCommand(program);
registerUserCommands(program);
// bin/llmux.js held V8's young generation small while the modules loaded; `serve` gives it back
// once listening, every other command now (src/runtime/heap.ts).
program.hook("preAction", (_program, action) => {
  if (action.name() !== "serve") releaseYoungGeneration();
});
program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof InvalidArgumentError) process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`llmux: ${(err as Error)?.message ?? err}\n`);
  process.exit(1);
});
