/**
 * Resumable, verified downloads of GGUF files from the hub into the models folder.
 *
 * Each file streams into `<modelsDir>/.partial/<name>.part` (with `Range` when a partial
 * file exists), with a small state JSON beside it so a restart can resume; at the end the
 * whole file is checked against the hub's sha256 and renamed to `<modelsDir>/<name>`.
 * At most `maxConcurrent` files transfer at once; progress is emitted as `progress` events.
 */
import { createHash, randomUUID, type Hash } from "node:crypto";
import { EventEmitter } from "node:events";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, stat, statfs as fsStatfs, truncate } from "node:fs/promises";
import { join } from "node:path";
import { LlmuxError, invalidField, isLlmuxError } from "../errors/llmux-error.js";
import { PARTIAL_DIR, partPath, readAllStates, statePath, writeState, type PartialState } from "./download-state.js";
import type { HubFile } from "./gguf-files.js";
import { DEFAULT_HUB_URL, hubHeaders, hubStatusError, normalizeHubUrl, tokenSource, type TokenOption } from "./hub-client.js";
import { assertRepoFilePath, assertRepoId, encodeRepoPath, localModelName } from "./repo-id.js";

export type DownloadState = "queued" | "downloading" | "paused" | "verifying" | "done" | "failed" | "cancelled";

export interface FileProgress {
  path: string;
  /** Local file name in the models folder. */
  name: string;
  state: DownloadState;
  bytesDone: number;
  bytesTotal: number;
}

/** A snapshot of one download (emitted as the `progress` event). */
export interface DownloadProgress {
  id: string;
  repo: string;
  state: DownloadState;
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second over the last few seconds. */
  speedBps: number;
  /** Seconds left at the current speed; undefined when unknown. */
  etaSeconds?: number;
  files: FileProgress[];
  error?: { code: string; detail: string };
}

/** Free space of the filesystem holding a path (the subset of `fs.statfs` used). */
export type StatfsFn = (path: string) => Promise<{ bavail: number | bigint; bsize: number | bigint }>;

export interface DownloadManagerOptions {
  modelsDir: string;
  hubBaseUrl?: string;
  token?: TokenOption;
  /** Files transferring at once (default 2). */
  maxConcurrent?: number;
  /** Attempts without progress after a dropped connection or a 5xx before failing (default 4). */
  maxRetries?: number;
  /** First retry delay in ms, doubled each time (default 500). */
  retryDelayMs?: number;
  /** Minimum ms between byte-progress events of one download (default 250). */
  progressIntervalMs?: number;
  /** Injected for tests; default `fs.promises.statfs`. */
  statfs?: StatfsFn;
}

const SPEED_WINDOW_MS = 5_000;
const TERMINAL: ReadonlySet<DownloadState> = new Set(["done", "failed", "cancelled"]);

interface FileJob {
  dl: Job;
  spec: Required<HubFile>;
  name: string;
  index: number;
  state: DownloadState;
  bytesDone: number;
  abort?: AbortController;
  running?: Promise<void>;
  /** Hash of the partial file's first `hashedBytes` bytes, kept while writing contiguously. */
  hash?: Hash;
  hashedBytes: number;
}

interface Job {
  id: string;
  repo: string;
  files: FileJob[];
  /** Set by pause/cancel/close; failure comes from a file. */
  userState?: "paused" | "cancelled";
  error?: LlmuxError;
  samples: Array<{ t: number; bytes: number }>;
  lastEmit: number;
  waiters: Array<(p: DownloadProgress) => void>;
}

/** Why a transfer attempt was aborted. */
class Stopped extends Error {}

export class DownloadManager extends EventEmitter {
  readonly modelsDir: string;
  readonly partialDir: string;
  readonly hubBaseUrl: string;
  readonly #token: () => string | undefined;
  readonly #maxConcurrent: number;
  readonly #maxRetries: number;
  readonly #retryDelayMs: number;
  readonly #progressIntervalMs: number;
  readonly #statfs: StatfsFn;
  readonly #jobs = new Map<string, Job>();
  readonly #queue: FileJob[] = [];
  #active = 0;
  #closed = false;

  constructor(opts: DownloadManagerOptions) {
    super();
    this.modelsDir = opts.modelsDir;
    this.partialDir = join(opts.modelsDir, PARTIAL_DIR);
    this.hubBaseUrl = normalizeHubUrl(opts.hubBaseUrl ?? DEFAULT_HUB_URL);
    this.#token = tokenSource(opts.token);
    this.#maxConcurrent = Math.max(1, opts.maxConcurrent ?? 2);
    this.#maxRetries = opts.maxRetries ?? 4;
    this.#retryDelayMs = opts.retryDelayMs ?? 500;
    this.#progressIntervalMs = opts.progressIntervalMs ?? 250;
    this.#statfs = opts.statfs ?? fsStatfs;
  }

