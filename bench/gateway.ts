/**
 * bench:gateway — llmux as a gateway in front of an OpenAI-compatible upstream.
 *
 * A minimal mock upstream (src/bench/gateway-mock.ts, plain node:http, fixed answers) and llmux
 * (bench/gateway-server.mjs, from the compiled dist/) each run in their own process; llmux is configured through its admin
 * API (as the bench's admin) with an `openai-compatible` provider pointing at the mock and an
 * exact rule for `bench-gateway` (the same setup as the suite's gateway section). Load comes from wrk (another process): 50 connections non-streaming,
 * 20 streaming, and one connection of each for the added latency, straight at the mock and
 * through llmux, alternating, in one run. Time to first byte of streams is measured by a small
 * node client (bench/gateway-ttfb.mjs), also alternating. llmux's RSS is sampled under load, and its
 * CPU time per request read from /proc around each round (steadier than req/s on a noisy machine),
 * and its RSS read once more after the loads, once it has been quiet for a while.
 *
 * Writes a markdown table to stdout and the numbers to bench/results/gateway.json.
 * Env: GATEWAY_BENCH_SECONDS (per run, default 5), GATEWAY_BENCH_ROUNDS (default 2),
 * GATEWAY_BENCH_QUIET_SECONDS (quiet time before the last RSS reading, default 15).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findWrk, runWrk, wrkScript } from "../src/bench/gateway.js";
import { configureGatewayBench, GATEWAY_BENCH_MODEL, startMockUpstream } from "../src/bench/gateway-mock.js";
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

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "llmux-bench-wrk-"));
  const scripts = { json: wrkScript(dir, false), stream: wrkScript(dir, true) };

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
    for (const stream of [false, true]) {
      const res = await fetch(`${llmuxUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: GATEWAY_BENCH_MODEL, stream, messages: [{ role: "user", content: "hi" }] }),
      });
      if (res.status !== 200) throw new Error(`sanity request failed: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
    const rssIdle = procRssMiB(llmux.child.pid);

    const scenarios = [
      { name: "non-streaming, 50 connections", key: "json_c50", c: 50, script: scripts.json },
      { name: "streaming, 20 connections", key: "stream_c20", c: 20, script: scripts.stream },
      { name: "non-streaming, 1 connection", key: "json_c1", c: 1, script: scripts.json },
      { name: "streaming, 1 connection", key: "stream_c1", c: 1, script: scripts.stream },
    ];
    const results: Record<string, { direct: WrkResult[]; llmux: WrkResult[]; rssPeakMiB: number; cpuUsPerRequest: number[] }> = {};
    let rssPeak = rssIdle;
    for (const s of scenarios) {
      results[s.key] = { direct: [], llmux: [], rssPeakMiB: 0, cpuUsPerRequest: [] };
      // Warm both paths (connection pools, JIT) before measuring.
      await run(WRK, ["-t1", `-c${s.c}`, "-d1s", "-s", s.script, `${llmuxUrl}/v1/chat/completions`]);
      for (let r = 0; r < ROUNDS; r++) {
        process.stderr.write(`${s.name}: round ${r + 1}/${ROUNDS}\n`);
        results[s.key]!.direct.push(await wrk(`${mockUrl}/v1/chat/completions`, s.c, s.script));
        const cpu = cpuPerRequest(llmux.child.pid);
        const { value, peakMiB } = await withRss(llmux.child.pid!, () => wrk(`${llmuxUrl}/v1/chat/completions`, s.c, s.script));
        results[s.key]!.cpuUsPerRequest.push(cpu(value.requestsPerS * SECONDS));
        results[s.key]!.llmux.push(value);
        results[s.key]!.rssPeakMiB = Math.max(results[s.key]!.rssPeakMiB, peakMiB);
        rssPeak = Math.max(rssPeak, peakMiB);
      }
    }
    const ttfb: { direct: { p50: number; p99: number }[]; llmux: { p50: number; p99: number }[] } = { direct: [], llmux: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const [k, url] of [["direct", mockUrl], ["llmux", llmuxUrl]] as const) {
        const { stdout } = await run(process.execPath, [join(here, "gateway-ttfb.mjs"), `${url}/v1/chat/completions`, "300", GATEWAY_BENCH_MODEL]);
        ttfb[k].push(JSON.parse(stdout) as { p50: number; p99: number });
      }
    }

    // `llmux serve` gives a burst's young generation back after two quiet 5 s windows (src/runtime/idle-heap.ts).
    process.stderr.write(`quiet for ${QUIET_S} s…\n`);
    await new Promise((r) => setTimeout(r, QUIET_S * 1000));
    const rssQuiet = procRssMiB(llmux.child.pid);

    const row = (key: string) => {
      const x = results[key]!;
      const d = { rps: mean(x.direct.map((r) => r.requestsPerS)), p50: mean(x.direct.map((r) => r.p50Ms)), p99: mean(x.direct.map((r) => r.p99Ms)) };
      const l = { rps: mean(x.llmux.map((r) => r.requestsPerS)), p50: mean(x.llmux.map((r) => r.p50Ms)), p99: mean(x.llmux.map((r) => r.p99Ms)) };
      const errors = [...x.direct, ...x.llmux].reduce((a, r) => a + r.errors, 0);
      return { d, l, errors, rss: x.rssPeakMiB, cpu: mean(x.cpuUsPerRequest) };
    };
    const f = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");
    const lines = [
      `## Gateway benchmark (${new Date().toISOString().slice(0, 10)}, ${cpus().length} CPUs, ${SECONDS}s × ${ROUNDS} rounds per cell, means of rounds)`,
      "",
      "| load | direct req/s | llmux req/s | direct p50 ms | llmux p50 ms | direct p99 ms | llmux p99 ms | added p50 ms | llmux CPU µs / request | llmux peak RSS MiB | errors |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ];
    for (const s of scenarios) {
      const { d, l, errors, rss, cpu } = row(s.key);
      lines.push(`| ${s.name} | ${f(d.rps, 0)} | ${f(l.rps, 0)} | ${f(d.p50)} | ${f(l.p50)} | ${f(d.p99)} | ${f(l.p99)} | ${f(l.p50 - d.p50)} | ${f(cpu, 1)} | ${f(rss, 1)} | ${errors} |`);
    }
    const tD = { p50: mean(ttfb.direct.map((t) => t.p50)), p99: mean(ttfb.direct.map((t) => t.p99)) };
    const tL = { p50: mean(ttfb.llmux.map((t) => t.p50)), p99: mean(ttfb.llmux.map((t) => t.p99)) };
    lines.push(
      "",
      `Time to first byte of a stream (1 connection, 300 requests): direct p50 ${f(tD.p50)} ms / p99 ${f(tD.p99)} ms; through llmux p50 ${f(tL.p50)} ms / p99 ${f(tL.p99)} ms (added p50 ${f(tL.p50 - tD.p50)} ms).`,
      `llmux RSS: ${f(rssIdle, 1)} MiB idle after setup, ${f(rssPeak, 1)} MiB peak under load, ${f(rssQuiet, 1)} MiB after ${QUIET_S} s quiet.`,
    );
    process.stdout.write(`${lines.join("\n")}\n`);
    mkdirSync(join(here, "results"), { recursive: true });
    writeFileSync(
      join(here, "results", "gateway.json"),
      `${JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, seconds: SECONDS, rounds: ROUNDS, results, ttfb, rssIdleMiB: rssIdle, rssPeakMiB: rssPeak, rssQuietMiB: rssQuiet }, null, 2)}\n`,
    );
  } finally {
    stopAll();
  }
}

await main();
