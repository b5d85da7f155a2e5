/**
 * The standard suite behind docs/PERFORMANCE.md: sections run one after the other, each a
 * function of a shared context returning its own result (chat, embeddings, gateway overhead).
 */
import { resolveServeConfig } from "../config.js";
import { startApp } from "../app.js";
import { VERSION } from "../version.js";
import { BENCH_EMBED_MODEL, BENCH_MODEL, benchHome, ensureBenchEmbedModel, ensureBenchModel } from "./bench-model.js";
import { runEmbeddingsBench } from "./embeddings.js";
import { runGatewayBench } from "./gateway.js";
import { configureGatewayBench, GATEWAY_BENCH_MODEL } from "./gateway-mock.js";
import { silentProgress, type ProgressReporter } from "./progress.js";
import { parsePromptSpec } from "./prompt.js";
import { environment, runBench } from "./runner.js";
import { BENCH_SCHEMA, type BenchProtocol, type LevelPlan, type SuiteCase, type SuiteResult, type SuiteSectionResult } from "./types.js";

/** Engine settings of the in-process llmux the suite measures. */
export const SUITE_ENGINE = { threads: 2, parallel: 8, contextSize: 2048 } as const;
export const SUITE_CONCURRENCY = [1, 4, 8];

/** What every section gets: the server under test and the run settings. */
export interface SuiteContext {
  url: string;
  model: string;
  /** The embedding model of the embeddings section; absent: that section is skipped. */
  embedModel?: string;
  protocol: BenchProtocol;
  apiKey?: string;
  concurrency: number[];
  plan?: LevelPlan;
  warmup: number;
  timeoutMs: number;
  temperature?: number;
  seed?: number;
  progress: ProgressReporter;
  /**
   * Points the server under test at the gateway section's mock upstream (a provider and a rule);
   * returns the base URL and model to request through it. Absent (an external server): the
   * gateway section is skipped.
   */
  gateway?: (mockUrl: string) => Promise<{ url: string; model: string }>;
  /** What loads the gateway section: wrk when installed (`auto`, the default) or the node client. */
  gatewayTool?: "auto" | "wrk" | "node";
}

/** One section of the suite. */
export interface SuiteSection {
  name: string;
  title: string;
  run(ctx: SuiteContext): Promise<SuiteSectionResult>;
}

/** A chat case: a prompt size and an output length. */
interface ChatCase {
  name: string;
  description: string;
  prompt: string;
  maxTokens: number;
}

export const CHAT_CASES: readonly ChatCase[] = [
  { name: "decode", description: "decode-heavy: short prompt (~32 tokens), 128 max tokens", prompt: "short", maxTokens: 128 },
  { name: "prefill", description: "prefill-heavy: long prompt (~1024 tokens), 16 max tokens", prompt: "long", maxTokens: 16 },
];

/** Streaming chat completions, decode- and prefill-heavy, at each concurrency. */
export const chatSection: SuiteSection = {
  name: "chat",
  title: "Chat completions (streaming)",
  async run(ctx) {
    const cases: SuiteCase[] = [];
    for (const c of CHAT_CASES) {
      try {
        const result = await runBench({
          target: {
            url: ctx.url,
            model: ctx.model,
            protocol: ctx.protocol,
            stream: true,
            maxTokens: c.maxTokens,
            temperature: ctx.temperature,
            seed: ctx.seed,
            apiKey: ctx.apiKey,
            timeoutMs: ctx.timeoutMs,
          },
          prompt: parsePromptSpec(c.prompt),
          concurrency: ctx.concurrency,
          plan: ctx.plan,
          warmup: ctx.warmup,
          progress: ctx.progress,
          label: c.name,
        });
        cases.push({ name: c.name, description: c.description, result });
      } catch (err) {
        // One case failing (e.g. a prompt over the server's context) keeps the others' results.
        ctx.progress.note(`${c.name} failed: ${(err as Error).message}`);
        cases.push({ name: c.name, description: c.description, error: (err as Error).message });
      }
    }
    return { name: this.name, title: this.title, status: "ok", cases };
  },
};

/** The embeddings case: batches of this many inputs of this size (a prompt spec), as an indexing job sends them. */
export const EMBEDDINGS_CASE = { name: "batch", batch: 8, input: "64" } as const;

