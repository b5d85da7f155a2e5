import { availableParallelism } from "node:os";
import type { EngineConfig } from "../config.js";
import { LlmuxError } from "../errors/llmux-error.js";
import { withSpan } from "../observability/tracing-spans.js";
import type { ModelSettings } from "../store/model-settings-repo.js";
import type { ModelInfo } from "./gguf/model-info.js";
import { estimateEmbeddingMemory, estimateModelMemory, type MemoryEstimate } from "./pool/estimate.js";
import { formatBytes } from "./pool/memory-budget.js";
import { defaultPoolSettings, PoolSettings } from "./pool/pool-settings.js";
import { RunnerClient } from "./runner/runner-client.js";
import { EmbedRunnerClient } from "./embeddings/embed-runner-client.js";
import type { EmbedRunnerLoadOptions } from "./embeddings/protocol.js";
import type { EmbedLease, LoadedModel, PoolLease, PoolModelKind, PoolModelState, PoolModelStatus, PoolStatus } from "./pool/types.js";
import type { RunnerLoadOptions } from "./runner/protocol.js";
import { withTimeout } from "../core/with-timeout.js";

export type { EmbedLease, LoadedModel, PoolLease, PoolModelKind, PoolModelState, PoolModelStatus, PoolStatus } from "./pool/types.js";

/** The kind a model loads as when nothing says otherwise: an embedding-only model as `embedding`, any other as `chat`. */
export function defaultKind(info: ModelInfo): PoolModelKind {
  return info.capabilities.embeddings && !info.capabilities.chat ? "embedding" : "chat";
}

type Load = { kind: "chat"; options: RunnerLoadOptions } | { kind: "embedding"; options: EmbedRunnerLoadOptions };

type Entry = EntryBase & ({ kind: "chat"; runner: RunnerClient; load: RunnerLoadOptions } | { kind: "embedding"; runner: EmbedRunnerClient; load: EmbedRunnerLoadOptions });
type ChatEntry = Extract<Entry, { kind: "chat" }>;
type EmbedEntry = Extract<Entry, { kind: "embedding" }>;

interface EntryBase {
  /** `kind:id`: a model that can both chat and embed may hold one runner of each kind. */
  key: string;
  id: string;
  lastUsed: number;
  requestsServed: number;
  info: ModelInfo;
  state: PoolModelState;
  estimate: MemoryEstimate;
  /** Requests holding the model (from acquire to release). */
  leases: number;
  /** Settles when the load ends (rejects when it failed). */
  ready: Promise<void>;
  /** Settles once the runner process is gone. */
  gone: Promise<void>;
}

export interface ModelPoolOptions {
  settings?: PoolSettings;
  /** A model's own load settings (context size, slots, threads, GPU layers). */
  modelSettings?: (id: string) => ModelSettings;
  /** How often idle models and the budget are checked, in ms. */
  sweepMs?: number;
  log?: { warn(obj: object, msg: string): void };
}

const inMemoryStore = () => {
  const m = new Map<string, unknown>();
  return { get: async <T,>(k: string) => m.get(k) as T | undefined, set: async (k: string, v: unknown) => void m.set(k, v) };
};

/**
 * Loaded models, chat and embedding alike, each in its own runner process, kept within one
 * memory budget and one maximum count. A model's cost is estimated from its GGUF before
 * loading; to make room the least recently used models are unloaded, never one holding a
 * request or pinned; a model that cannot fit is refused with `pool_exhausted` saying why.
 * Idle models are unloaded after the keep-alive. A loaded model is charged the larger of its estimate and its
 * measured RSS, so an estimate that is too low cannot push the pool over its budget twice.
 *
 * The pool knows no HTTP: routes call it and render its errors.
 */
export class ModelPool {
  private readonly entries = new Map<string, Entry>();
  /** The highest RSS each model (by key) was seen at: its next admission is charged at least this. */
  private readonly observedPeak = new Map<string, number>();
  /** Admissions run one at a time, so two loads cannot both count the same free memory. */
  private admitting: Promise<unknown> = Promise.resolve();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;
  readonly settings: PoolSettings;

