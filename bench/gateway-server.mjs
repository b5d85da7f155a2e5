// llmux for bench:gateway, in its own process, from the compiled build (dist/, as `llmux serve`
// runs when installed): a fresh home, port 0, default settings (access log, audit and tracing on,
// the heap settings `llmux serve` applies, and its release of the heap once idle).
// Writes `READY <url>` on fd 3 once listening. LLMUX_BENCH_DIST points it at another build's dist/
// (bench/gateway-ab.ts compares builds side by side).
import { mkdtempSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const dist = process.env.LLMUX_BENCH_DIST ? pathToFileURL(`${process.env.LLMUX_BENCH_DIST.replace(/\/+$/, "")}/`).href : new URL("../dist/", import.meta.url).href;
// As `bin/llmux.js` and `llmux serve` do, before the app's modules load (builds from before a
// setting existed lack it).
const heap = await import(`${dist}runtime/heap.js`).catch(() => null);
heap?.keepYoungGenerationSmall?.();
heap?.keepWasmOnBaselineCompiler?.();
heap?.limitHeapGrowth();
const { startApp } = await import(`${dist}app.js`);
const { resolveServeConfig } = await import(`${dist}config.js`);
const home = mkdtempSync(join(tmpdir(), "llmux-bench-gw-"));
const app = await startApp(resolveServeConfig({ host: "127.0.0.1", port: 0, home }));
heap?.releaseYoungGeneration?.();
(await import(`${dist}runtime/idle-heap.js`).catch(() => null))?.releaseHeapWhenIdle();
writeSync(3, `READY ${app.url}\n`); // fd 3: the bench reads it; stdout carries the access log
const stop = () => void app.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
