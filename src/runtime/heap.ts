import { setFlagsFromString } from "node:v8";

/**
 * Whether `LLMUX_HEAP_GROWTH=0` asks for V8's own memory behaviour: then none of this module's
 * settings, nor the release of the heap once idle (`idle-heap.ts`), is applied.
 */
export const v8DefaultsAsked = (env: NodeJS.ProcessEnv): boolean => env.LLMUX_HEAP_GROWTH?.trim() === "0";

/** V8's own young-generation growth factor (Node 20), restored once start-up is over. */
const V8_SEMI_SPACE_GROWTH_FACTOR = 2;

let youngGenerationHeld = false;

/**
 * Keeps V8's young generation at its initial size (1 MiB semi-spaces) while the modules load:
 * by default start-up alone grows it to 32 MiB, and V8 keeps that committed. Must run before
 * the application's modules are imported (`bin/llmux.js` calls it first), and be undone with
 * {@link releaseYoungGeneration} once start-up is over: held for good, it starves a busy server
 * of young-generation room (measured: with the audit log off, the gateway benchmark fell from
 * 12,900 to 6,000 req/s, its CPU per request from 83 to 225 µs, all in scavenges).
 * `LLMUX_HEAP_GROWTH=0` leaves V8's default here too. Returns whether it was applied.
 */
export function keepYoungGenerationSmall(env: NodeJS.ProcessEnv = process.env): boolean {
  if (v8DefaultsAsked(env)) return false;
  setFlagsFromString("--semi-space-growth-factor=1");
  youngGenerationHeld = true;
  return true;
}

/**
 * Gives V8 back its own young-generation growth: from here on it grows the young generation
 * when load asks for it, as it would have. Measured on the gateway benchmark: `llmux serve` idles
 * at ~100 MiB RSS instead of ~128, with the same req/s, CPU per request and peak under load.
 * `llmux serve` calls it once listening; every other command before its action runs.
 */
export function releaseYoungGeneration(): void {
  if (!youngGenerationHeld) return;
  youngGenerationHeld = false;
  setFlagsFromString(`--semi-space-growth-factor=${V8_SEMI_SPACE_GROWTH_FACTOR}`);
}

/**
 * Keeps WebAssembly on V8's baseline compiler (Liftoff). undici parses HTTP/1.1 with llhttp
 * built to WebAssembly, and a moment after the first upstream request V8 recompiles that
 * module with TurboFan in the background: that compilation alone takes about 34 MiB, released
 * once done but counted in the process's peak (measured: a bare undici request took a process
 * from 64 to 98 MiB for a moment; the gateway's first request took llmux's peak from 117 to 142 MiB).
 * Liftoff's code parses as fast for what the gateway sends (the gateway benchmark's CPU per
 * request did not rise). `LLMUX_HEAP_GROWTH=0` leaves V8's default here too. Must run before
 * the first upstream connection; returns whether it was applied.
 */
export function keepWasmOnBaselineCompiler(env: NodeJS.ProcessEnv = process.env): boolean {
  if (v8DefaultsAsked(env)) return false;
  setFlagsFromString("--liftoff-only");
  return true;
}

/** The V8 old-generation growth `llmux serve` applies (percent over the live heap after a full GC). */
export const DEFAULT_HEAP_GROWTH_PERCENT = 20;

/**
 * Makes V8 grow the old generation by a fixed `percent` over what a full collection left
 * alive, instead of its own factor (up to 4× while allocation is fast). A server under load
 * promotes many short-lived request objects, and V8's default then lets the heap swell:
 * measured on the gateway benchmark (50 connections), peak RSS 172–179 MiB instead of
 * 205–255 MiB, for about 2% more of the event loop's time in the garbage collector.
 * `LLMUX_HEAP_GROWTH` overrides the percent; `0` leaves V8's default. V8 reads this flag at
 * each collection, so it can be set once the process runs; it is process-wide, hence only
 * applied by the `serve` entry point, never by `startApp` (tests and embedders keep theirs).
 * Returns the percent applied, or null when V8's default is kept.
 */
export function limitHeapGrowth(env: NodeJS.ProcessEnv = process.env): number | null {
  const raw = env.LLMUX_HEAP_GROWTH;
  const percent = raw === undefined || raw.trim() === "" ? DEFAULT_HEAP_GROWTH_PERCENT : Number(raw);
  if (!Number.isInteger(percent) || percent < 0 || percent > 1000) throw new Error(`LLMUX_HEAP_GROWTH must be a whole number of percent (0–1000), not '${raw}'`);
  if (percent === 0) return null;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