  constructor(
    private readonly engine: EngineConfig,
    private readonly options: ModelPoolOptions = {},
  ) {
    this.settings = options.settings ?? new PoolSettings(inMemoryStore(), undefined, { ...defaultPoolSettings(), keepAliveS: 0 });
    this.settings.onChange(() => void this.serialized(() => this.enforce()).catch(() => {}));
    this.sweeper = setInterval(() => this.sweep(), options.sweepMs ?? 1000);
    this.sweeper.unref();
  }

  /**
   * Holds a model for one request, loading it first if needed (concurrent first requests
   * share one load). Rejects with `pool_exhausted` when it cannot fit, `model_load_failed`
   * on a bad file. `countRequest: false` for work that is not a request served (token counting).
   */
  async acquire(info: ModelInfo, { countRequest = true } = {}): Promise<PoolLease> {
    const entry = (await this.hold(info, "chat")) as ChatEntry;
    if (countRequest) entry.requestsServed++;
    return { model: entry, runner: entry.runner, release: this.releaser(entry) };
  }

  /**
   * Holds an embedding model for one request, loading it in its own embedding runner first if
   * needed; the same budget, count, eviction and errors as {@link acquire}.
   */
  async acquireEmbedder(info: ModelInfo, { countRequest = true } = {}): Promise<EmbedLease> {
    const entry = (await this.hold(info, "embedding")) as EmbedEntry;
    if (countRequest) entry.requestsServed++;
    return { id: entry.id, runner: entry.runner, release: this.releaser(entry) };
  }

  /** Loads a model (if needed) as `kind` and resolves once it is ready, without holding it. */
  async ensureLoaded(info: ModelInfo, kind: PoolModelKind = defaultKind(info)): Promise<void> {
    const entry = await this.hold(info, kind);
    this.releaser(entry)();
  }

  /** Ready chat models (the metrics and tests read their runners). */
  list(): LoadedModel[] {
    return [...this.entries.values()].filter((e): e is ChatEntry => e.kind === "chat" && e.state === "ready");
  }

  /** Ready embedding models. */
  listEmbedders(): { id: string; pid?: number; lastUsed: number; dimensions?: number; inFlight: number; rssBytes: number | null }[] {
    return [...this.entries.values()]
      .filter((e): e is EmbedEntry => e.kind === "embedding" && e.state === "ready" && e.runner.alive)
      .map((e) => ({ id: e.id, pid: e.runner.pid, lastUsed: e.lastUsed, dimensions: e.runner.info?.dimensions, inFlight: e.runner.inFlight, rssBytes: e.runner.rssBytes() }));
  }

  /** Ids of every model in the pool (any kind, any state). */
  ids(): string[] {
    return [...new Set([...this.entries.values()].map((e) => e.id))];
  }

  /** Whether the model is in the pool (as any kind when `kind` is absent). */
  has(id: string, kind?: PoolModelKind): boolean {
    return [...this.entries.values()].some((e) => e.id === id && (kind === undefined || e.kind === kind));
  }

  /** Memory charged to the pool now: loading models at their estimate, others at max(estimate, RSS). */
  usedBytes(): number {
    let used = 0;
    for (const e of this.entries.values()) used += this.charge(e);
    return used;
  }

  /** The admin API's view: limits, use, and every model loading, ready or unloading. */
  async status(): Promise<PoolStatus> {
    const s = this.settings.current;
    const models = await Promise.all([...this.entries.values()].map((e) => this.describe(e)));
    return { budget_bytes: this.settings.budgetBytes, used_bytes: this.usedBytes(), max_models: s.maxModels, keep_alive_s: s.keepAliveS, models };
  }

  /** One model's row (its `kind`, else the chat runner before the embedding one), or undefined when it is not in the pool. */
  async describeModel(id: string, kind?: PoolModelKind): Promise<PoolModelStatus | undefined> {
    const e = this.entries.get(key(kind ?? "chat", id)) ?? (kind === undefined ? this.entries.get(key("embedding", id)) : undefined);
    return e ? this.describe(e) : undefined;
  }

  /** What loading a model as `kind` would cost now (its settings applied), before loading it. */
  estimate(info: ModelInfo, kind: PoolModelKind = defaultKind(info)): MemoryEstimate {
    return this.estimateLoad(info, this.loadOptions(info, kind));
  }

