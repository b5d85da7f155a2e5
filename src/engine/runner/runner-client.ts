import { fork, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { LlmuxError } from "../../errors/llmux-error.js";
import { AsyncQueue } from "../../util/async-queue.js";
import type { FromRunner, GenerateParams, RunnerLoadOptions, RunnerStats, ToRunner } from "./protocol.js";

/** What a generation yields to the engine backend. */
export type RunnerEvent = Exclude<FromRunner, { t: "loaded" | "load_failed" | "failed" | "tokens" | "stats" }>;

const STDERR_TAIL_BYTES = 4096;

/** The runner entry next to this file: `.ts` under tsx (tests), `.js` once built. */
function runnerEntry(): { path: string; execArgv: string[] } {
  const here = import.meta.url;
  const ts = here.endsWith(".ts");
  return {
    path: fileURLToPath(new URL(ts ? "./runner-main.ts" : "./runner-main.js", here)),
    execArgv: ts ? ["--import", "tsx"] : [],
  };
}

/**
 * The server's handle on one runner process: spawns it, loads the model, streams
 * generations over IPC, and turns a runner's death into `model_crashed` errors for
 * every request it was serving. Emits `exit` once the process is gone.
 */
export class RunnerClient extends EventEmitter {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly streams = new Map<number, AsyncQueue<RunnerEvent>>();
  private readonly pending = new Map<number, { resolve: (msg: FromRunner) => void; reject: (err: Error) => void }>();
  private stderrTail = "";
  private exited = false;
  info: { contextSize: number; parallel: number; loadMs: number } | null = null;

  constructor(readonly modelId: string) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return !this.exited && this.child !== null;
  }

  /** Requests in flight on this runner (streaming or queued). */
  get inFlight(): number {
    return this.streams.size;
  }

  /** Starts the process and loads the model; rejects with `model_load_failed` naming llama.cpp's reason. */
  async start(options: RunnerLoadOptions): Promise<void> {
    const entry = runnerEntry();
    const child = fork(entry.path, [], {
      execArgv: entry.execArgv,
      // libuv's worker pool competes with llama.cpp's threads on small machines (measured: up to 35% slower).
      env: { ...process.env, UV_THREADPOOL_SIZE: "1" },
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      serialization: "json",
    });
    this.child = child;
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });
    const loaded = new Promise<void>((resolve, reject) => {
      const onMessage = (raw: unknown) => {
        const msg = (raw as FromRunner[]).find((m) => m.t === "loaded" || m.t === "load_failed");
        if (!msg) return;
        if (msg.t === "loaded") {
          this.info = { contextSize: msg.contextSize, parallel: msg.parallel, loadMs: msg.loadMs };
          child.off("message", onMessage);
          resolve();
        } else if (msg.t === "load_failed") {
          child.off("message", onMessage);
          reject(new LlmuxError("model_load_failed", `model '${this.modelId}' failed to load: ${msg.reason}`));
          this.kill();
        }
      };
      child.on("message", onMessage);
      child.once("exit", (code, signal) => {
        reject(
          new LlmuxError(
            "model_load_failed",
            `model '${this.modelId}' failed to load: the runner died (${signal ?? `exit ${code}`})${this.lastWords()}`,
          ),
        );
      });
    });
    child.on("message", (raw: unknown) => {
      for (const msg of raw as FromRunner[]) this.onMessage(msg);
    });
    child.once("exit", (code, signal) => this.onExit(code, signal));
    child.on("error", () => undefined);
    this.send({ t: "load", options });
    await loaded;
  }

  /** Streams one generation; aborting the signal cancels it in the runner and frees its sequence. */
  generate(params: GenerateParams, signal: AbortSignal): AsyncIterable<RunnerEvent> {
    const id = this.nextId++;
    const cancel = () => {
      if (this.streams.delete(id)) this.send({ t: "cancel", id });
    };
    const queue = new AsyncQueue<RunnerEvent>(cancel);
    if (!this.alive) {
      queue.fail(new LlmuxError("model_crashed", `the runner of model '${this.modelId}' is not running`));
      return queue;
    }
    this.streams.set(id, queue);
    if (signal.aborted) cancel();
    else signal.addEventListener("abort", () => {
      cancel();
      queue.end();
    }, { once: true });
    this.send({ t: "generate", id, params });
    return queue;
  }

  /** Counts a rendered prompt's tokens exactly as a generation would (special tokens parsed, BOS added if needed). */
  tokenize(text: string): Promise<number> {
    return this.request<{ t: "tokens"; id: number; count: number }>((id) => ({ t: "tokenize", id, text })).then(
      (m) => m.count,
    );
  }

  stats(): Promise<RunnerStats> {
    return this.request<{ t: "stats"; id: number; stats: RunnerStats }>((id) => ({ t: "stats", id })).then(
      (m) => m.stats,
    );
  }

  /** Resident memory of the runner process, read from the kernel (Linux), in bytes. */
  rssBytes(): number | null {
    if (!this.child?.pid || this.exited) return null;
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, "utf8");
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      return m ? Number(m[1]) * 1024 : null;
    } catch {
      return null;
    }
  }

  /** Ends the runner: that is how a model is unloaded. Resolves once the process is gone. */
  async stop(): Promise<void> {
    if (!this.child || this.exited) return;
    const gone = new Promise<void>((resolve) => this.child?.once("exit", () => resolve()));
    this.kill();
    await gone;
  }

  private kill(): void {
    if (this.child && !this.exited) this.child.kill("SIGKILL");
  }

  private request<M extends FromRunner>(make: (id: number) => ToRunner): Promise<M> {
    const id = this.nextId++;
    return new Promise<M>((resolve, reject) => {
      if (!this.alive) return reject(new LlmuxError("model_crashed", `the runner of model '${this.modelId}' is not running`));
      this.pending.set(id, { resolve: (m) => resolve(m as M), reject });
      this.send(make(id));
    });
  }

  private send(msg: ToRunner): void {
    if (this.child?.connected) this.child.send(msg);
  }

  private onMessage(msg: FromRunner): void {
    if (msg.t === "loaded" || msg.t === "load_failed") return;
    if (msg.t === "tokens" || msg.t === "stats") {
      const done = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      done?.resolve(msg);
      return;
    }
    const queue = this.streams.get(msg.id);
    if (!queue) return;
    if (msg.t === "failed") {
      this.streams.delete(msg.id);
      const code = msg.code === "internal" ? "internal" : msg.code;
      queue.fail(new LlmuxError(code, msg.message));
      return;
    }
    queue.push(msg);
    if (msg.t === "done") {
      this.streams.delete(msg.id);
      queue.end();
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    const err = new LlmuxError(
      "model_crashed",
      `the runner of model '${this.modelId}' died (${signal ?? `exit ${code}`})${this.lastWords()}`,
    );
    for (const q of this.streams.values()) q.fail(err);
    this.streams.clear();
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.emit("exit", { code, signal });
  }

  /** The last meaningful stderr line (llama.cpp's or the C++ runtime's), for error messages. */
  private lastWords(): string {
    const lines = this.stderrTail
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("(node:") && !l.startsWith("(Use `node"));
    const tail = lines.slice(-2).join("; ");
    return tail ? `: ${tail}` : "";
  }
}
