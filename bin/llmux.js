#!/usr/bin/env node
// Runs the built CLI; `npm ci` builds it (the `prepare` script), `npm run build` rebuilds it.
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("llmux is not built yet: run `npm run build` (npm ci does it for you)\n");
  process.exit(1);
}
// Before the CLI's modules load: their loading would grow V8's young generation for good, and
// the first upstream request would compile undici's WebAssembly twice (src/runtime/heap.ts).
const { keepWasmOnBaselineCompiler, keepYoungGenerationSmall } = await import(new URL("../dist/runtime/heap.js", import.meta.url).href);
keepYoungGenerationSmall();
keepWasmOnBaselineCompiler();
await import(entry.href);
