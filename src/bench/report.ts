/**
 * Presenting results: the table printed at the end of a run, the suite's report, and
 * `--compare` (ratios of this run over an earlier `--json` result, per level and metric).
 */
import { readFileSync } from "node:fs";
import {
  BENCH_SCHEMA,
  type BenchResult,
  type Comparison,
  type EmbeddingsLevelResult,
  type EmbeddingsResult,
  type LevelResult,
  type Percentiles,
  type SuiteResult,
} from "./types.js";
import type { GatewayRow } from "./gateway.js";

/** A right-aligned markdown table, readable in a terminal and pasteable into docs. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, 3, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i])).join(" | ")} |`;
  return [line(header), `| ${widths.map((w) => `${"-".repeat(w - 1)}:`).join(" | ")} |`, ...rows.map(line)].join("\n");
}

const ms = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? "-" : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const pct = (p: Percentiles | null, k: keyof Percentiles): string => (p ? ms(p[k]) : "-");

/** Columns of the results table (latencies in milliseconds). */
export const TABLE_COLUMNS = [
  "conc", "reqs", "errors", "req/s", "out tok/s", "tok/s/req p50",
  "TTFT p50", "TTFT p90", "TTFT p99", "ITL p50", "ITL p90", "ITL p99", "E2E p50", "E2E p90", "E2E p99",
] as const;

function levelRow(l: LevelResult): string[] {
  return [
    String(l.concurrency),
    String(l.requests),
    String(l.errors.count),
    l.requestsPerS.toFixed(2),
    l.outputTokPerS.toFixed(1),
    l.perRequestTokPerS ? l.perRequestTokPerS.p50.toFixed(1) : "-",
    pct(l.ttftMs, "p50"), pct(l.ttftMs, "p90"), pct(l.ttftMs, "p99"),
    pct(l.itlMs, "p50"), pct(l.itlMs, "p90"), pct(l.itlMs, "p99"),
    pct(l.e2eMs, "p50"), pct(l.e2eMs, "p90"), pct(l.e2eMs, "p99"),
  ];
}

const USAGE_NOTES: Record<string, string> = {
  deltas: "output tokens counted from content deltas: the server reported no usage",
  estimate: "output tokens estimated from the text length (4 characters a token): the server reported no usage",
  mixed: "output tokens: the server's usage where it reported it, counted content deltas elsewhere",
};

/** The human report of one run: what ran, the table, and notes on errors and token counts. */
export function formatRun(result: BenchResult): string {
  const c = result.config;
  const mode = c.stream ? "streaming" : "not streaming";
  const sampling = [c.temperature !== null ? `temperature ${c.temperature}` : "", c.seed !== null ? `seed ${c.seed}` : ""].filter(Boolean).join(", ");
  const lines = [
    `llmux bench: ${c.url} · model ${c.model} · ${c.protocol}, ${mode} · prompt ${c.prompt.spec} (~${c.prompt.approxTokens} tokens) · max ${c.maxTokens} tokens${sampling ? ` · ${sampling}` : ""}`,
    "latencies in ms; tok/s/req = output tokens / (end - first token)",
    "",
    markdownTable([...TABLE_COLUMNS], result.levels.map(levelRow)),
  ];
  const notes: string[] = [];
  const prompt = result.levels.find((l) => l.promptTokensMean !== null)?.promptTokensMean;
  if (prompt !== undefined && prompt !== null) notes.push(`prompt tokens (server): ${prompt.toFixed(0)} on average`);
  for (const source of new Set(result.levels.map((l) => l.usageSource))) if (USAGE_NOTES[source]) notes.push(USAGE_NOTES[source]);
  if (!c.stream) notes.push("TTFT, ITL and tok/s/req need streaming (run without --no-stream)");
  for (const l of result.levels) if (l.errors.first) notes.push(`c=${l.concurrency}: ${l.errors.count} errors, first: ${l.errors.first}`);
  if (notes.length) lines.push("", ...notes.map((n) => `note: ${n}`));
  return `${lines.join("\n")}\n`;
}

/** Columns of the embeddings table (latencies in milliseconds). */
export const EMBEDDINGS_COLUMNS = ["conc", "reqs", "errors", "req/s", "inputs/s", "in tok/s", "lat p50", "lat p90", "lat p99"] as const;

function embeddingsRow(l: EmbeddingsLevelResult): string[] {
  return [
    String(l.concurrency),
    String(l.requests),
    String(l.errors.count),
    l.requestsPerS.toFixed(2),
    l.inputsPerS.toFixed(1),
    l.inputTokPerS === null ? "-" : l.inputTokPerS.toFixed(0),
    pct(l.latencyMs, "p50"), pct(l.latencyMs, "p90"), pct(l.latencyMs, "p99"),
  ];
}

