import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { performance } from "node:perf_hooks";
import { runInNewContext } from "node:vm";
import { v8DefaultsAsked } from "./heap.js";

/** How often the process looks at its event loop and young generation. */
export const IDLE_CHECK_MS = 5_000;
/** Event-loop utilisation under which a window counts as quiet (1%: timers and the odd health check). */
export const QUIET_UTILISATION = 0.01;
/**
 * Quiet windows in a row before the collection: V8 judges "allocating slowly" over its last
 * 5 s, so a collection sooner after a burst would not shrink anything.
 */
export const QUIET_WINDOWS = 2;
/** The young generation's size (MiB) above which it is worth giving back; V8 starts at 1 MiB semi-spaces (2 MiB). */
const ENLARGED_YOUNG_MIB = 4;

type GcFunction = (options?: { type?: "major" | "minor"; execution?: "sync" | "async" }) => void | Promise<void>;

/** What the release loop reads and does; the defaults are the process's own (tests pass their own). */
export interface IdleHeapProbe {
  /** Event-loop utilisation (0–1) since the previous call. */
  utilisation(): number;
  /** The young generation's committed size, MiB. */
  youngMiB(): number;
  /** One full collection. */
  collect(): void;
}

/**
 * V8's `gc` function without starting node with `--expose-gc`: the flag, set at run time,
 * exposes `gc` in contexts created after it, and is turned off again at once so later
 * contexts and worker threads do not get it.
 */
function gcFunction(): GcFunction {
  setFlagsFromString("--expose-gc");
  try {
    return runInNewContext("gc") as GcFunction;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
}

function processProbe(): IdleHeapProbe {
  let last = performance.eventLoopUtilization();
  let gc: GcFunction | null = null;
  return {
    utilisation() {
      const now = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(now, last);
      last = now;
      return delta.utilization;
    },
    youngMiB: () => (getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0) / 1048576,
    collect() {
      gc ??= gcFunction();
      void gc({ type: "major", execution: "sync" });
    },
  };
}

/**
 * Gives a burst's memory back once the server is quiet again. Under load V8 grows the young
 * generation to 32 MiB (16 MiB semi-spaces) and shrinks it only at a collection made while
 * the process allocates slowly, which an idle server hardly ever makes: measured on the
 * gateway benchmark, llmux stayed at ~145 MiB RSS for good after a load that started from
 * ~93. Every {@link IDLE_CHECK_MS} this reads the event loop's utilisation; after
 * {@link QUIET_WINDOWS} quiet windows in a row with the young generation still enlarged, it
 * runs one full collection (V8 then shrinks the young generation to its start size and
 * compacts the old one: 1.3 ms measured after the gateway benchmark, when nothing is waiting).
 * A busy or small-heap process never pays anything but the check. `LLMUX_HEAP_GROWTH=0` (V8's
 * own memory behaviour) turns it off. Returns a function that stops it, or null when off.
 */
export function releaseHeapWhenIdle(env: NodeJS.ProcessEnv = process.env, probe?: IdleHeapProbe, everyMs = IDLE_CHECK_MS): (() => void) | null {
  if (v8DefaultsAsked(env)) return null;
  const p = probe ?? processProbe();
  let quiet = 0;
  const timer = setInterval(() => {
    quiet = p.utilisation() < QUIET_UTILISATION ? quiet + 1 : 0;
    if (quiet < QUIET_WINDOWS || p.youngMiB() <= ENLARGED_YOUNG_MIB) return;
    quiet = 0;
    p.collect();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
