import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { LlmuxError } from "../../errors/llmux-error.js";

const STDERR_TAIL_BYTES = 4096;

/** A process's resident memory in bytes, or null when it cannot be read. */
export function readRss(pid: number): number | null {
  if (process.platform === "linux") {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      return m ? Number(m[1]) * 1024 : null;
    } catch {
      return null;
    }
  }
  try {
    // No /proc (macOS): ps reports RSS in KiB. Synchronous, but only pool status and scrapes ask.
    const kb = Number(execFileSync("ps", ["-o", "rss=", "-p", String(pid)], { encoding: "utf8", timeout: 2000 }).trim());
    return Number.isFinite(kb) && kb > 0 ? kb * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * One model runner child process, whatever it runs (chat or embeddings): spawned
 * with `UV_THREADPOOL_SIZE=1` (libuv's pool competes with llama.cpp's threads on
 * small machines), its stderr tail kept for error messages, its memory read from
 * the kernel, killed to unload. Emits `message` for each IPC message and `exit` once.
 */
export class RunnerProcess extends EventEmitter<{ message: [unknown]; exit: [{ code: number | null; signal: NodeJS.Signals | null }] }> {
  private readonly child: ChildProcess;
  private stderrTail = "";
  /** Why the runner was ended on purpose (a forced unload, shutdown): what its requests get instead of a crash error. */
  private endedBy: LlmuxError | null = null;
  private exited = false;

  /**
   * @param entryUrl the runner's entry module as a URL next to the caller (`new URL("./x-main.js", import.meta.url)`);
   *   under tsx (tests) the `.ts` file beside it is run instead.
   */
  constructor(
    entryUrl: URL,
    readonly modelId: string,
  ) {
    super();
    const ts = entryUrl.href.endsWith(".ts") || import.meta.url.endsWith(".ts");
    const path = fileURLToPath(ts ? new URL(entryUrl.href.replace(/\.js$/, ".ts")) : entryUrl);
    this.child = fork(path, [], {
      execArgv: ts ? ["--import", "tsx"] : [],
      env: { ...process.env, UV_THREADPOOL_SIZE: "1" },
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      serialization: "json",
    });
    this.child.stderr?.setEncoding("utf8");
    this.child.stderr?.on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });
    this.child.on("message", (msg) => this.emit("message", msg));
    this.child.once("exit", (code, signal) => {
      this.exited = true;
      this.emit("exit", { code, signal });
    });
    this.child.on("error", () => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  send(msg: unknown): void {
    if (this.child.connected) this.child.send(msg as object);
  }

  /**
   * Waits for the runner's answer to its load message: `pick` returns the loaded
   * message's payload, a failure reason (string), or undefined for other messages.
   * Rejects with `model_load_failed` naming llama.cpp's reason, or the runner's death.
   */
  awaitLoad<T>(pick: (msg: unknown) => { loaded: T } | { failed: string } | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onMessage = (msg: unknown) => {
        const r = pick(msg);
        if (!r) return;
        this.off("message", onMessage);
        this.off("exit", onExit);
        if ("loaded" in r) resolve(r.loaded);
        else {
          reject(new LlmuxError("model_load_failed", `model '${this.modelId}' failed to load: ${r.failed}`));
          this.kill();
        }
      };
      const onExit = ({ code, signal }: { code: number | null; signal: NodeJS.Signals | null }) => {
        this.off("message", onMessage);
        reject(new LlmuxError("model_load_failed", `model '${this.modelId}' failed to load: the runner died (${signal ?? `exit ${code}`})${this.lastWords()}`));
      };
      this.on("message", onMessage);
      this.once("exit", onExit);
    });
  }

  /** The error every request still held gets when the runner dies. */
  crashError(code: number | null, signal: NodeJS.Signals | null): LlmuxError {
    if (this.endedBy) return this.endedBy;
    return new LlmuxError("model_crashed", `the runner of model '${this.modelId}' died (${signal ?? `exit ${code}`})${this.lastWords()}`);
  }

  /** Resident memory of the process in bytes: `/proc/<pid>/status` on Linux, `ps -o rss=` elsewhere (macOS). */
  rssBytes(): number | null {
    if (!this.child.pid || this.exited) return null;
    return readRss(this.child.pid);
  }

  /**
   * Ends the runner: that is how a model is unloaded. Resolves once the process is gone.
   * `reason`, when given, is what requests still held get instead of a crash.
   */
  async stop(reason?: LlmuxError): Promise<void> {
    if (this.exited) return;
    this.endedBy ??= reason ?? null;
    const gone = new Promise<void>((resolve) => this.once("exit", () => resolve()));
    this.kill();
    await gone;
  }

  kill(): void {
    if (!this.exited) this.child.kill("SIGKILL");
  }

  /** The last meaningful stderr lines (llama.cpp's or the C++ runtime's), for error messages. */
  private lastWords(): string {
    const lines = this.stderrTail
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("(node:") && !l.startsWith("(Use `node") && !l.includes("Using this model"));
    const tail = lines.slice(-2).join("; ");
    return tail ? `: ${tail}` : "";
  }
}
