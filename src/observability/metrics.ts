import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { SeriesCounter, SeriesHistogram } from "./series.js";
import type { AuditWriter } from "../audit/audit-writer.js";
import type { ModelPool } from "../engine/model-pool.js";
import type { RunnerClient } from "../engine/runner/runner-client.js";
import type { InferenceEnd, InferenceRetry, InferenceStart, LifecycleBus } from "./lifecycle.js";
import { withTimeout } from "../core/with-timeout.js";

/** Every metric name starts with this. */
export const METRICS_PREFIX = "llmux_";

/** How long a scrape waits for one runner's slot and queue counts before leaving them out. */
const STATS_TIMEOUT_MS = 2000;

/** What the metrics read: the lifecycle bus (pushed), the engine and the audit writer (pulled at scrape time). */
export interface MetricsDeps {
  bus: LifecycleBus;
  pool: ModelPool;
  auditWriter: Pick<AuditWriter, "queueLength">;
  /** Each provider's circuit state, read at scrape time (absent: no providers). */
  breakers?: () => { provider: string; state: "closed" | "half_open" | "open" }[];
}

/** One loaded model's engine state, read once per scrape and shared by every engine gauge. */
interface EngineModel {
  model: string;
  slotsTotal: number | null;
  slotsBusy: number | null;
  queued: number | null;
  rssBytes: number | null;
}

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const ITL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const TPS_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000];
const LOAD_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * Prometheus metrics for one llmux, in its own registry (several servers can share
 * a process). Request metrics come from the lifecycle bus; engine and audit gauges
 * are read when scraped. Labels hold only route templates, model ids (the model
 * served, never the name a client typed), backends and statuses: never prompt text.
 */
export class Metrics {
  readonly registry = new Registry();
  /** `text/plain; version=0.0.4; charset=utf-8`. */
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;

  // Updated by every inference request: series metrics, cheaper per update than prom-client's own (series.ts).
  private readonly requests: SeriesCounter<"route" | "model" | "backend" | "status" | "http_status">;
  private readonly duration: SeriesHistogram<"route" | "status">;
  private readonly ttft: SeriesHistogram<"route" | "model">;
  private readonly interToken: SeriesHistogram<"model">;
  private readonly promptTokens: SeriesCounter<"model">;
  private readonly completionTokens: SeriesCounter<"model">;
  private readonly tokensPerSecond: SeriesHistogram<"model">;
  /** In-flight requests by route, counted here and read at scrape time (a gauge's inc/dec hashes its labels each time). */
  private readonly inFlight = new Map<string, number>();
  private readonly loadDuration: Histogram<"model">;
  /** Runners whose load time has been observed (each load is a new runner). */
  private readonly seenLoads = new WeakSet<RunnerClient>();
  private engineRead: Promise<EngineModel[]> | null = null;
  private readonly onStart = (e: InferenceStart) => this.started(e);
  private readonly onEnd = (e: InferenceEnd) => this.ended(e);
  private readonly onRetry = (e: InferenceRetry) => this.providerRetries.inc({ provider: e.backend });
  private readonly providerRetries: Counter<"provider">;

