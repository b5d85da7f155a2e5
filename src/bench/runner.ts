/**
 * Concurrency levels as closed loops: N workers, each sending its next request as soon as
 * its previous one completes, until the level's request count is reached (or its duration
 * has passed: requests already sent then still finish and count).
 */
import { availableParallelism, cpus } from "node:os";
import { VERSION } from "../version.js";
import { isConfigError, sendRequest } from "./client.js";
import { silentProgress, type ProgressReporter } from "./progress.js";
import { PromptBuilder, type PromptSpec } from "./prompt.js";
import { percentiles } from "./stats.js";
import { BENCH_SCHEMA, type BenchEnvironment, type BenchResult, type BenchTarget, type LevelPlan, type LevelResult, type RequestResult, type UsageSource } from "./types.js";

/** Everything a bench run needs. */
export interface RunOptions {
  target: BenchTarget;
  prompt: PromptSpec;
  /** Concurrency levels, run in this order. */
  concurrency: number[];
  /** Requests or seconds per level; by default max(4, 2 × concurrency) requests. */
  plan?: LevelPlan;
  /** Requests sent one after the other before the first level, not measured. */
  warmup: number;
  progress?: ProgressReporter;
  /** A label for progress lines (suite case name). */
  label?: string;
}

/** The default request count of a level: twice its concurrency, at least 4. */
export const defaultRequests = (concurrency: number): number => Math.max(4, 2 * concurrency);

/** The machine, for the record. */
export function environment(): BenchEnvironment {
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model?.trim() ?? "unknown",
  };
}

/** Runs the warm-up and every level; throws only when a warm-up request shows the setup is wrong. */
export async function runBench(options: RunOptions): Promise<BenchResult> {
  const { target, prompt, concurrency, warmup } = options;
  const progress = options.progress ?? silentProgress;
  const prompts = new PromptBuilder(prompt);
  const startedAt = new Date().toISOString();
  let next = 0;
  const nextPrompt = () => prompts.prompt(next++);

  await warmUp(warmup, () => sendRequest(target, nextPrompt()), progress, options.label);

  const levels: LevelResult[] = [];
  for (const c of concurrency) {
    const plan = options.plan ?? { requests: defaultRequests(c) };
    levels.push(await runLevel(target, c, plan, nextPrompt, progress, options.label));
  }
  return {
    schema: BENCH_SCHEMA,
    kind: "run",
    startedAt,
    llmuxVersion: VERSION,
    environment: environment(),
    config: {
      url: target.url,
      model: target.model,
      protocol: target.protocol,
      stream: target.stream,
      prompt: { spec: prompt.spec, approxTokens: prompt.approxTokens, words: prompt.words },
      maxTokens: target.maxTokens,
      temperature: target.temperature ?? null,
      seed: target.seed ?? null,
      concurrency,
      requests: options.plan?.requests ?? null,
      durationS: options.plan?.durationS ?? null,
      warmup,
      apiKey: Boolean(target.apiKey),
    },
    levels,
  };
}

/** One closed-loop level of `concurrency` workers. */
export async function runLevel(
  target: BenchTarget,
  concurrency: number,
  plan: LevelPlan,
  nextPrompt: () => string,
  progress: ProgressReporter = silentProgress,
  label?: string,
): Promise<LevelResult> {
  const gaps: number[] = [];
  const { results, wallMs } = await closedLoop(concurrency, plan, () => sendRequest(target, nextPrompt(), gaps), progress, label);
  const level = summarizeLevel(concurrency, results, gaps, wallMs);
  progress.levelEnd(level);
  return level;
}

/**
 * The warm-up requests before a run. Throws when one shows the setup is wrong (bad URL, model
 * or key: a 4xx or a refused connection); any other failure is noted and the run goes on.
 */
export async function warmUp(count: number, send: () => Promise<{ ok: boolean; error?: string }>, progress: ProgressReporter, label?: string): Promise<void> {
  const prefix = label ? `${label}: ` : "";
  if (count > 0) progress.note(`${prefix}warm-up (${count} request${count > 1 ? "s" : ""})`);
  for (let i = 0; i < count; i++) {
    const r = await send();
    if (isConfigError(r)) throw new Error(`warm-up request failed: ${r.error}`);
    if (!r.ok) progress.note(`${prefix}warm-up request failed (continuing): ${r.error}`);
  }
}

/**
 * One closed-loop level: `concurrency` workers, each sending its next request as soon as its
 * previous one is answered, until the plan's request count or duration is used up.
 */
export async function closedLoop<R extends { ok: boolean }>(
  concurrency: number,
  plan: LevelPlan,
  send: () => Promise<R>,
  progress: ProgressReporter,
  label?: string,
): Promise<{ results: R[]; wallMs: number }> {
  const results: R[] = [];
  let issued = 0;
  progress.levelStart(`${label ? `${label} ` : ""}c=${concurrency}`, plan);
  const t0 = performance.now();
  const deadline = plan.durationS !== undefined ? t0 + plan.durationS * 1000 : Infinity;
  const more = () => (plan.requests !== undefined ? issued < plan.requests : performance.now() < deadline);
  const worker = async () => {
    while (more()) {
      issued++;
      const r = await send();
      results.push(r);
      progress.request(r.ok);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { results, wallMs: performance.now() - t0 };
}

/** Aggregates a level's request results (pure: tests feed it hand-made results). */
export function summarizeLevel(concurrency: number, results: readonly RequestResult[], itlGaps: readonly number[], wallMs: number): LevelResult {
  const ok = results.filter((r) => r.ok);
  const failed = results.filter((r) => !r.ok);
  const wallS = wallMs / 1000;
  const outputTokens = ok.reduce((sum, r) => sum + r.outputTokens, 0);
  const prompts = ok.filter((r) => r.promptTokens !== null).map((r) => r.promptTokens as number);
  const sources = new Set(ok.map((r) => r.usageSource));
  const usageSource: UsageSource = sources.size === 0 ? "server" : sources.size === 1 ? [...sources][0] : "mixed";
  const perRequest = ok.filter((r) => r.decodeMs !== null && r.decodeMs > 0).map((r) => r.outputTokens / ((r.decodeMs as number) / 1000));
  return {
    concurrency,
    requests: results.length,
    completed: ok.length,
    errors: { count: failed.length, first: failed[0]?.error ?? null },
    wallS,
    requestsPerS: wallS > 0 ? ok.length / wallS : 0,
    outputTokens,
    promptTokensMean: prompts.length ? prompts.reduce((a, b) => a + b, 0) / prompts.length : null,
    usageSource,
    outputTokPerS: wallS > 0 ? outputTokens / wallS : 0,
    perRequestTokPerS: percentiles(perRequest),
    ttftMs: percentiles(ok.filter((r) => r.ttftMs !== null).map((r) => r.ttftMs as number)),
    itlMs: percentiles(itlGaps),
    e2eMs: percentiles(ok.map((r) => r.e2eMs)),
  };
}