/** `POST /v1/embeddings` throughput at each concurrency: batches of 8 inputs of ~64 tokens. */
export const embeddingsSection: SuiteSection = {
  name: "embeddings",
  title: "Embeddings",
  async run(ctx) {
    if (!ctx.embedModel) return { name: this.name, title: this.title, status: "skipped", reason: "no embedding model given (--embed-model)" };
    const c = EMBEDDINGS_CASE;
    const description = `${c.batch} inputs of ~${c.input} tokens per request`;
    try {
      const embeddings = await runEmbeddingsBench({
        target: { url: ctx.url, model: ctx.embedModel, apiKey: ctx.apiKey, timeoutMs: ctx.timeoutMs },
        input: parsePromptSpec(c.input),
        batch: c.batch,
        concurrency: ctx.concurrency,
        plan: ctx.plan,
        warmup: ctx.warmup,
        progress: ctx.progress,
        label: `embeddings ${c.name}`,
      });
      return { name: this.name, title: this.title, status: "ok", cases: [{ name: c.name, description, embeddings }] };
    } catch (err) {
      ctx.progress.note(`embeddings ${c.name} failed: ${(err as Error).message}`);
      return { name: this.name, title: this.title, status: "ok", cases: [{ name: c.name, description, error: (err as Error).message }] };
    }
  },
};

/** Seconds per gateway cell unless the run gives its own plan. */
export const GATEWAY_SECONDS = 3;

/**
 * Gateway overhead: a mock OpenAI upstream (its own process) straight and through llmux
 * (an `openai-compatible` provider and a rule: pass-through), non-streaming and streaming, at
 * each concurrency; the added latency is llmux's p50 less the direct p50.
 */
export const gatewaySection: SuiteSection = {
  name: "gateway",
  title: "Gateway overhead (mock upstream: direct vs through llmux)",
  async run(ctx) {
    if (!ctx.gateway) return { name: this.name, title: this.title, status: "skipped", reason: "needs the in-process llmux (it adds a provider and a rule)" };
    const gateway = await runGatewayBench({
      route: ctx.gateway,
      concurrency: ctx.concurrency,
      plan: ctx.plan ?? { durationS: GATEWAY_SECONDS },
      tool: ctx.gatewayTool,
      progress: ctx.progress,
    });
    return { name: this.name, title: this.title, status: "ok", cases: [], gateway };
  },
};

export const SUITE_SECTIONS: readonly SuiteSection[] = [chatSection, embeddingsSection, gatewaySection];

export interface SuiteOptions extends Omit<SuiteContext, "url" | "model" | "embedModel" | "progress" | "gateway"> {
  /**
   * Measure this server and model instead of starting llmux in-process with the bench models;
   * `embedModel` for the embeddings section (without it that section is skipped).
   */
  external?: { url: string; model: string; embedModel?: string };
  progress?: ProgressReporter;
  sections?: readonly SuiteSection[];
}

/**
 * Runs every section. Without `external`, starts llmux in-process on 127.0.0.1:0 (bench home,
 * `SUITE_ENGINE` settings, the `bench` and `bench-embed` models generated once) and closes it afterwards. A
 * section that throws is recorded as failed; the others still run.
 */
export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const progress = options.progress ?? silentProgress;
  const startedAt = new Date().toISOString();
  let server: SuiteResult["server"];
  let close = async () => {};
  let gateway: SuiteContext["gateway"];
  if (options.external) {
    const { url, model, embedModel } = options.external;
    server = { inProcess: false, url, model, ...(embedModel ? { embedModel } : {}) };
  } else {
    await ensureBenchModel((path) => progress.note(`generating ${path} (once; takes a while)…`));
    await ensureBenchEmbedModel((path) => progress.note(`generating ${path} (once)…`));
    const config = resolveServeConfig({ host: "127.0.0.1", port: 0, home: benchHome(), engine: { ...SUITE_ENGINE } });
    const app = await startApp({ ...config, logLevel: "warn" }, { logStream: process.stderr });
    close = () => app.close();
    gateway = async (mockUrl) => {
      await configureGatewayBench(app.url, mockUrl);
      return { url: app.url, model: GATEWAY_BENCH_MODEL };
    };
    server = { inProcess: true, url: app.url, model: BENCH_MODEL, embedModel: BENCH_EMBED_MODEL, engine: { ...SUITE_ENGINE } };
    progress.note(`llmux started in-process at ${app.url} (home ${config.home})`);
  }
  const ctx: SuiteContext = { ...options, url: server.url, model: server.model, embedModel: server.embedModel, progress, gateway };
  const sections: SuiteSectionResult[] = [];
  try {
    for (const section of options.sections ?? SUITE_SECTIONS) {
      try {
        sections.push(await section.run(ctx));
      } catch (err) {
        progress.note(`${section.name} failed: ${(err as Error).message}`);
        sections.push({ name: section.name, title: section.title, status: "failed", reason: (err as Error).message });
      }
    }
  } finally {
    await close();
  }
  return { schema: BENCH_SCHEMA, kind: "suite", startedAt, llmuxVersion: VERSION, environment: environment(), server, sections };
}