/** The human report of an embeddings run: what ran, the table, and notes on errors and token counts. */
export function formatEmbeddings(result: EmbeddingsResult): string {
  const c = result.config;
  const lines = [
    `llmux bench embeddings: ${c.url} · model ${c.model} · ${c.batch} inputs of ~${c.input.approxTokens} tokens per request`,
    "latencies in ms (request sent → response read); in tok/s from the server's usage.prompt_tokens",
    "",
    markdownTable([...EMBEDDINGS_COLUMNS], result.levels.map(embeddingsRow)),
  ];
  const notes: string[] = [];
  const tokens = result.levels.find((l) => l.inputTokens !== null && l.completed > 0);
  if (tokens) notes.push(`input tokens (server): ${((tokens.inputTokens as number) / (tokens.completed * c.batch)).toFixed(0)} per input on average`);
  if (result.levels.some((l) => l.completed > 0 && l.inputTokPerS === null)) notes.push("in tok/s: the server did not report usage.prompt_tokens on every response");
  for (const l of result.levels) if (l.errors.first) notes.push(`c=${l.concurrency}: ${l.errors.count} errors, first: ${l.errors.first}`);
  if (notes.length) lines.push("", ...notes.map((n) => `note: ${n}`));
  return `${lines.join("\n")}\n`;
}

/** The gateway section's table: direct vs through llmux, and the latency llmux adds. */
export function formatGateway(g: { tool: "wrk" | "node"; rows: GatewayRow[] }): string {
  const f = (n: number | null, d = 2) => (n === null || !Number.isFinite(n) ? "-" : n.toFixed(d));
  const rows = g.rows.map((r) => [
    r.stream ? "stream" : "json",
    String(r.concurrency),
    f(r.direct.requestsPerS, 0),
    f(r.llmux.requestsPerS, 0),
    f(r.direct.p50Ms),
    f(r.llmux.p50Ms),
    f(r.direct.p99Ms),
    f(r.llmux.p99Ms),
    f(r.addedP50Ms),
    f(r.addedTtftP50Ms),
    String(r.direct.errors + r.llmux.errors),
  ]);
  const head = ["mode", "conc", "direct req/s", "llmux req/s", "direct p50", "llmux p50", "direct p99", "llmux p99", "added p50", "added ttft p50", "errors"];
  return `${markdownTable(head, rows)}\nload: ${g.tool === "wrk" ? "wrk (its own process)" : "the bench's node client"}; times in ms\n`;
}

/** The human report of a suite: each section, each case's table. */
export function formatSuite(suite: SuiteResult): string {
  const s = suite.server;
  const engine = s.inProcess ? ` (in-process; engine ${s.engine.threads} threads, ${s.engine.parallel} parallel, context ${s.engine.contextSize})` : "";
  const out = [`llmux bench suite: ${s.url}${engine}, model ${s.model}; ${suite.environment.cpus} cores (${suite.environment.cpuModel}), node ${suite.environment.node}`, ""];
  for (const section of suite.sections) {
    out.push(`## ${section.title}`, "");
    if (section.status !== "ok") {
      out.push(`${section.status}: ${section.reason}`, "");
      continue;
    }
    if (section.gateway) out.push(formatGateway(section.gateway), "");
    for (const c of section.cases) {
      const body = c.result ? formatRun(c.result) : c.embeddings ? formatEmbeddings(c.embeddings) : `failed: ${c.error}\n`;
      out.push(`### ${c.name}: ${c.description}`, "", body);
    }
  }
  return `${out.join("\n").replace(/\n+$/, "")}\n`;
}

/** Metrics compared by `--compare`, as paths into a level. */
export const COMPARED_METRICS = [
  "requestsPerS", "outputTokPerS", "perRequestTokPerS.p50",
  "ttftMs.p50", "ttftMs.p90", "ttftMs.p99", "itlMs.p50", "itlMs.p90", "itlMs.p99", "e2eMs.p50", "e2eMs.p90", "e2eMs.p99",
] as const;

/** Metrics of embeddings levels compared by `--compare`. */
export const COMPARED_EMBEDDINGS_METRICS = ["requestsPerS", "inputsPerS", "inputTokPerS", "latencyMs.p50", "latencyMs.p90", "latencyMs.p99"] as const;