  /**
   * Unloads a model (its runners of every kind, or of `kind`). Refuses (`model_busy`) while it
   * holds a request unless `force`, which ends those requests. Resolves false when it was not loaded.
   */
  async unload(id: string, { force = false, kind }: { force?: boolean; kind?: PoolModelKind } = {}): Promise<boolean> {
    const found = [...this.entries.values()].filter((e) => e.id === id && (kind === undefined || e.kind === kind));
    if (found.length === 0) return false;
    await Promise.all(found.filter((e) => e.state === "loading").map((e) => e.ready.catch(() => {})));
    const busy = found.find((e) => this.busy(e));
    if (!force && busy) {
      throw new LlmuxError("model_busy", `model '${id}' is serving ${this.inFlight(busy)} request(s); unload it when they end`);
    }
    const reason = new LlmuxError("model_unloaded", `model '${id}' was unloaded (a forced unload) before this request finished`);
    await Promise.all(found.map((e) => this.unloadEntry(e, reason)));
    return true;
  }

  /** Pins or unpins a model; pinning loads it (resolves once ready). */
  async pin(info: ModelInfo, pinned: boolean): Promise<void> {
    if (pinned) await this.ensureLoaded(info);
    await this.settings.setPinned(info.id, pinned);
  }

  /** Loads the pinned models (at start); a failure is logged, not thrown. */
  async loadPinned(find: (id: string) => Promise<ModelInfo>): Promise<void> {
    await Promise.all(
      this.settings.current.pinned.map(async (id) => {
        try {
          await this.ensureLoaded(await find(id));
        } catch (err) {
          this.options.log?.warn({ model: id, err: (err as Error).message }, "pinned model not loaded");
        }
      }),
    );
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await Promise.allSettled([...this.entries.values()].map((e) => e.ready));
    const reason = new LlmuxError("shutting_down", "the server is shutting down");
    await Promise.all([...this.entries.values()].map((e) => this.unloadEntry(e, reason)));
  }

  // ---- internals ----