  constructor(private readonly deps: MetricsDeps) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: METRICS_PREFIX });

    this.requests = new SeriesCounter(
      {
        name: "llmux_requests_total",
        help: "Inference requests finished, by route, model served, backend, outcome (success/error/timeout/cancelled) and HTTP status.",
        labelNames: ["route", "model", "backend", "status", "http_status"],
      },
      this.registry,
    );
    this.duration = new SeriesHistogram(
      {
        name: "llmux_request_duration_seconds",
        help: "Inference request duration from arrival to the last byte (or the client gone), in seconds.",
        labelNames: ["route", "status"],
        buckets: DURATION_BUCKETS,
      },
      this.registry,
    );
    this.ttft = new SeriesHistogram(
      {
        name: "llmux_time_to_first_token_seconds",
        help: "Time from arrival to the first generated token (text, reasoning or tool call), in seconds.",
        labelNames: ["route", "model"],
        buckets: TTFT_BUCKETS,
      },
      this.registry,
    );
    this.interToken = new SeriesHistogram(
      {
        name: "llmux_inter_token_latency_seconds",
        help: "Gaps between consecutive generated tokens, in seconds (one observation per gap).",
        labelNames: ["model"],
        buckets: ITL_BUCKETS,
      },
      this.registry,
    );
    this.promptTokens = new SeriesCounter(
      {
        name: "llmux_prompt_tokens_total",
        help: "Prompt (input) tokens processed, by model.",
        labelNames: ["model"],
      },
      this.registry,
    );
    this.completionTokens = new SeriesCounter(
      {
        name: "llmux_completion_tokens_total",
        help: "Completion (output) tokens generated, by model.",
        labelNames: ["model"],
      },
      this.registry,
    );
    this.tokensPerSecond = new SeriesHistogram(
      {
        name: "llmux_generation_tokens_per_second",
        help: "Per streamed request with at least 2 completion tokens: completion tokens / (duration - time to first token).",
        labelNames: ["model"],
        buckets: TPS_BUCKETS,
      },
      this.registry,
    );
    const inFlight = this.inFlight;
    new Gauge({
      name: "llmux_requests_in_flight",
      help: "Inference requests arrived and not yet finished, by route.",
      labelNames: ["route"],
      registers,
      collect() {
        for (const [route, n] of inFlight) this.set({ route }, n);
      },
    });

    // Engine state, read at scrape time from the pool's runners.
    const engineGauge = (name: string, help: string, pick: (m: EngineModel) => number | null): void => {
      const read = this.engine.bind(this);
      new Gauge({
        name,
        help,
        labelNames: ["model"],
        registers,
        async collect() {
          const models = await read();
          this.reset();
          for (const m of models) {
            const v = pick(m);
            if (v !== null) this.set({ model: m.model }, v);
          }
        },
      });
    };
    engineGauge("llmux_engine_queue_depth", "Requests waiting for a free sequence slot, per loaded model.", (m) => m.queued);
    engineGauge("llmux_engine_slots_busy", "Parallel sequence slots generating now, per loaded model.", (m) => m.slotsBusy);
    engineGauge("llmux_engine_slots_total", "Parallel sequence slots, per loaded model.", (m) => m.slotsTotal);
    engineGauge("llmux_runner_memory_rss_bytes", "Resident memory of each model's runner process, in bytes.", (m) => m.rssBytes);
    const pool = deps.pool;
    new Gauge({
      name: "llmux_models_loaded",
      help: "Models loaded now, each in its own runner process.",
      registers,
      collect() {
        this.set(pool.list().filter((m) => m.runner.alive).length + pool.listEmbedders().length);
      },
    });
    const observeLoads = () => this.observeLoads();
    this.loadDuration = new Histogram({
      name: "llmux_model_load_duration_seconds",
      help: "Time to load a model into a fresh runner process, in seconds (one observation per load).",
      labelNames: ["model"],
      buckets: LOAD_BUCKETS,
      registers,
      collect() {
        observeLoads();
      },
    });

    const writer = deps.auditWriter;
    const breakers = deps.breakers;
    new Gauge({
      name: "llmux_audit_queue_length",
      help: "Audit rows waiting to be written to the store.",
      registers,
      collect() {
        this.set(writer.queueLength);
      },
    });

    this.providerRetries = new Counter({
      name: "llmux_provider_retries_total",
      help: "Failed attempts on a routing target that were followed by a retry or a fallback, by provider (`local` for the engine).",
      labelNames: ["provider"],
      registers,
    });
    new Gauge({
      name: "llmux_provider_breaker_state",
      help: "Circuit breaker state per cloud provider (0 closed, 1 half-open, 2 open).",
      labelNames: ["provider"],
      registers,
      collect() {
        this.reset();
        for (const { provider, state } of breakers?.() ?? []) this.set({ provider }, state === "closed" ? 0 : state === "half_open" ? 1 : 2);
      },
    });

    deps.bus.on("start", this.onStart);
    deps.bus.on("end", this.onEnd);
    deps.bus.on("retry", this.onRetry);
  }

  /** The exposition text for a scrape. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Stops listening to the bus. */
  close(): void {
    this.deps.bus.off("start", this.onStart);
    this.deps.bus.off("end", this.onEnd);
    this.deps.bus.off("retry", this.onRetry);
  }

  private started(e: InferenceStart): void {
    this.inFlight.set(e.route, (this.inFlight.get(e.route) ?? 0) + 1);
  }

  private ended(e: InferenceEnd): void {
    this.inFlight.set(e.route, (this.inFlight.get(e.route) ?? 1) - 1);
    // The model served is a registry id; the name a client asked for is free text and never a label.
    const model = e.modelServed ?? "";
    this.requests.inc({ route: e.route, model, backend: e.backend ?? "", status: e.status, http_status: String(e.httpStatus) });
    this.duration.observe({ route: e.route, status: e.status }, e.durationMs / 1000);
    if (e.ttftMs !== null) this.ttft.observe({ route: e.route, model }, e.ttftMs / 1000);
    if (e.interTokenMs.length > 0) {
      // The series is found once per request, not once per gap.
      const itl = this.interToken.labels({ model });
      for (const gap of e.interTokenMs) itl.observe(gap / 1000);
    }
    if (e.promptTokens) this.promptTokens.inc({ model }, e.promptTokens);
    if (e.completionTokens) this.completionTokens.inc({ model }, e.completionTokens);
    if (e.stream && e.ttftMs !== null && e.completionTokens !== null && e.completionTokens >= 2 && e.durationMs > e.ttftMs) {
      this.tokensPerSecond.observe({ model }, e.completionTokens / ((e.durationMs - e.ttftMs) / 1000));
    }
    // A local request may have loaded its model: note the load now, not only at the next scrape
    // (a provider's request loads nothing, and the scrape still catches every load).
    if (e.backend === null || e.backend === "local") this.observeLoads();
  }

  /** Observes the load time of every runner not seen before. */
  private observeLoads(): void {
    for (const { id, runner } of this.deps.pool.list()) {
      if (!runner.info || this.seenLoads.has(runner)) continue;
      this.seenLoads.add(runner);
      this.loadDuration.observe({ model: id }, runner.info.loadMs / 1000);
    }
  }

  /** One read of the engine per scrape, shared by the engine gauges that collect at the same time. */
  private engine(): Promise<EngineModel[]> {
    this.engineRead ??= this.readEngine().finally(() => {
      this.engineRead = null;
    });
    return this.engineRead;
  }

  private async readEngine(): Promise<EngineModel[]> {
    const loaded = this.deps.pool.list().filter((m) => m.runner.alive);
    // Embedding runners answer one request at a time: no slots or queue to report, only memory.
    const embedders = this.deps.pool
      .listEmbedders()
      .filter((e) => !loaded.some((m) => m.id === e.id))
      .map((e): EngineModel => ({ model: e.id, slotsTotal: null, slotsBusy: null, queued: null, rssBytes: e.rssBytes }));
    const chat = await Promise.all(
      loaded.map(async ({ id, runner }): Promise<EngineModel> => {
        const stats = await withTimeout(runner.stats(), STATS_TIMEOUT_MS).catch(() => null);
        return {
          model: id,
          slotsTotal: stats?.parallel ?? runner.info?.parallel ?? null,
          slotsBusy: stats?.busySlots ?? null,
          queued: stats?.queued ?? null,
          rssBytes: runner.rssBytes() ?? stats?.rssBytes ?? null,
        };
      }),
    );
    return [...chat, ...embedders];
  }
}