/** Column headers of compared metrics. */
const METRIC_HEADERS: Record<string, string> = {
  requestsPerS: "req/s", outputTokPerS: "out tok/s", "perRequestTokPerS.p50": "tok/s/req p50",
  "ttftMs.p50": "TTFT p50", "ttftMs.p90": "TTFT p90", "ttftMs.p99": "TTFT p99",
  "itlMs.p50": "ITL p50", "itlMs.p90": "ITL p90", "itlMs.p99": "ITL p99",
  "e2eMs.p50": "E2E p50", "e2eMs.p90": "E2E p90", "e2eMs.p99": "E2E p99",
  inputsPerS: "inputs/s", inputTokPerS: "in tok/s", "latencyMs.p50": "lat p50", "latencyMs.p90": "lat p90", "latencyMs.p99": "lat p99",
};

type AnyLevel = LevelResult | EmbeddingsLevelResult;
const isEmbeddingsLevel = (l: AnyLevel): l is EmbeddingsLevelResult => "inputsPerS" in l;

function metric(level: AnyLevel, path: string): number | null {
  const [a, b] = path.split(".");
  const v = (level as unknown as Record<string, unknown>)[a];
  const x = b ? (v as Record<string, unknown> | null)?.[b] : v;
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

/** Every level of a run or suite (chat and embeddings), keyed by case (`""` for a plain run) and concurrency. */
export function levelsOf(result: BenchResult | SuiteResult): { key: string; level: AnyLevel }[] {
  if (result.kind === "run") return result.levels.map((level) => ({ key: "", level }));
  return result.sections.flatMap((s) =>
    s.status === "ok"
      ? s.cases.flatMap((c) => [...(c.result?.levels ?? []), ...(c.embeddings?.levels ?? [])].map((level) => ({ key: `${s.name}/${c.name}`, level })))
      : [],
  );
}

/** Ratios current / baseline for every level both have (same case, same concurrency); null where either lacks the metric or the baseline is 0. */
export function compareResults(current: BenchResult | SuiteResult, baseline: BenchResult | SuiteResult, baselineName: string): Comparison {
  const base = new Map(levelsOf(baseline).map((e) => [`${e.key}@${e.level.concurrency}`, e.level]));
  const rows: Comparison["rows"] = [];
  for (const { key, level } of levelsOf(current)) {
    const old = base.get(`${key}@${level.concurrency}`);
    if (!old || isEmbeddingsLevel(level) !== isEmbeddingsLevel(old)) continue;
    const ratios: Record<string, number | null> = {};
    for (const m of isEmbeddingsLevel(level) ? COMPARED_EMBEDDINGS_METRICS : COMPARED_METRICS) {
      const now = metric(level, m);
      const then = metric(old, m);
      ratios[m] = now === null || then === null || then === 0 ? null : now / then;
    }
    rows.push({ key, concurrency: level.concurrency, ratios });
  }
  return { baseline: baselineName, baselineStartedAt: baseline.startedAt ?? null, rows };
}

/** The comparison as text: one row per level, one column per metric; a table per kind of level (chat, embeddings). */
export function formatComparison(cmp: Comparison): string {
  const head = `compared with ${cmp.baseline}${cmp.baselineStartedAt ? ` (${cmp.baselineStartedAt})` : ""}: this run / baseline; above 1 is better for req/s, tok/s and inputs/s, worse for latencies`;
  if (cmp.rows.length === 0) return `${head}\nno level in common (same case and concurrency)\n`;
  const withCase = cmp.rows.some((r) => r.key);
  const groups = new Map<string, Comparison["rows"]>();
  for (const r of cmp.rows) {
    const metrics = Object.keys(r.ratios).join(",");
    groups.set(metrics, [...(groups.get(metrics) ?? []), r]);
  }
  const tables = [...groups].map(([metrics, group]) => {
    const names = metrics.split(",");
    const header = [...(withCase ? ["case"] : []), "conc", ...names.map((m) => METRIC_HEADERS[m] ?? m)];
    const rows = group.map((r) => [
      ...(withCase ? [r.key] : []),
      String(r.concurrency),
      ...names.map((m) => (r.ratios[m] === null ? "-" : `${(r.ratios[m] as number).toFixed(2)}x`)),
    ]);
    return markdownTable(header, rows);
  });
  return `${head}\n\n${tables.join("\n\n")}\n`;
}

/** Reads an earlier `--json` result; throws a clear error for anything else. */
export function loadResult(file: string): BenchResult | SuiteResult {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  const r = json as Partial<BenchResult | SuiteResult> | null;
  if (!r || r.schema !== BENCH_SCHEMA || (r.kind !== "run" && r.kind !== "suite")) {
    throw new Error(`${file} is not an \`llmux bench --json\` result (schema ${BENCH_SCHEMA})`);
  }
  return r as BenchResult | SuiteResult;
}
