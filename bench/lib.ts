import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
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

/**
 * Starts a child and resolves with what it writes on fd 3 (`READY <value>`). Its stdout (the
 * access log) goes to /dev/null: a pipe that the orchestrator drains late would block llmux's
 * synchronous log writes and measure the pipe, not the gateway.
 */
export function startReady(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit", "pipe"], env });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdio[3] as NodeJS.ReadableStream });
    rl.on("line", (line) => {
      if (line.startsWith("READY ")) resolve({ child, line: line.slice(6).trim() });
    });
    child.once("exit", (code) => reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}`)));
  });
}

/** A process's VmRSS, or VmHWM (its peak resident set since it started), in MiB (Linux; NaN elsewhere). */
export function procRssMiB(pid: number | undefined, field: "VmRSS" | "VmHWM" = "VmRSS"): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`${field}:\\s+(\\d+)`));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds a process has used, all its threads, or its main thread alone (Linux; NaN
 * elsewhere). Read around a round and divided by its requests, it gives CPU time per request:
 * steadier than req/s on a noisy machine, since time spent waiting for a core does not count.
 * Exact where the kernel keeps scheduler statistics: each thread's time on a CPU, in ns, from
 * `/proc/PID/task/TID/schedstat` (threads that ended are left out: a server's threads last).
 * Otherwise the user + system ticks of `/proc/PID/stat`, which the kernel samples 100 times a
 * second and charges to whichever thread it finds running, and so can blur the split between
 * threads that take turns on a core.
 */
export function procCpuSeconds(pid: number | undefined, mainThreadOnly = false): number {
  const exact = schedstatSeconds(pid, mainThreadOnly);
  if (!Number.isNaN(exact)) return exact;
  try {
    const stat = readFileSync(mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/** The process's (or its main thread's) time on a CPU from schedstat, in seconds; NaN without schedstat. */
function schedstatSeconds(pid: number | undefined, mainThreadOnly: boolean): number {
  const onCpuNs = (tid: string | number) => Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
  let ns: number;
  try {
    ns = onCpuNs(pid!); // the main thread: without it there is nothing to count
  } catch {
    return NaN;
  }
  if (!mainThreadOnly) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      return NaN;
    }
    for (const tid of tids) {
      if (tid === String(pid)) continue;
      try {
        ns += onCpuNs(tid);
      } catch {
        // the thread ended between the listing and the read
      }
    }
  }
  return Number.isFinite(ns) ? ns / 1e9 : NaN;
}

/** Starts counting a process's CPU time; the function it returns gives the µs per request for `requests` done since. */
export function cpuPerRequest(pid: number | undefined, mainThreadOnly = false): (requests: number) => number {
  const start = procCpuSeconds(pid, mainThreadOnly);
  return (requests) => ((procCpuSeconds(pid, mainThreadOnly) - start) * 1e6) / requests;
}
