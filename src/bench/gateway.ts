/**
 * Gateway overhead: the same requests straight at a mock OpenAI upstream and through llmux
 * (a provider pointing at the mock, pass-through), non-streaming and streaming, at each
 * concurrency level, alternating direct and llmux cell by cell. Load comes from wrk when it is
 * installed (another process, so the client does not compete with an in-process llmux for its
 * event loop), else from the bench's own node client. Shared by the suite's gateway section and
 * `npm run bench:gateway` (which adds RSS sampling and its own scenarios).
 */
import { execFile } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { GATEWAY_BENCH_MODEL, startMockUpstream, type MockUpstream } from "./gateway-mock.js";
import { silentProgress, type ProgressReporter } from "./progress.js";
import { runLevel } from "./runner.js";
import type { BenchTarget, LevelPlan } from "./types.js";

const run = promisify(execFile);

/** One cell: one target, one mode, one concurrency. Times in ms. */
export interface GatewayMeasure {
  /** What produced the load. */
  tool: "wrk" | "node";
  requestsPerS: number;
  /** Whole-response latency (wrk: request sent → response read). */
  p50Ms: number;
  p99Ms: number;
  /** Time to the first content delta of a stream (node client only; null with wrk or without streaming). */
  ttftP50Ms: number | null;
  /** Non-2xx answers and socket errors. */
  errors: number;
}

/** Direct vs through llmux at one mode and concurrency. */
export interface GatewayRow {
  stream: boolean;
  concurrency: number;
  direct: GatewayMeasure;
  llmux: GatewayMeasure;
  /** llmux p50 − direct p50. */
  addedP50Ms: number;
  /** The same for time to first content delta (node client only). */
  addedTtftP50Ms: number | null;
}

const toMs = (v: string, unit: string): number => Number(v) * (unit === "us" ? 0.001 : unit === "s" ? 1000 : unit === "m" ? 60000 : 1);

/** Reads wrk's `--latency` report: req/s, p50, p99 and errors (non-2xx and socket errors). */
export function parseWrk(out: string): Omit<GatewayMeasure, "tool" | "ttftP50Ms"> {
  const requestsPerS = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const pct = (p: number) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(out);
    return m ? toMs(m[1]!, m[2]!) : NaN;
  };
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]) : 0);
  return { requestsPerS, p50Ms: pct(50), p99Ms: pct(99), errors };
}

/** wrk's path: `WRK` from the environment, else /usr/bin/wrk when it exists; null when neither is there. */
export function findWrk(env: NodeJS.ProcessEnv = process.env): string | null {
  for (const p of [env.WRK, "/usr/bin/wrk", "/usr/local/bin/wrk"]) {
    if (!p) continue;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return null;
}

/** The chat body every gateway request sends. */
export const gatewayBody = (stream: boolean, model = GATEWAY_BENCH_MODEL): string =>
  JSON.stringify({ model, stream, messages: [{ role: "user", content: "Say hello." }] });

/**
 * Writes the wrk Lua script that POSTs {@link gatewayBody}, with any extra `headers`; returns its
 * path. `name` tells apart the scripts of several targets in one folder.
 */
export function wrkScript(dir: string, stream: boolean, model = GATEWAY_BENCH_MODEL, headers: Record<string, string> = {}, name = ""): string {
  const file = join(dir, `${name}${stream ? "stream" : "json"}.lua`);
  const lines = ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"'];
  for (const [k, v] of Object.entries(headers)) lines.push(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
  lines.push(`wrk.body = ${JSON.stringify(gatewayBody(stream, model))}`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

/** Runs wrk for `seconds` against a chat completions URL. */
export async function runWrk(wrk: string, url: string, connections: number, seconds: number, script: string): Promise<Omit<GatewayMeasure, "tool" | "ttftP50Ms">> {
  const { stdout } = await run(wrk, ["-t1", `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, "--latency", "-s", script, url], { maxBuffer: 1 << 20 });
  return parseWrk(stdout);
}

/** The chat completions URL of a base URL. */
const chatUrl = (base: string) => `${base.replace(/\/+$/, "")}/v1/chat/completions`;

export interface GatewayBenchOptions {
  /** Points the server under test at the mock; returns the base URL and model to request through it. */
  route(mockUrl: string): Promise<{ url: string; model: string }>;
  concurrency: number[];
  /** Per cell; wrk needs a duration (a request count is turned into ~1 s per 1,000 requests). */
  plan: LevelPlan;
  /** `auto`: wrk when installed, else the node client. */
  tool?: "auto" | "wrk" | "node";
  /** Unmeasured requests per target and mode first (pools, JIT). */
  warmup?: number;
  progress?: ProgressReporter;
  /** Tests: an upstream of their own instead of the mock process. */
  upstream?: () => Promise<MockUpstream>;
}

/** Measures every mode and level, direct then through llmux, cell by cell. */
export async function runGatewayBench(options: GatewayBenchOptions): Promise<{ tool: "wrk" | "node"; rows: GatewayRow[] }> {
  const progress = options.progress ?? silentProgress;
  const wrk = options.tool === "node" ? null : findWrk();
  if (options.tool === "wrk" && !wrk) throw new Error("wrk is not installed (set WRK to its path)");
  const tool = wrk ? "wrk" : "node";
  const mock = await (options.upstream ?? startMockUpstream)();
  const dir = mkdtempSync(join(tmpdir(), "llmux-bench-gw-"));
  try {
    const routed = await options.route(mock.url);
    const targets = { direct: { url: mock.url, model: routed.model }, llmux: routed };
    const seconds = options.plan.durationS ?? Math.max(1, (options.plan.requests ?? 1000) / 1000);
    const rows: GatewayRow[] = [];
    for (const stream of [false, true]) {
      const script = wrk ? wrkScript(dir, stream, routed.model) : "";
      const bench = (t: { url: string; model: string }): BenchTarget => ({ url: t.url, model: t.model, protocol: "openai", stream, maxTokens: 16, timeoutMs: 30_000 });
      for (const t of [targets.direct, targets.llmux]) {
        for (let i = 0; i < (options.warmup ?? 20); i++) await runLevel(bench(t), 1, { requests: 1 }, () => "Say hello.");
      }
      for (const c of options.concurrency) {
        const cell = async (name: "direct" | "llmux"): Promise<GatewayMeasure> => {
          const t = targets[name];
          const label = `gateway ${stream ? "stream" : "json"} ${name}`;
          if (wrk) {
            progress.note(`${label} c=${c}: wrk ${seconds}s`);
            return { tool: "wrk", ...(await runWrk(wrk, chatUrl(t.url), c, seconds, script)), ttftP50Ms: null };
          }
          const level = await runLevel(bench(t), c, options.plan, () => "Say hello.", progress, label);
          return {
            tool: "node",
            requestsPerS: level.requestsPerS,
            p50Ms: level.e2eMs?.p50 ?? NaN,
            p99Ms: level.e2eMs?.p99 ?? NaN,
            ttftP50Ms: stream ? (level.ttftMs?.p50 ?? null) : null,
            errors: level.errors.count,
          };
        };
        const direct = await cell("direct");
        const llmux = await cell("llmux");
        rows.push({
          stream,
          concurrency: c,
          direct,
          llmux,
          addedP50Ms: llmux.p50Ms - direct.p50Ms,
          addedTtftP50Ms: direct.ttftP50Ms !== null && llmux.ttftP50Ms !== null ? llmux.ttftP50Ms - direct.ttftP50Ms : null,
        });
      }
    }
    return { tool, rows };
  } finally {
    mock.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
