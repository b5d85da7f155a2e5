import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { existsSync } from "node:fs";
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