  /**
   * Queues the files of `repo` (each with its hub sha256 and size, as `HubClient.listFiles`
   * gives them) and returns the download id. Refuses (`validation_failed`) bad paths, files
   * already present or being downloaded, and downloads that do not fit on the disk.
   */
  async start(repo: string, files: HubFile[]): Promise<string> {
    this.#assertOpen();
    assertRepoId(repo);
    if (!Array.isArray(files) || files.length === 0) throw invalidField("files", "must list at least one file");
    const busy = this.#busyNames();
    const specs: Array<{ spec: Required<HubFile>; name: string }> = [];
    const seen = new Set<string>();
    files.forEach((f, i) => {
      const field = `files.${i}`;
      assertRepoFilePath(f?.path, `${field}.path`);
      if (!Number.isSafeInteger(f.size) || f.size <= 0) throw invalidField(`${field}.size`, "must be a positive integer");
      if (typeof f.sha256 !== "string" || !/^[0-9a-f]{64}$/i.test(f.sha256)) {
        throw invalidField(`${field}.sha256`, "must be the hub's sha256 (the LFS oid) so the file can be verified");
      }
      const name = localModelName(f.path, `${field}.path`);
      if (seen.has(name) || busy.has(name)) throw invalidField(`${field}.path`, `'${name}' is already being downloaded`);
      seen.add(name);
      specs.push({ spec: { path: f.path, size: f.size, sha256: f.sha256.toLowerCase() }, name });
    });
    for (const [i, s] of specs.entries()) {
      if (await exists(join(this.modelsDir, s.name))) throw invalidField(`files.${i}.path`, `model file '${s.name}' already exists`);
    }
    await mkdir(this.partialDir, { recursive: true });
    const id = randomUUID();
    const job = this.#newJob(id, repo);
    // Reuse a partial file left by an earlier download of the very same content; drop any other.
    const existing = new Map((await readAllStates(this.partialDir)).map((s) => [s.name, s]));
    for (const [index, s] of specs.entries()) {
      const old = existing.get(s.name);
      const same = old && old.repo === repo && old.path === s.spec.path && old.sha256 === s.spec.sha256 && old.size === s.spec.size;
      if (!same) await this.#removePartial(s.name);
      job.files.push(this.#newFile(job, s.spec, s.name, index, same ? await sizeOf(partPath(this.partialDir, s.name)) : 0));
    }
    await this.#checkSpace(job);
    for (const f of job.files) {
      await writeState(this.partialDir, this.#stateOf(f));
    }
    this.#jobs.set(id, job);
    for (const f of job.files) this.#enqueue(f);
    this.#emit(job, true);
    this.#pump();
    return id;
  }

  /**
   * Lists the unfinished downloads whose state files are in `<modelsDir>/.partial` (after a
   * restart) and registers them as `paused`; `resume(id)` continues them from their offsets.
   */
  async recover(): Promise<DownloadProgress[]> {
    this.#assertOpen();
    const byId = new Map<string, PartialState[]>();
    for (const s of await readAllStates(this.partialDir)) {
      if (this.#jobs.has(s.downloadId) || this.#busyNames().has(s.name)) continue;
      byId.set(s.downloadId, [...(byId.get(s.downloadId) ?? []), s]);
    }
    const out: DownloadProgress[] = [];
    for (const [id, states] of byId) {
      const job = this.#newJob(id, states[0].repo);
      job.userState = "paused";
      for (const s of states.sort((a, b) => a.index - b.index)) {
        const f = this.#newFile(job, { path: s.path, size: s.size, sha256: s.sha256 }, s.name, s.index, await sizeOf(partPath(this.partialDir, s.name)));
        f.state = "paused";
        job.files.push(f);
      }
      this.#jobs.set(id, job);
      out.push(this.#snapshot(job));
    }
    return out;
  }

  /** Stops the transfer, keeping partial files; `resume` continues with `Range`. */
  async pause(id: string): Promise<DownloadProgress> {
    const job = this.#job(id);
    if (TERMINAL.has(this.#stateOfJob(job))) return this.#snapshot(job);
    job.userState = "paused";
    await this.#stopFiles(job, "paused");
    this.#emit(job, true);
    return this.#snapshot(job);
  }

  /** Continues a paused, recovered or failed download from where its files stopped. */
  async resume(id: string): Promise<DownloadProgress> {
    this.#assertOpen();
    const job = this.#job(id);
    const state = this.#stateOfJob(job);
    if (state !== "paused" && state !== "failed") return this.#snapshot(job);
    for (const f of job.files) if (f.state !== "done") f.bytesDone = await sizeOf(partPath(this.partialDir, f.name));
    await this.#checkSpace(job);
    job.userState = undefined;
    job.error = undefined;
    job.samples = [];
    for (const f of job.files) {
      if (f.state === "done") continue;
      await writeState(this.partialDir, this.#stateOf(f));
      this.#enqueue(f);
    }
    this.#emit(job, true);
    this.#pump();
    return this.#snapshot(job);
  }

  /** Stops the download and removes its partial files and state (finished files stay). */
  async cancel(id: string): Promise<DownloadProgress> {
    const job = this.#job(id);
    if (this.#stateOfJob(job) === "done" || job.userState === "cancelled") return this.#snapshot(job);
    job.userState = "cancelled";
    await this.#stopFiles(job, "cancelled");
    for (const f of job.files) if (f.state !== "done") await this.#removePartial(f.name);
    this.#emit(job, true);
    return this.#snapshot(job);
  }

  /** Snapshot of one download; `download_not_found` for an unknown id. */
  get(id: string): DownloadProgress {
    return this.#snapshot(this.#job(id));
  }

  list(): DownloadProgress[] {
    return [...this.#jobs.values()].map((j) => this.#snapshot(j));
  }

  /** Resolves with the snapshot once the download is done, failed or cancelled. */
  waitFor(id: string): Promise<DownloadProgress> {
    const job = this.#job(id);
    if (TERMINAL.has(this.#stateOfJob(job))) return Promise.resolve(this.#snapshot(job));
    return new Promise((resolve) => job.waiters.push(resolve));
  }

  /**
   * Stops every transfer, leaving partial files and state for a later `recover()` (as a
   * process exit would). The manager accepts nothing afterwards.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.length = 0;
    const running: Promise<void>[] = [];
    for (const job of this.#jobs.values()) {
      for (const f of job.files) {
        f.abort?.abort();
        if (f.running) running.push(f.running);
      }
    }
    await Promise.allSettled(running);
  }

  // ---- scheduling ----

  #newJob(id: string, repo: string): Job {
    return { id, repo, files: [], samples: [], lastEmit: 0, waiters: [] };
  }

  #newFile(dl: Job, spec: Required<HubFile>, name: string, index: number, bytesDone: number): FileJob {
    return { dl, spec, name, index, state: "queued", bytesDone: Math.min(bytesDone, spec.size), hashedBytes: 0 };
  }

  #enqueue(f: FileJob): void {
    f.state = "queued";
    if (!this.#queue.includes(f)) this.#queue.push(f);
  }

  #pump(): void {
    while (!this.#closed && this.#active < this.#maxConcurrent && this.#queue.length > 0) {
      const f = this.#queue.shift()!;
      this.#active++;
      f.abort = new AbortController();
      f.state = "downloading";
      this.#emit(f.dl, true);
      f.running = this.#runFile(f)
        .catch((err) => this.#fail(f, err))
        .finally(() => {
          this.#active--;
          f.abort = undefined;
          f.running = undefined;
          this.#settle(f.dl);
          this.#pump();
        });
    }
  }

  /** Stops a download's queued and running files, waiting until their streams are closed. */
  async #stopFiles(job: Job, to: "paused" | "cancelled"): Promise<void> {
    const running: Promise<void>[] = [];
    for (const f of job.files) {
      if (f.state === "done") continue;
      const q = this.#queue.indexOf(f);
      if (q >= 0) this.#queue.splice(q, 1);
      f.abort?.abort();
      if (f.running) running.push(f.running);
      f.state = to;
    }
    await Promise.allSettled(running);
    for (const f of job.files) if (f.state !== "done") f.state = to;
  }

  #fail(f: FileJob, err: unknown): void {
    if (err instanceof Stopped || f.dl.userState || this.#closed) return;
    f.state = "failed";
    const e = isLlmuxError(err)
      ? err
      : new LlmuxError("upstream_error", `download of '${f.spec.path}' failed`, { cause: err });
    f.dl.error ??= e;
    // One failed file fails the download: stop its other files, keeping their partials for `resume`.
    for (const o of f.dl.files) {
      if (o === f || o.state === "done") continue;
      const q = this.#queue.indexOf(o);
      if (q >= 0) this.#queue.splice(q, 1);
      o.abort?.abort();
      o.state = "failed";
    }
  }

  /** Emits after a file finished and resolves waiters when the download reached an end state. */
  #settle(job: Job): void {
    this.#emit(job, true);
    if (TERMINAL.has(this.#stateOfJob(job)) && !job.files.some((f) => f.running)) {
      const snap = this.#snapshot(job);
      for (const w of job.waiters.splice(0)) w(snap);
    }
  }

  // ---- one file ----

  async #runFile(f: FileJob): Promise<void> {
    const part = partPath(this.partialDir, f.name);
    const signal = f.abort!.signal;
    let failures = 0;
    for (;;) {
      if (signal.aborted) throw new Stopped();
      let offset = await sizeOf(part);
      if (offset > f.spec.size) {
        await truncate(part, 0);
        offset = 0;
      }
      f.bytesDone = offset;
      if (offset === f.spec.size) break;
      const before = offset;
      try {
        await this.#transfer(f, part, offset, signal);
        break;
      } catch (err) {
        if (signal.aborted) throw new Stopped();
        if (isLlmuxError(err) && !err.spec.retryable) throw err;
        const gained = (await sizeOf(part)) > before;
        failures = gained ? 1 : failures + 1;
        if (failures > this.#maxRetries) {
          throw isLlmuxError(err)
            ? err
            : new LlmuxError("upstream_error", `download of '${f.spec.path}' failed after ${this.#maxRetries} retries: the connection to the hub kept dropping`, { cause: err });
        }
        await sleep(this.#retryDelayMs * 2 ** (failures - 1), signal).catch(() => {});
      }
    }
    await this.#verifyAndInstall(f, part, signal);
  }

  /** One HTTP attempt from `offset`; throws on a dropped connection (retried by the caller). */
  async #transfer(f: FileJob, part: string, offset: number, signal: AbortSignal): Promise<void> {
    const url = `${this.hubBaseUrl}/${f.dl.repo}/resolve/main/${encodeRepoPath(f.spec.path)}`;
    const headers = hubHeaders(this.#token(), offset > 0 ? { range: `bytes=${offset}-` } : {});
    // fetch drops Authorization itself on a redirect to another origin (the hub's CDN).
    const res = await fetch(url, { headers, signal, redirect: "follow" });
    if (res.status === 416 && offset > 0) {
      // Our partial is longer than or equal to what the hub has: start over.
      await res.body?.cancel().catch(() => {});
      await truncate(part, 0);
      throw new Error("range not satisfiable");
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel().catch(() => {});
      throw hubStatusError(res.status, `file '${f.spec.path}' of repo '${f.dl.repo}'`);
    }
    if (res.status === 206) {
      const start = /^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "")?.[1];
      if (Number(start) !== offset) {
        await res.body?.cancel().catch(() => {});
        throw new LlmuxError("upstream_error", `the hub answered a range that does not start at byte ${offset} of '${f.spec.path}'`);
      }
    } else {
      offset = 0; // a 200 is the whole file, whatever we asked
    }
    if (offset === 0 || f.hashedBytes !== offset) {
      f.hash = offset === 0 ? createHash("sha256") : undefined;
      f.hashedBytes = 0;
    }
    const fh = await open(part, offset === 0 ? "w" : "a");
    try {
      f.bytesDone = offset;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        if (f.bytesDone + chunk.byteLength > f.spec.size) {
          throw new LlmuxError("upstream_error", `the hub sent more bytes than the ${f.spec.size} listed for '${f.spec.path}'`);
        }
        await fh.write(chunk);
        if (f.hash) {
          f.hash.update(chunk);
          f.hashedBytes += chunk.byteLength;
        }
        f.bytesDone += chunk.byteLength;
        this.#emit(f.dl, false);
      }
    } finally {
      await fh.close();
    }
    if (f.bytesDone < f.spec.size) throw new Error("connection closed before the end of the file");
  }

  async #verifyAndInstall(f: FileJob, part: string, signal: AbortSignal): Promise<void> {
    f.state = "verifying";
    this.#emit(f.dl, true);
    const size = await sizeOf(part);
    let actual: string;
    if (f.hash && f.hashedBytes === size) actual = f.hash.digest("hex");
    else actual = await sha256File(part, signal);
    f.hash = undefined;
    f.hashedBytes = 0;
    if (signal.aborted) throw new Stopped();
    if (size !== f.spec.size || actual !== f.spec.sha256) {
      await this.#removePartial(f.name);
      f.bytesDone = 0;
      throw new LlmuxError(
        "upstream_error",
        `downloaded file '${f.spec.path}' is corrupt (sha256 ${actual} does not match the hub's ${f.spec.sha256}); it was removed`,
      );
    }
    const target = join(this.modelsDir, f.name);
    if (await exists(target)) throw new LlmuxError("validation_failed", `model file '${f.name}' appeared while downloading; not replaced`);
    await rename(part, target);
    await rm(statePath(this.partialDir, f.name), { force: true });
    f.state = "done";
  }

  // ---- helpers ----

  async #checkSpace(job: Job): Promise<void> {
    const needed = job.files.reduce((n, f) => (f.state === "done" ? n : n + f.spec.size - f.bytesDone), 0);
    const st = await this.#statfs(this.modelsDir);
    const free = Number(st.bavail) * Number(st.bsize);
    if (needed > free) {
      throw new LlmuxError(
        "validation_failed",
        `not enough disk space in the models folder: the download needs ${formatBytes(needed)}, ${formatBytes(free)} free`,
        { param: "files", extra: { needed_bytes: needed, free_bytes: free } },
      );
    }
  }

  async #removePartial(name: string): Promise<void> {
    await rm(partPath(this.partialDir, name), { force: true });
    await rm(statePath(this.partialDir, name), { force: true });
  }

  #stateOf(f: FileJob): PartialState {
    return {
      version: 1,
      downloadId: f.dl.id,
      repo: f.dl.repo,
      path: f.spec.path,
      name: f.name,
      size: f.spec.size,
      sha256: f.spec.sha256,
      index: f.index,
      createdAt: new Date().toISOString(),
    };
  }

  #busyNames(): Set<string> {
    const s = new Set<string>();
    for (const j of this.#jobs.values()) {
      if (j.userState === "cancelled") continue;
      for (const f of j.files) if (f.state !== "done" && f.state !== "cancelled") s.add(f.name);
    }
    return s;
  }

  #job(id: string): Job {
    const j = this.#jobs.get(id);
    if (!j) throw new LlmuxError("download_not_found", `no download with id '${String(id).slice(0, 64)}'`);
    return j;
  }

  #assertOpen(): void {
    if (this.#closed) throw new LlmuxError("shutting_down", "the download manager is closed");
  }

  #stateOfJob(job: Job): DownloadState {
    if (job.userState === "cancelled") return "cancelled";
    const st = job.files.map((f) => f.state);
    if (st.every((s) => s === "done")) return "done";
    if (job.error && !job.files.some((f) => f.running)) return "failed";
    if (job.userState === "paused") return "paused";
    if (st.includes("verifying")) return "verifying";
    if (st.includes("downloading")) return "downloading";
    if (job.error) return "failed";
    return "queued";
  }

  #snapshot(job: Job): DownloadProgress {
    const bytesDone = job.files.reduce((n, f) => n + f.bytesDone, 0);
    const bytesTotal = job.files.reduce((n, f) => n + f.spec.size, 0);
    const state = this.#stateOfJob(job);
    const speedBps = state === "downloading" ? speedOf(job.samples) : 0;
    return {
      id: job.id,
      repo: job.repo,
      state,
      bytesDone,
      bytesTotal,
      speedBps,
      etaSeconds: speedBps > 0 ? Math.ceil((bytesTotal - bytesDone) / speedBps) : undefined,
      files: job.files.map((f) => ({ path: f.spec.path, name: f.name, state: f.state, bytesDone: f.bytesDone, bytesTotal: f.spec.size })),
      ...(job.error && state === "failed" ? { error: { code: job.error.code, detail: job.error.detail } } : {}),
    };
  }

  #emit(job: Job, force: boolean): void {
    const now = Date.now();
    const bytes = job.files.reduce((n, f) => n + f.bytesDone, 0);
    job.samples.push({ t: now, bytes });
    while (job.samples.length > 2 && now - job.samples[0].t > SPEED_WINDOW_MS) job.samples.shift();
    if (job.samples.length > 512) job.samples.splice(0, job.samples.length - 512);
    if (!force && now - job.lastEmit < this.#progressIntervalMs) return;
    job.lastEmit = now;
    this.emit("progress", this.#snapshot(job));
  }
}

/** Bytes per second between the oldest and newest sample of the window. */
function speedOf(samples: Array<{ t: number; bytes: number }>): number {
  if (samples.length < 2) return 0;
  const a = samples[0];
  const b = samples[samples.length - 1];
  const dt = (b.t - a.t) / 1000;
  return dt > 0 && b.bytes > a.bytes ? Math.round((b.bytes - a.bytes) / dt) : 0;
}

async function sha256File(path: string, signal: AbortSignal): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path, { signal })) h.update(chunk as Buffer);
  return h.digest("hex");
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Stopped());
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Stopped());
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