  private releaser(entry: Entry): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.leases--;
      entry.lastUsed = Date.now();
    };
  }

  private async hold(info: ModelInfo, kind: PoolModelKind): Promise<Entry> {
    for (;;) {
      if (this.closed) throw new LlmuxError("shutting_down", "the server is shutting down");
      const e = this.entries.get(key(kind, info.id));
      if (!e) {
        await this.serialized(() => this.admit(info, kind));
        continue;
      }
      if (e.state === "loading") {
        await e.ready;
        continue;
      }
      if (e.state === "unloading") {
        await e.gone;
        continue;
      }
      if (!e.runner.alive) {
        await e.gone;
        continue;
      }
      // The file changed since this runner loaded it: load the new one once nothing holds the old.
      if (e.info !== info && !this.busy(e)) {
        await this.unloadEntry(e);
        continue;
      }
      // Taken in the same turn the state was checked: no eviction can slip in between.
      e.leases++;
      e.lastUsed = Date.now();
      return e;
    }
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.admitting.then(fn, fn);
    this.admitting = run.catch(() => {});
    return run;
  }

  /** Makes room for a model (unloading the least recently used that may go) and starts its load. */
  private async admit(info: ModelInfo, kind: PoolModelKind): Promise<void> {
    const k = key(kind, info.id);
    if (this.entries.has(k) || this.closed) return;
    // Models already unloading still hold their memory: wait until they are gone.
    await Promise.all([...this.entries.values()].filter((e) => e.state === "unloading").map((e) => e.gone));
    const load = this.loadOptions(info, kind);
    const estimate = this.estimateLoad(info, load);
    const need = Math.max(estimate.totalBytes, this.observedPeak.get(k) ?? 0);
    const budget = this.settings.budgetBytes;
    const max = this.settings.current.maxModels;
    if (need > budget) {
      const shape = load.kind === "chat" ? `context ${load.options.contextSize} × ${load.options.parallel} slots` : `embedding model, context ${load.options.contextSize}`;
      throw new LlmuxError(
        "pool_exhausted",
        `model '${info.id}' needs about ${formatBytes(need)} (${shape}), more than the whole pool budget of ${formatBytes(budget)}; raise the budget or lower its context size${load.kind === "chat" ? " or slots" : ""}`,
        { extra: { model: info.id, needed_bytes: need, budget_bytes: budget } },
      );
    }
    const candidates = [...this.entries.values()].filter((e) => this.evictable(e)).sort((a, b) => a.lastUsed - b.lastUsed);
    const victims: Entry[] = [];
    let used = this.usedBytes();
    let count = this.entries.size;
    while (used + need > budget || count + 1 > max) {
      const v = candidates.shift();
      if (!v) throw this.exhausted(info.id, kind, need, used, count, victims);
      victims.push(v);
      used -= this.charge(v);
      count--;
    }
    // Marked unloading in this same turn, so no request can take them meanwhile.
    await Promise.all(victims.map((v) => this.unloadEntry(v)));
    this.startLoad(info, load, estimate);
  }

  private exhausted(id: string, kind: PoolModelKind, need: number, used: number, count: number, chosen: Entry[]): LlmuxError {
    const held = [...this.entries.values()]
      .filter((e) => !chosen.includes(e))
      .map(
        (e) =>
          `'${e.id}' (${this.pinned(e.id) ? "pinned" : e.state === "loading" ? "loading" : `serving ${this.inFlight(e)} request(s)`}, ${formatBytes(this.charge(e))}${e.kind === "embedding" ? ", embedding" : ""})`,
      );
    const s = this.settings.current;
    const why =
      count + 1 > s.maxModels
        ? `the pool already holds its maximum of ${s.maxModels} model(s)`
        : `it needs about ${formatBytes(need)} and only ${formatBytes(Math.max(0, this.settings.budgetBytes - used))} of the ${formatBytes(this.settings.budgetBytes)} budget can be freed`;
    return new LlmuxError("pool_exhausted", `cannot load ${kind === "embedding" ? "embedding " : ""}model '${id}': ${why}, and no loaded model can be unloaded now: ${held.join(", ") || "none"}`, {
      extra: { model: id, needed_bytes: need, budget_bytes: this.settings.budgetBytes, used_bytes: used },
      headers: { "retry-after": "5" },
    });
  }

  private startLoad(info: ModelInfo, load: Load, estimate: MemoryEstimate): void {
    let resolveGone!: () => void;
    const gone = new Promise<void>((r) => (resolveGone = r));
    const k = key(load.kind, info.id);
    const base = { key: k, id: info.id, info, state: "loading" as PoolModelState, estimate, leases: 0, lastUsed: Date.now(), requestsServed: 0, ready: Promise.resolve(), gone };
    const entry: Entry =
      load.kind === "chat"
        ? { ...base, kind: "chat", runner: new RunnerClient(info.id), load: load.options }
        : { ...base, kind: "embedding", runner: new EmbedRunnerClient(info.id), load: load.options };
    const runner = entry.runner;
    runner.once("exit", () => {
      if (this.entries.get(k) === entry) this.entries.delete(k);
      resolveGone();
    });
    const start = () => (entry.kind === "chat" ? entry.runner.start(entry.load) : entry.runner.start(entry.load));
    // A span only here: a model already loaded has no load to show.
    entry.ready = withSpan("model.load", { "llmux.model": info.id, "llmux.model.kind": load.kind }, start).then(
      () => {
        if (entry.state === "loading") entry.state = "ready";
        entry.lastUsed = Date.now();
        this.sample(entry);
      },
      (err: unknown) => {
        if (this.entries.get(k) === entry) this.entries.delete(k);
        void runner.stop();
        resolveGone();
        throw err;
      },
    );
    entry.ready.catch(() => {}); // waiters see the error; nobody waiting is fine too
    this.entries.set(k, entry);
  }

  /** `reason`: what requests the model still holds get (a forced unload, shutdown) instead of a crash error. */
  private unloadEntry(e: Entry, reason?: LlmuxError): Promise<void> {
    if (e.state !== "unloading") {
      e.state = "unloading";
      void e.runner.stop(reason);
    }
    return e.gone;
  }

  private loadOptions(info: ModelInfo, kind: PoolModelKind): Load {
    const own = this.options.modelSettings?.(info.id) ?? {};
    const context = own.context_size ?? this.engine.contextSize;
    const contextSize = Math.min(context, info.contextLength || context);
    // A stored setting from another machine (or from before the API capped it) never oversubscribes this one.
    const threads = Math.min(own.threads ?? this.engine.threads, Math.max(1, availableParallelism()));
    const common = { modelPath: info.path, contextSize, threads, useMmap: this.engine.useMmap, vocabSize: info.vocabSize };
    if (kind === "embedding") return { kind, options: common }; // one sequence, on the CPU (the embedding runner's design)
    return {
      kind,
      options: { ...common, parallel: own.parallel ?? this.engine.parallel, ...(own.gpu_layers !== undefined ? { gpuLayers: own.gpu_layers } : {}) },
    };
  }

  private estimateLoad(info: ModelInfo, load: Load): MemoryEstimate {
    return load.kind === "chat"
      ? estimateModelMemory(info, load.options)
      : estimateEmbeddingMemory(info, load.options.contextSize);
  }

  private pinned(id: string): boolean {
    return this.settings.current.pinned.includes(id);
  }

  private inFlight(e: Entry): number {
    return Math.max(e.leases, e.runner.inFlight);
  }

  private busy(e: Entry): boolean {
    return this.inFlight(e) > 0;
  }

  private evictable(e: Entry): boolean {
    return e.state === "ready" && !this.pinned(e.id) && !this.busy(e);
  }

  private charge(e: Entry): number {
    const est = e.estimate.totalBytes;
    if (e.state === "loading") return Math.max(est, this.observedPeak.get(e.key) ?? 0);
    return Math.max(est, this.sample(e) ?? 0);
  }

  /** Reads a runner's RSS and remembers the model's peak. */
  private sample(e: Entry): number | null {
    const rss = e.runner.rssBytes();
    if (rss !== null && rss > (this.observedPeak.get(e.key) ?? 0)) this.observedPeak.set(e.key, rss);
    return rss;
  }

  private async describe(e: Entry): Promise<PoolModelStatus> {
    let slots: number;
    let slotsBusy: number;
    if (e.kind === "chat") {
      slots = e.runner.info?.parallel ?? e.load.parallel;
      slotsBusy = e.runner.inFlight;
      if (e.state === "ready") {
        const stats = await withTimeout(e.runner.stats(), 1000).catch(() => null);
        if (stats) slotsBusy = stats.busySlots;
      }
    } else {
      // One sequence: requests queue in the runner and run one after another.
      slots = 1;
      slotsBusy = Math.min(1, this.inFlight(e));
    }
    return {
      id: e.id,
      kind: e.kind,
      state: e.state,
      estimated_bytes: e.estimate.totalBytes,
      rss_bytes: this.sample(e),
      slots,
      slots_busy: slotsBusy,
      context_size: e.runner.info?.contextSize ?? e.load.contextSize,
      last_used: e.lastUsed,
      requests_served: e.requestsServed,
      pinned: this.pinned(e.id),
    };
  }

  /** Unloads idle models past the keep-alive, and evicts while over the budget or the count. */
  private sweep(): void {
    if (this.closed) return;
    const keepAliveMs = this.settings.current.keepAliveS * 1000;
    const now = Date.now();
    for (const e of this.entries.values()) {
      this.sample(e);
      if (keepAliveMs > 0 && this.evictable(e) && now - e.lastUsed >= keepAliveMs) void this.unloadEntry(e);
    }
    if (this.usedBytes() > this.settings.budgetBytes || this.entries.size > this.settings.current.maxModels) {
      void this.serialized(() => this.enforce()).catch(() => {});
    }
  }

  /** Unloads the least recently used models that may go until the pool is within its limits. */
  private async enforce(): Promise<void> {
    const candidates = [...this.entries.values()].filter((e) => this.evictable(e)).sort((a, b) => a.lastUsed - b.lastUsed);
    const gone: Promise<void>[] = [];
    const live = () => [...this.entries.values()].filter((e) => e.state !== "unloading");
    const used = () => live().reduce((n, e) => n + this.charge(e), 0);
    while ((used() > this.settings.budgetBytes || live().length > this.settings.current.maxModels) && candidates.length > 0) {
      gone.push(this.unloadEntry(candidates.shift()!));
    }
    await Promise.all(gone);
  }
}

const key = (kind: PoolModelKind, id: string): string => `${kind}:${id}`;

