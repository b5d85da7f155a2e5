/**
 * bench:gateway — llmux as a gateway in front of an OpenAI-compatible upstream.
 *
 * A minimal mock upstream (src/bench/gateway-mock.ts, plain node:http, fixed answers) and llmux
 * (bench/gateway-server.mjs, from the compiled dist/) each run in their own process; llmux is configured through its admin
 * API (as the bench's admin) with an `openai-compatible` provider pointing at the mock and an
 * exact rule for `bench-gateway` (the same setup as the suite's gateway section). Beside llmux, in
 * the same run (src/bench/gateway-peers.ts): the Node floor, the least a Node gateway can do, and
 * Portkey when `GATEWAY_BENCH_PORTKEY` gives the path of its `build/start-server.js` (install it
 * apart: `npm i --prefix /tmp/portkey @portkey-ai/gateway@1.15.2`).
 *
 * Load comes from wrk (another process): 50 connections non-streaming, 20 streaming, and one
 * connection of each for the added latency, straight at the mock and through each gateway, taking
 * turns round by round (the first target rotates), in one run. Time to first byte of streams is
 * measured by a small node client (bench/gateway-ttfb.mjs), also taking turns. Each gateway's RSS
 * is sampled under load, and its CPU time per request read from /proc around each round (steadier
 * than req/s on a noisy machine); llmux's RSS is read once more after the loads, once it has been
 * quiet for a while.
 *
 * Writes markdown tables to stdout and the numbers to bench/results/gateway.json.
 * Env: GATEWAY_BENCH_SECONDS (per run, default 5), GATEWAY_BENCH_ROUNDS (default 2),
 * GATEWAY_BENCH_QUIET_SECONDS (quiet time before the last RSS reading, default 15),
 * GATEWAY_BENCH_PORTKEY (Portkey's start-server.js; unset: Portkey is not measured).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findWrk, runWrk, wrkScript } from "../src/bench/gateway.js";
import { configureGatewayBench, GATEWAY_BENCH_MODEL, startMockUpstream } from "../src/bench/gateway-mock.js";
import { startNodeFloor, startPortkey } from "../src/bench/gateway-peers.js";
import { cpuPerRequest, procRssMiB, startReady } from "./lib.js";

const run = promisify(execFile);
const SECONDS = Number(process.env.GATEWAY_BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.GATEWAY_BENCH_ROUNDS ?? 2);
const WRK = findWrk() ?? "/usr/bin/wrk";
/** How long llmux is left quiet after the loads before its RSS is read again. */
const QUIET_S = Number(process.env.GATEWAY_BENCH_QUIET_SECONDS ?? 15);
const here = new URL(".", import.meta.url).pathname;

type WrkResult = Awaited<ReturnType<typeof runWrk>>;

async function wrk(url: string, connections: number, script: string): Promise<WrkResult> {
  return runWrk(WRK, url, connections, SECONDS, script);
}

