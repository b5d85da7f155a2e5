import { EventEmitter } from "node:events";
import { LlmuxError } from "../../errors/llmux-error.js";
import { AsyncQueue } from "../../util/async-queue.js";
import type { FromRunner, GenerateParams, RunnerLoadOptions, RunnerStats, ToRunner } from "./protocol.js";
import { RunnerProcess } from "./runner-process.js";

/** What a generation yields to the engine backend. */
export type RunnerEvent = Exclude<FromRunner, { t: "loaded" | "load_failed" | "failed" | "tokens" | "stats" }>;

/**
 * The server's handle on one chat runner process: loads the model, streams
 * generations over IPC, and turns a runner's death into `model_crashed` errors for
 * every request it was serving. Emits `exit` once the process is gone.
 */
export class RunnerClient extends EventEmitter {
  private proc: RunnerProcess | null = null;
  private nextId = 1;
  private readonly streams = new Map<number, AsyncQueue<RunnerEvent>>();
  private readonly pending = new Map<number, { resolve: (msg: FromRunner) => void; reject: (err: Error) => void }>();
  info: { contextSize: number; parallel: number; loadMs: number } | null = null;

  constructor(readonly modelId: string) {
    super();
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get alive(): boolean {
    return this.proc?.alive ?? false;
  }

  /** Requests in flight on this runner (streaming or queued). */
  get inFlight(): number {
    return this.streams.size;
  }

  /** Starts the process and loads the model; rejects with `model_load_failed` naming llama.cpp's reason. */
  async start(options: RunnerLoadOptions): Promise<void> {
    const proc = new RunnerProcess(new URL("./runner-main.js", import.meta.url), this.modelId);
    this.proc = proc;
    const loaded = proc.awaitLoad<NonNullable<RunnerClient["info"]>>((raw) => {
      const msg = (raw as FromRunner[]).find((m) => m.t === "loaded" || m.t === "load_failed");
      if (msg?.t === "loaded") return { loaded: { contextSize: msg.contextSize, parallel: msg.parallel, loadMs: msg.loadMs } };
      if (msg?.t === "load_failed") return { failed: msg.reason };
      return undefined;
    });
    proc.on("message", (raw) => {
      for (const msg of raw as FromRunner[]) this.onMessage(msg);
    });
    proc.once("exit", ({ code, signal }) => this.onExit(proc.crashError(code, signal), code, signal));
    proc.send({ t: "load", options } satisfies ToRunner);
    this.info = await loaded;
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
    else
      signal.addEventListener(
        "abort",
        () => {
          cancel();
          queue.end();
        },
        { once: true },
      );
    this.send({ t: "generate", id, params });
    return queue;
  }

  /** Counts a rendered prompt's tokens exactly as a generation would (special tokens parsed, BOS added if needed). */
  tokenize(text: string): Promise<number> {
    return this.request<{ t: "tokens"; id: number; count: number }>((id) => ({ t: "tokenize", id, text })).then((m) => m.count);
  }

  stats(): Promise<RunnerStats> {
    return this.request<{ t: "stats"; id: number; stats: RunnerStats }>((id) => ({ t: "stats", id })).then((m) => m.stats);
  }

  /** Resident memory of the runner process, read from the kernel (Linux), in bytes. */
  rssBytes(): number | null {
    return this.proc?.rssBytes() ?? null;
  }

  /** Ends the runner: that is how a model is unloaded. Resolves once the process is gone. */
  async stop(reason?: LlmuxError): Promise<void> {
    await this.proc?.stop(reason);
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
    this.proc?.send(msg);
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
      queue.fail(new LlmuxError(msg.code, msg.message));
      return;
    }
    queue.push(msg);
    if (msg.t === "done") {
      this.streams.delete(msg.id);
      queue.end();
    }
  }

  private onExit(err: LlmuxError, code: number | null, signal: NodeJS.Signals | null): void {
    for (const q of this.streams.values()) q.fail(err);
    this.streams.clear();
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.emit("exit", { code, signal });
  }
}
