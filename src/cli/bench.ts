import { writeFileSync } from "node:fs";
import { InvalidArgumentError, Option, type Command } from "commander";
import { StderrProgress } from "../bench/progress.js";
import { parsePromptSpec } from "../bench/prompt.js";
import { compareResults, formatComparison, formatRun, formatSuite, levelsOf, loadResult } from "../bench/report.js";
import { runBench } from "../bench/runner.js";
import { SUITE_CONCURRENCY, runSuite } from "../bench/suite.js";
import type { BenchProtocol, BenchResult, LevelPlan, SuiteResult } from "../bench/types.js";
import { positiveInt } from "./options.js";

const nonNegativeInt = (name: string) => (value: string): number => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return Number(value);
};

const positiveNumber = (name: string) => (value: string): number => {
  const n = Number(value);
  if (!value.trim() || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

const temperature = (value: string): number => {
  const n = Number(value);
  if (!value.trim() || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError("--temperature must be a number >= 0");
  return n;
};

const concurrencyList = (value: string): number[] => {
  const parts = value.split(",").map((s) => s.trim());
  if (!parts.every((p) => /^\d+$/.test(p) && Number(p) >= 1)) {
    throw new InvalidArgumentError("--concurrency must be a comma-separated list of positive integers, e.g. 1,4,8");
  }
  return parts.map(Number);
};

const promptSize = (value: string): string => {
  try {
    parsePromptSpec(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
};

interface BenchOptions {
  url: string;
  model?: string;
  embedModel?: string;
  apiKey?: string;
  prompt: string;
  maxTokens: number;
  concurrency: number[];
  requests?: number;
  duration?: number;
  warmup: number;
  stream: boolean;
  protocol: BenchProtocol;
  temperature?: number;
  seed?: number;
  timeout: number;
  json?: boolean;
  compare?: string;
  out?: string;
  suite?: boolean;
}

/** `llmux bench`: a closed-loop load generator for OpenAI- and Anthropic-compatible servers. */
export function registerBenchCommand(program: Command): void {
  program
    .command("bench")
    .description(
      "measure an OpenAI-compatible server (llmux, llama-server, Ollama, vLLM…) or an Anthropic Messages one: " +
        "req/s, output tok/s, time to first token, inter-token and end-to-end latency per concurrency level",
    )
    .option("--url <base>", "server base URL; /v1 is appended unless it ends with /v1", "http://127.0.0.1:11435")
    .option("--model <id>", "model to request (required unless --suite)")
    .option("--embed-model <id>", "--suite with --url: the embedding model of the embeddings section (without it, that section is skipped)")
    .addOption(new Option("--api-key <key>", "API key: Authorization: Bearer (openai) or x-api-key (anthropic); never printed").env("LLMUX_API_KEY"))
    .option("--prompt <size>", "prompt size: short (~32 tokens), medium (~256), long (~1024) or a token count", promptSize, "short")
    .option("--max-tokens <n>", "max output tokens per request", positiveInt("--max-tokens"), 64)
    .addOption(new Option("--concurrency <list>", "concurrency levels, comma-separated, e.g. 1,4,8").argParser(concurrencyList).default([1], "1"))
    .addOption(
      new Option("--requests <n>", "requests per level (default: 2 × concurrency, at least 4)").argParser(positiveInt("--requests")).conflicts("duration"),
    )
    .option("--duration <seconds>", "run each level for this long instead of a request count", positiveNumber("--duration"))
    .option("--warmup <n>", "unmeasured requests sent before the first level", nonNegativeInt("--warmup"), 1)
    .option("--no-stream", "send non-streaming requests (no TTFT or inter-token latency)")
    .addOption(new Option("--protocol <protocol>", "wire protocol").choices(["openai", "anthropic"]).default("openai"))
    .option("--temperature <t>", "sampling temperature (default: the server's)", temperature)
    .option("--seed <n>", "sampling seed sent with every request (openai only)", nonNegativeInt("--seed"))
    .option("--timeout <seconds>", "per-request limit; slower requests count as errors", positiveNumber("--timeout"), 600)
    .option("--json", "print the result as JSON on stdout (and nothing else)")
    .option("--compare <file>", "also show this run's ratios over an earlier --json result, per level and metric")
    .option("--out <file>", "also write the JSON result to this file")
    .option(
      "--suite",
      "run the standard suite (docs/PERFORMANCE.md): llmux in-process with the synthetic bench model " +
        "(2 threads, 8 parallel, context 2048), decode- and prefill-heavy chat at concurrency 1,4,8, and embeddings " +
        "(synthetic bench-embed model, batches of 8 inputs); with an explicit --url and --model (and --embed-model), the same cases against that server",
    )
    .action(async (opts: BenchOptions, cmd: Command) => {
      const explicit = (name: string) => cmd.getOptionValueSource(name) === "cli" || cmd.getOptionValueSource(name) === "env";
      if (!opts.suite && !opts.model) throw new Error("--model is required (or use --suite)");
      if (opts.suite && explicit("url") && !opts.model) throw new Error("--suite with --url needs --model");
      if (opts.embedModel && !(opts.suite && explicit("url"))) throw new Error("--embed-model goes with --suite --url (the in-process suite uses its own bench-embed model)");
      // Read the baseline first: a bad file should fail before minutes of measuring.
      const baseline = opts.compare ? loadResult(opts.compare) : undefined;
      const plan: LevelPlan | undefined =
        opts.requests !== undefined ? { requests: opts.requests } : opts.duration !== undefined ? { durationS: opts.duration } : undefined;
      const progress = new StderrProgress(process.stderr);
      const common = {
        protocol: opts.protocol,
        apiKey: opts.apiKey,
        plan,
        warmup: opts.warmup,
        timeoutMs: opts.timeout * 1000,
        temperature: opts.temperature,
        seed: opts.seed,
      };

      let result: BenchResult | SuiteResult;
      if (opts.suite) {
        const ignored = ([["prompt", "--prompt"], ["maxTokens", "--max-tokens"], ["stream", "--no-stream"]] as const).filter(([o]) => explicit(o));
        if (ignored.length) {
          process.stderr.write(`bench: --suite sets its own prompt sizes, max tokens and streaming; ignoring ${ignored.map(([, flag]) => flag).join(", ")}\n`);
        }
        result = await runSuite({
          ...common,
          concurrency: explicit("concurrency") ? opts.concurrency : SUITE_CONCURRENCY,
          external: explicit("url") ? { url: opts.url, model: opts.model as string, embedModel: opts.embedModel } : undefined,
          progress,
        });
      } else {
        result = await runBench({
          target: { ...common, url: opts.url, model: opts.model as string, stream: opts.stream, maxTokens: opts.maxTokens },
          prompt: parsePromptSpec(opts.prompt),
          concurrency: opts.concurrency,
          plan,
          warmup: opts.warmup,
          progress,
        });
      }
      if (baseline && opts.compare) result.comparison = compareResults(result, baseline, opts.compare);

      const json = `${JSON.stringify(result, null, 2)}\n`;
      if (opts.out) writeFileSync(opts.out, json);
      if (opts.json) {
        process.stdout.write(json);
      } else {
        process.stdout.write(result.kind === "suite" ? formatSuite(result) : formatRun(result));
        if (result.comparison) process.stdout.write(`\n${formatComparison(result.comparison)}`);
      }
      // Nothing measured (every request or every suite case failed): say so in the exit status.
      if (levelsOf(result).every((l) => l.level.completed === 0)) {
        process.stderr.write("bench: nothing was measured: every request failed\n");
        process.exitCode = 1;
      }
    });
}
