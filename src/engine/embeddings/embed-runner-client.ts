import { fork, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { fileURLToPath } from "node:url";
import { LlmuxError } from "../../errors/llmux-error.js";
import type { EmbedInput, EmbedRunnerLoadOptions, FromEmbedRunner, ToEmbedRunner } from "./protocol.js";
import { base64ToFloat32 } from "./vectors.js";

const STDERR_TAIL_BYTES = 4096;

/** What one embedding round trip returns. */
export interface EmbedResult {
  /** One L2-normalised vector per input, in input order. */
  vectors: Float32Array[];
  /** Tokens evaluated per input (special tokens included). */
  tokenCounts: number[];
}

/** The runner entry next to this file: `.ts` under tsx (tests), `.js` once built. */
function runnerEntry(): { path: string; execArgv: string[] } {
  const here = import.meta.url;
  const ts = here.endsWith(".ts");
  return {
    path: fileURLToPath(new URL(ts ? "./embed-runner-main.ts" : "./embed-runner-main.js", here)),
    execArgv: ts ? ["--import", "tsx"] : [],
  };
}

interface Pending {
  resolve: (r: EmbedResult) => void;
  reject: (err: Error) => void;
}

/**
 * The server's handle on one embedding runner process: spawns it, loads the model, sends each
 * request's inputs in one message and gets its vectors back in one message. A runner's death
 * fails every request it held with `model_crashed`. Emits `exit` once the process is gone.
 */
export class EmbedRunnerClient extends EventEmitter {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private stderrTail = "";
  private exited = false;
  info: { contextSize: number; dimensions: number; loadMs: number } | null = null;

  constructor(readonly modelId: string) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return !this.exited && this.child !== null;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Starts the process and loads the model; rejects with `model_load_failed` naming llama.cpp's reason. */
  async start(options: EmbedRunnerLoadOptions): Promise<void> {
    const entry = runnerEntry();
    const child = fork(entry.path, [], {
      execArgv: entry.execArgv,
      // libuv's worker pool competes with llama.cpp's threads on small machines.
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
        const msg = raw as FromEmbedRunner;
        if (msg.t === "loaded") {
          this.info = { contextSize: msg.contextSize, dimensions: msg.dimensions, loadMs: msg.loadMs };
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
    child.on("message", (raw: unknown) => this.onMessage(raw as FromEmbedRunner));
    child.once("exit", (code, signal) => this.onExit(code, signal));
    child.on("error", () => undefined);
    this.send({ t: "load", options });
    await loaded;
  }

  /**
   * Embeds all inputs in one round trip. Aborting the signal rejects at once and tells the
   * runner to skip what it has not evaluated yet.
   */
  embed(inputs: EmbedInput[], signal?: AbortSignal): Promise<EmbedResult> {
    return new Promise<EmbedResult>((resolve, reject) => {
      if (!this.alive) {
        reject(new LlmuxError("model_crashed", `the runner of model '${this.modelId}' is not running`));
        return;
      }
      if (signal?.aborted) {
        reject(abortError(signal));
        return;
      }
      const id = this.nextId++;
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        this.send({ t: "cancel", id });
        reject(abortError(signal));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => signal?.removeEventListener("abort", onAbort);
      this.pending.set(id, {
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (err) => {
          done();
          reject(err);
        },
      });
      this.send({ t: "embed", id, inputs });
    });
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

  private send(msg: ToEmbedRunner): void {
    if (this.child?.connected) this.child.send(msg);
  }

  private onMessage(msg: FromEmbedRunner): void {
    if (msg.t !== "embedded" && msg.t !== "failed") return;
    const p = this.pending.get(msg.id);
    if (!p) return; // cancelled
    this.pending.delete(msg.id);
    if (msg.t === "failed") {
      p.reject(new LlmuxError(msg.code, msg.message, msg.param ? { param: msg.param } : {}));
      return;
    }
    const all = base64ToFloat32(msg.data);
    const n = msg.tokenCounts.length;
    if (all.length !== n * msg.dimensions) {
      p.reject(new LlmuxError("internal", `the runner of model '${this.modelId}' sent ${all.length} values for ${n} vectors`));
      return;
    }
    const vectors: Float32Array[] = [];
    for (let i = 0; i < n; i++) vectors.push(all.subarray(i * msg.dimensions, (i + 1) * msg.dimensions));
    p.resolve({ vectors, tokenCounts: msg.tokenCounts });
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    const err = new LlmuxError(
      "model_crashed",
      `the runner of model '${this.modelId}' died (${signal ?? `exit ${code}`})${this.lastWords()}`,
    );
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.emit("exit", { code, signal });
  }

  /** The last meaningful stderr line (llama.cpp's or the C++ runtime's), for error messages. */
  private lastWords(): string {
    const lines = this.stderrTail
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("(node:") && !l.startsWith("(Use `node") && !l.includes("Using this model"));
    const tail = lines.slice(-2).join("; ");
    return tail ? `: ${tail}` : "";
  }
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error("the request was aborted");
}