/** Samples a process's RSS while `fn` runs; resolves with fn's result and the peak. */
async function withRss<T>(pid: number, fn: () => Promise<T>): Promise<{ value: T; peakMiB: number }> {
  let peak = procRssMiB(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, procRssMiB(pid));
  }, 100);
  try {
    return { value: await fn(), peakMiB: peak };
  } finally {
    clearInterval(timer);
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** What wrk is pointed at: the mock itself, or a gateway in front of it. */
interface Target {
  key: "direct" | "floor" | "llmux" | "portkey";
  label: string;
  url: string;
  pid: number;
  headers: Record<string, string>;
  scripts: { json: string; stream: string };
}

interface Cell {
  runs: WrkResult[];
  /** CPU µs per request of each round (gateways only). */
  cpuUsPerRequest: number[];
  rssPeakMiB: number;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "llmux-bench-wrk-"));
  const mock = await startMockUpstream();
  const mockUrl = mock.url;
  // llmux runs from its compiled build, as an installed `llmux serve` does (tsx would add its own memory and start-up).
  process.stderr.write("building dist/ (tsc)…\n");
  await run(process.execPath, [join(here, "..", "node_modules", "typescript", "bin", "tsc"), "-p", join(here, "..", "tsconfig.json")]);
  const llmux = await startReady(process.execPath, [join(here, "gateway-server.mjs")]);
  const llmuxUrl = llmux.line;
  const children = [mock.child, llmux.child];
  const stopAll = () => children.forEach((c) => c.kill("SIGTERM"));
  process.on("exit", stopAll);
  try {
    await configureGatewayBench(llmuxUrl, mockUrl);
    const floor = await startNodeFloor(mockUrl);
    children.push(floor.child);
    const portkey = await startPortkey(process.env.GATEWAY_BENCH_PORTKEY, mockUrl);
    if (portkey) children.push(portkey.child);
    else process.stderr.write("Portkey not measured (set GATEWAY_BENCH_PORTKEY to its build/start-server.js)\n");

    const target = (key: Target["key"], label: string, url: string, pid: number, headers: Record<string, string> = {}): Target => ({
      key,
      label,
      url,
      pid,
      headers,
      scripts: { json: wrkScript(dir, false, GATEWAY_BENCH_MODEL, headers, `${key}-`), stream: wrkScript(dir, true, GATEWAY_BENCH_MODEL, headers, `${key}-`) },
    });
    const targets: Target[] = [
      target("direct", "mock (direct)", mockUrl, mock.child.pid!),
      target("floor", "Node floor", floor.url, floor.child.pid!),
      target("llmux", "llmux", llmuxUrl, llmux.child.pid!),
      ...(portkey ? [target("portkey", "Portkey 1.15.2", portkey.url, portkey.child.pid!, portkey.headers)] : []),
    ];
    const gateways = targets.filter((t) => t.key !== "direct");

    /** What a target failed to serve (Portkey 1.15.2 on Node 20 answers every stream with a 500). */
    const fails: { target: Target; stream: boolean; status: number }[] = [];
    for (const t of gateways) {
      for (const stream of [false, true]) {
        const res = await fetch(`${t.url}/v1/chat/completions`, {
          method: "POST",
          headers: { ...t.headers, "content-type": "application/json" },
          body: JSON.stringify({ model: GATEWAY_BENCH_MODEL, stream, messages: [{ role: "user", content: "hi" }] }),
        });
        const text = await res.text();
        if (res.status === 200) continue;
        // A peer that cannot serve a mode is reported and left out of it; llmux and the floor must serve both.
        if (t.key !== "portkey") throw new Error(`${t.label}: sanity request failed: ${res.status} ${text}`);
        fails.push({ target: t, stream, status: res.status });
        process.stderr.write(`${t.label} answers a ${stream ? "streaming" : "non-streaming"} request with ${res.status}: left out of that mode\n`);
      }
    }
    const serves = (t: Target, stream: boolean) => !fails.some((x) => x.target === t && x.stream === stream);
    const rssIdle = Object.fromEntries(gateways.map((t) => [t.key, procRssMiB(t.pid)]));

    const scenarios = [
      { name: "non-streaming, 50 connections", key: "json_c50", c: 50, stream: false },
      { name: "streaming, 20 connections", key: "stream_c20", c: 20, stream: true },
      { name: "non-streaming, 1 connection", key: "json_c1", c: 1, stream: false },
      { name: "streaming, 1 connection", key: "stream_c1", c: 1, stream: true },
    ] as const;
    const results: Record<string, Record<string, Cell>> = {};
    const rssPeak: Record<string, number> = { ...rssIdle };
    for (const s of scenarios) {
      const serving = targets.filter((t) => serves(t, s.stream));
      const cells = (results[s.key] = Object.fromEntries(serving.map((t) => [t.key, { runs: [], cpuUsPerRequest: [], rssPeakMiB: 0 } as Cell])));
      const script = (t: Target) => (s.stream ? t.scripts.stream : t.scripts.json);
      // Warm every path (connection pools, JIT) before measuring.
      for (const t of serving) if (t.key !== "direct") await run(WRK, ["-t1", `-c${s.c}`, "-d1s", "-s", script(t), `${t.url}/v1/chat/completions`]);
      for (let r = 0; r < ROUNDS; r++) {
        process.stderr.write(`${s.name}: round ${r + 1}/${ROUNDS}\n`);
        for (let i = 0; i < serving.length; i++) {
          const t = serving[(i + r) % serving.length]!;
          const cell = cells[t.key]!;
          const cpu = cpuPerRequest(t.pid);
          const { value, peakMiB } = await withRss(t.pid, () => wrk(`${t.url}/v1/chat/completions`, s.c, script(t)));
          cell.runs.push(value);
          cell.cpuUsPerRequest.push(cpu(value.requestsPerS * SECONDS));
          cell.rssPeakMiB = Math.max(cell.rssPeakMiB, peakMiB);
          rssPeak[t.key] = Math.max(rssPeak[t.key] ?? 0, peakMiB);
        }
      }
    }
    const streamers = targets.filter((t) => serves(t, true));
    const ttfb: Record<string, { p50: number; p99: number }[]> = Object.fromEntries(streamers.map((t) => [t.key, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < streamers.length; i++) {
        const t = streamers[(i + r) % streamers.length]!;
        const { stdout } = await run(process.execPath, [join(here, "gateway-ttfb.mjs"), `${t.url}/v1/chat/completions`, "300", GATEWAY_BENCH_MODEL, JSON.stringify(t.headers)]);
        ttfb[t.key]!.push(JSON.parse(stdout) as { p50: number; p99: number });
      }
    }

    // `llmux serve` gives a burst's young generation back after two quiet 5 s windows (src/runtime/idle-heap.ts).
    process.stderr.write(`quiet for ${QUIET_S} s…\n`);
    await new Promise((r) => setTimeout(r, QUIET_S * 1000));
    const rssQuiet = procRssMiB(llmux.child.pid);

    const f = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");
    const stat = (scenario: string, key: string) => {
      const c = results[scenario]![key] ?? { runs: [], cpuUsPerRequest: [], rssPeakMiB: NaN };
      return {
        rps: mean(c.runs.map((r) => r.requestsPerS)),
        p50: mean(c.runs.map((r) => r.p50Ms)),
        p99: mean(c.runs.map((r) => r.p99Ms)),
        errors: c.runs.reduce((a, r) => a + r.errors, 0),
        cpu: c.cpuUsPerRequest.length ? mean(c.cpuUsPerRequest) : NaN,
        rss: c.rssPeakMiB,
      };
    };
    const lines = [
      `## Gateway benchmark (${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${cpus().length} CPUs, ${SECONDS}s × ${ROUNDS} rounds per cell, targets taking turns, means of rounds)`,
      "",
      "| load | target | req/s | p50 ms | p99 ms | added p50 ms | CPU µs / request | peak RSS MiB | errors |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ];
    for (const s of scenarios) {
      const d = stat(s.key, "direct");
      for (const t of targets) {
        if (!serves(t, s.stream)) {
          lines.push(`| ${s.name} | ${t.label} | fails (${fails.find((x) => x.target === t && x.stream === s.stream)!.status}) | | | | | | |`);
          continue;
        }
        const x = stat(s.key, t.key);
        const gw = t.key !== "direct";
        lines.push(`| ${s.name} | ${t.label} | ${f(x.rps, 0)} | ${f(x.p50)} | ${f(x.p99)} | ${gw ? f(x.p50 - d.p50) : ""} | ${gw ? f(x.cpu, 1) : ""} | ${gw ? f(x.rss, 1) : ""} | ${x.errors} |`);
      }
    }
    const t50 = (key: string) => ({ p50: mean(ttfb[key]!.map((t) => t.p50)), p99: mean(ttfb[key]!.map((t) => t.p99)) });
    const tD = t50("direct");
    lines.push("", "Time to first byte of a stream (1 connection, 300 requests):", "");
    for (const t of streamers) {
      const x = t50(t.key);
      lines.push(`- ${t.label}: p50 ${f(x.p50)} ms, p99 ${f(x.p99)} ms${t.key === "direct" ? "" : ` (added p50 ${f(x.p50 - tD.p50)} ms)`}`);
    }
    lines.push("", "RSS:", "");
    for (const t of gateways) lines.push(`- ${t.label}: ${f(rssIdle[t.key]!, 1)} MiB idle after setup, ${f(rssPeak[t.key]!, 1)} MiB peak under load${t.key === "llmux" ? `, ${f(rssQuiet, 1)} MiB after ${QUIET_S} s quiet` : ""}.`);
    const ratio = (scenario: string, a: string, b: string) => stat(scenario, a).rps / stat(scenario, b).rps;
    lines.push("", "Throughput ratios in this run:", "");
    for (const s of scenarios.slice(0, 2)) {
      const parts = [`llmux ÷ mock ${f(ratio(s.key, "llmux", "direct"))}`, `llmux ÷ Node floor ${f(ratio(s.key, "llmux", "floor"))}`];
      if (portkey && serves(targets.find((t) => t.key === "portkey")!, s.stream)) parts.push(`llmux ÷ Portkey **${f(ratio(s.key, "llmux", "portkey"), 1)}×**`);
      lines.push(`- ${s.name}: ${parts.join(", ")}`);
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    mkdirSync(join(here, "results"), { recursive: true });
    writeFileSync(
      join(here, "results", "gateway.json"),
      `${JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, seconds: SECONDS, rounds: ROUNDS, targets: targets.map((t) => ({ key: t.key, label: t.label })), fails: fails.map((x) => ({ target: x.target.key, stream: x.stream, status: x.status })), results, ttfb, rssIdleMiB: rssIdle, rssPeakMiB: rssPeak, rssQuietMiB: rssQuiet }, null, 2)}\n`,
    );
  } finally {
    stopAll();
  }
}

await main();
