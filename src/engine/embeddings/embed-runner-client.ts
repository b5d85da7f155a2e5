import { EventEmitter } from "node:events";
import { LlmuxError } from "../../errors/llmux-error.js";
import { RunnerProcess } from "../runner/runner-process.js";
import type { EmbedInput, EmbedRunnerLoadOptions, FromEmbedRunner, ToEmbedRunner } from "./protocol.js";
import { base64ToFloat32 } from "./vectors.js";

/** What one embedding round trip returns. */
export interface EmbedResult {
  /** One L2-normalised vector per input, in input order. */
  vectors: Float32Array[];
  /** Tokens evaluated per input (special tokens included). */
  tokenCounts: number[];
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
  private proc: RunnerProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  info: { contextSize: number; dimensions: number; loadMs: number } | null = null;

  constructor(readonly modelId: string) {
    super();
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get alive(): boolean {
    return this.proc?.alive ?? false;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Starts the process and loads the model; rejects with `model_load_failed` naming llama.cpp's reason. */
  async start(options: EmbedRunnerLoadOptions): Promise<void> {
    const proc = new RunnerProcess(new URL("./embed-runner-main.js", import.meta.url), this.modelId);
    this.proc = proc;
    const loaded = proc.awaitLoad<NonNullable<EmbedRunnerClient["info"]>>((raw) => {
      const msg = raw as FromEmbedRunner;
      if (msg.t === "loaded") return { loaded: { contextSize: msg.contextSize, dimensions: msg.dimensions, loadMs: msg.loadMs } };
      if (msg.t === "load_failed") return { failed: msg.reason };
      return undefined;
    });
    proc.on("message", (raw) => this.onMessage(raw as FromEmbedRunner));
    proc.once("exit", ({ code, signal }) => this.onExit(proc.crashError(code, signal), code, signal));
    this.send({ t: "load", options });
    this.info = await loaded;
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

  /** Resident memory of the runner process, read from the kernel (null when it cannot be read). */
  rssBytes(): number | null {
    return this.proc?.rssBytes() ?? null;
  }

  /** Ends the runner: that is how a model is unloaded. Resolves once the process is gone. */
  async stop(reason?: LlmuxError): Promise<void> {
    await this.proc?.stop(reason);
  }

  private send(msg: ToEmbedRunner): void {
    this.proc?.send(msg);
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

  private onExit(err: LlmuxError, code: number | null, signal: NodeJS.Signals | null): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.emit("exit", { code, signal });
  }
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error("the request was aborted");
}
