/**
 * Embeddings throughput: closed-loop workers against `POST /v1/embeddings` (OpenAI wire
 * format), each request a batch of distinct inputs from the filler prompt builder. Measures
 * per level requests/s, inputs/s, input tokens/s (from the server's `usage.prompt_tokens`)
 * and request latency.
 */
import { VERSION } from "../version.js";
import { silentProgress, type ProgressReporter } from "./progress.js";
import { PromptBuilder, type PromptSpec } from "./prompt.js";
import { endpointUrl } from "./protocols.js";
import { closedLoop, defaultRequests, environment, warmUp } from "./runner.js";
import { percentiles } from "./stats.js";
import {
  BENCH_SCHEMA,
  type EmbeddingsLevelResult,
  type EmbeddingsRequestResult,
  type EmbeddingsResult,
  type EmbeddingsTarget,
  type LevelPlan,
} from "./types.js";

/** Everything an embeddings run needs. */
export interface EmbeddingsRunOptions {
  target: EmbeddingsTarget;
  /** The size of each input. */
  input: PromptSpec;
  /** Inputs per request. */
  batch: number;
  /** Concurrency levels, run in this order. */
  concurrency: number[];
  /** Requests or seconds per level; by default max(4, 2 × concurrency) requests. */
  plan?: LevelPlan;
  /** Requests sent one after the other before the first level, not measured. */
  warmup: number;
  progress?: ProgressReporter;
  /** A label for progress lines. */
  label?: string;
}

const describeError = (err: unknown): string => {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError") return "timed out";
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e.message}: ${cause}` : String(e?.message ?? err);
};

/**
 * Sends one embeddings request and measures it. Never throws: failures (HTTP errors, network
 * errors, a response without one vector per input) come back as `ok: false` with the reason.
 */
export async function sendEmbeddings(target: EmbeddingsTarget, inputs: string[]): Promise<EmbeddingsRequestResult> {
  const t0 = performance.now();
  const failed = (error: string): EmbeddingsRequestResult => ({ ok: false, error, e2eMs: performance.now() - t0, inputs: inputs.length, promptTokens: null });
  try {
    const res = await fetch(endpointUrl(target.url, "/embeddings"), {
      method: "POST",
      headers: { "content-type": "application/json", ...(target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {}) },
      // Floats, the wire format's default, stated: base64 would move the decoding cost to us.
      body: JSON.stringify({ model: target.model, input: inputs, encoding_format: "float" }),
      signal: AbortSignal.timeout(target.timeoutMs),
    });
    const text = await res.text();
    const end = performance.now();
    if (!res.ok) return failed(`HTTP ${res.status}${text ? `: ${text.replace(/\s+/g, " ").slice(0, 200)}` : ""}`);
    // Wire JSON is read defensively, so `any` is the honest type.
    const json = JSON.parse(text) as Record<string, any>;
    const data: unknown[] = Array.isArray(json?.data) ? json.data : [];
    const vectors = data.filter((d) => Array.isArray((d as Record<string, unknown>)?.embedding) && ((d as { embedding: unknown[] }).embedding.length > 0));
    if (vectors.length !== inputs.length) return failed(`expected ${inputs.length} embeddings, got ${vectors.length}`);
    const prompt = json?.usage?.prompt_tokens;
    return { ok: true, e2eMs: end - t0, inputs: inputs.length, promptTokens: typeof prompt === "number" && Number.isFinite(prompt) ? prompt : null };
  } catch (err) {
    return failed(describeError(err));
  }
}

/** Runs the warm-up and every level; throws only when a warm-up request shows the setup is wrong (bad URL, model, key). */
export async function runEmbeddingsBench(options: EmbeddingsRunOptions): Promise<EmbeddingsResult> {
  const { target, input, batch, concurrency, warmup } = options;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, not ${batch}`);
  const progress = options.progress ?? silentProgress;
  const prompts = new PromptBuilder(input);
  const startedAt = new Date().toISOString();
  let next = 0;
  // Every input distinct (its own `Ref N.` tag), so no server can answer from a cache.
  const nextBatch = () => Array.from({ length: batch }, () => prompts.prompt(next++));

  await warmUp(warmup, () => sendEmbeddings(target, nextBatch()), progress, options.label);

  const levels: EmbeddingsLevelResult[] = [];
  for (const c of concurrency) {
    const plan = options.plan ?? { requests: defaultRequests(c) };
    levels.push(await runEmbeddingsLevel(target, c, plan, nextBatch, progress, options.label));
  }
  return {
    schema: BENCH_SCHEMA,
    kind: "embeddings",
    startedAt,
    llmuxVersion: VERSION,
    environment: environment(),
    config: {
      url: target.url,
      model: target.model,
      batch,
      input: { spec: input.spec, approxTokens: input.approxTokens, words: input.words },
      concurrency,
      requests: options.plan?.requests ?? null,
      durationS: options.plan?.durationS ?? null,
      warmup,
      apiKey: Boolean(target.apiKey),
    },
    levels,
  };
}

/** One closed-loop level of `concurrency` workers, each sending its next batch as soon as its previous one is answered. */
export async function runEmbeddingsLevel(
  target: EmbeddingsTarget,
  concurrency: number,
  plan: LevelPlan,
  nextBatch: () => string[],
  progress: ProgressReporter = silentProgress,
  label?: string,
): Promise<EmbeddingsLevelResult> {
  const { results, wallMs } = await closedLoop(concurrency, plan, () => sendEmbeddings(target, nextBatch()), progress, label);
  const level = summarizeEmbeddingsLevel(concurrency, results, wallMs);
  progress.levelEnd(level);
  return level;
}

/** Aggregates a level's request results (pure: tests feed it hand-made results). */
export function summarizeEmbeddingsLevel(concurrency: number, results: readonly EmbeddingsRequestResult[], wallMs: number): EmbeddingsLevelResult {
  const ok = results.filter((r) => r.ok);
  const failed = results.filter((r) => !r.ok);
  const wallS = wallMs / 1000;
  const rate = (n: number) => (wallS > 0 ? n / wallS : 0);
  const reported = ok.filter((r) => r.promptTokens !== null);
  const inputTokens = reported.length ? reported.reduce((sum, r) => sum + (r.promptTokens as number), 0) : null;
  return {
    concurrency,
    requests: results.length,
    completed: ok.length,
    errors: { count: failed.length, first: failed[0]?.error ?? null },
    wallS,
    requestsPerS: rate(ok.length),
    inputsPerS: rate(ok.reduce((sum, r) => sum + r.inputs, 0)),
    inputTokens,
    inputTokPerS: inputTokens !== null && reported.length === ok.length ? rate(inputTokens) : null,
    latencyMs: percentiles(ok.map((r) => r.e2eMs)),
  };
}
