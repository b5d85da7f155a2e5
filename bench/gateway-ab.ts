/**
 * Two or more llmux builds side by side in front of one mock upstream, wrk taking turns between
 * them round by round (the starting build rotates), so a drift in the machine's speed hits every
 * build alike: the way to tell whether a change made the gateway faster on a noisy machine.
 *
 *   GATEWAY_AB="before=/tmp/old/dist after=dist after-nocap=dist:LLMUX_HEAP_GROWTH=0" npm run bench:gateway:ab
 *
 * Each entry is NAME=DIST[:VAR=VALUE…] (a build's compiled dist/ folder, and environment for its
 * server). Env: GATEWAY_AB_ROUNDS (6), GATEWAY_AB_SECONDS (5), GATEWAY_AB_CONNECTIONS (50),
 * GATEWAY_AB_STREAM=1 for streaming, GATEWAY_AB_PIN=CPUS to pin each server (all its threads) to
 * those CPUs with taskset, GATEWAY_AB_PROCESSES (1): server processes per build, loaded in turn.
 *
 * Prints each build's median req/s, its median CPU time per request (steadier than req/s:
 * waiting for a core does not count), RSS idle and peak (Linux), every round, each process's
 * median main-thread CPU, and each build's ratio to the first build round by round (its
 * processes' mean against the first build's in the same round: a drift in the machine's speed
 * cancels out of a ratio where it does not out of the medians).
 *
 * Why several processes: two server processes of the same build can differ by ~10% in CPU a
 * request for their whole life (measured here: the same build three times, 30 rounds, one
 * process 8–11% above another in 22–23 of 30 rounds, in two runs): where V8 and the allocator
 * happen to put things. With one process a build, more rounds do not average that out; more
 * processes do. The steadiest setting found on this 2-core machine: the servers on one core,
 * wrk and the mock on the other, short rounds:
 *
 *   GATEWAY_AB_PIN=0 GATEWAY_AB_PROCESSES=4 GATEWAY_AB_SECONDS=1 GATEWAY_AB_ROUNDS=12 GATEWAY_AB="…" taskset -c 1 npm run bench:gateway:ab
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { findWrk, runWrk, wrkScript } from "../src/bench/gateway.js";
import { configureGatewayBench, startMockUpstream } from "../src/bench/gateway-mock.js";
import { cpuPerRequest, procRssMiB, startReady, summary } from "./lib.js";

/** One server process of a build, and what its rounds measured. */
interface Server {
  url: string;
  pid: number | undefined;
  rps: number[];
  /** CPU time per request, µs: the whole process, and its main thread alone. */
  cpuUs: number[];
  mainUs: number[];
  idleRssMiB: number;
}

interface Build {
  name: string;
  dist: string;
  env: Record<string, string>;
  servers: Server[];
}

const spec = process.env.GATEWAY_AB ?? "";
const builds: Build[] = spec
  .split(/\s+/)
  .filter(Boolean)
  .map((entry) => {
    const [name, rest] = entry.split(/=(.*)/s, 2) as [string, string | undefined];
    if (!rest) throw new Error(`GATEWAY_AB entry '${entry}' is not NAME=DIST[:VAR=VALUE…]`);
    const [dist, ...vars] = rest.split(":");
    return { name, dist: resolve(dist!), env: Object.fromEntries(vars.map((v) => v.split(/=(.*)/s, 2) as [string, string])), servers: [] };
  });
if (builds.length < 2) throw new Error('set GATEWAY_AB to two or more NAME=DIST entries, e.g. "before=/tmp/old/dist after=dist"');
const rounds = Number(process.env.GATEWAY_AB_ROUNDS ?? 6);
const seconds = Number(process.env.GATEWAY_AB_SECONDS ?? 5);
const connections = Number(process.env.GATEWAY_AB_CONNECTIONS ?? 50);
const stream = process.env.GATEWAY_AB_STREAM === "1";
const pin = process.env.GATEWAY_AB_PIN?.trim() || null;
const processes = Number(process.env.GATEWAY_AB_PROCESSES ?? 1);
if (!Number.isInteger(processes) || processes < 1) throw new Error("GATEWAY_AB_PROCESSES must be a whole number ≥ 1");
const wrk = findWrk();
if (!wrk) throw new Error("wrk is needed (apt-get install wrk)");

const server = new URL("./gateway-server.mjs", import.meta.url).pathname;
const mock = await startMockUpstream();
const children: ChildProcess[] = [mock.child];
process.on("exit", () => children.forEach((c) => c.kill("SIGTERM")));
for (let i = 0; i < processes; i++) {
  for (const b of builds) {
    const { child, line } = await startReady(process.execPath, [server], { ...process.env, ...b.env, LLMUX_BENCH_DIST: b.dist });
    children.push(child);
    if (pin) execFileSync("taskset", ["-a", "-pc", pin, String(child.pid)], { stdio: "ignore" });
    await configureGatewayBench(line, mock.url);
    b.servers.push({ url: line, pid: child.pid, rps: [], cpuUs: [], mainUs: [], idleRssMiB: procRssMiB(child.pid) });
  }
}
const script = wrkScript(mkdtempSync(join(tmpdir(), "llmux-gw-ab-")), stream);
const target = (s: Server) => `${s.url}/v1/chat/completions`;
// Builds interleaved (A#1 B#1 A#2 B#2 …), so a drift within a round reaches every build alike.
const all = Array.from({ length: processes }, (_, i) =>
  builds.map((b) => ({ server: b.servers[i]!, label: processes > 1 ? `${b.name}#${i + 1}` : b.name })),
).flat();
for (const { server: s } of all) await runWrk(wrk, target(s), connections, 2, script); // warm-up
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < all.length; k++) {
    const { server: s, label } = all[(r + k) % all.length]!;
    const cpu = cpuPerRequest(s.pid);
    const mainCpu = cpuPerRequest(s.pid, true);
    const m = await runWrk(wrk, target(s), connections, seconds, script);
    const requests = m.requestsPerS * seconds;
    s.cpuUs.push(cpu(requests));
    s.mainUs.push(mainCpu(requests));
    if (m.errors > 0) throw new Error(`${label}: ${m.errors} errors in a round`);
    s.rps.push(m.requestsPerS);
    process.stderr.write(`round ${r + 1}/${rounds} ${label}: ${m.requestsPerS.toFixed(0)} req/s, ${s.cpuUs.at(-1)!.toFixed(1)} µs CPU a request\n`);
  }
}
const each = (b: Build, pick: (s: Server) => number[]) => b.servers.flatMap(pick);
const median = (xs: number[]) => summary(xs).median;
const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
/** A build's processes' mean in round r. */
const roundMean = (b: Build, pick: (s: Server) => number[], r: number) => mean(b.servers.map((s) => pick(s)[r]!));
const perProcess = processes > 1 ? `, ${processes} processes a build` : "";
console.log(`\n${stream ? "streaming" : "non-streaming"}, ${connections} connections, ${rounds} rounds of ${seconds} s${perProcess}, builds taking turns${pin ? `, servers pinned to CPU ${pin}` : ""}\n`);
console.log("| build | median req/s | median CPU µs a request (main thread) | RSS idle / peak, MiB | req/s by round |\n|---|---:|---:|---|---|");
for (const b of builds) {
  const cpu = `${median(each(b, (s) => s.cpuUs)).toFixed(1)} (${median(each(b, (s) => s.mainUs)).toFixed(1)})`;
  const idle = Math.max(...b.servers.map((s) => s.idleRssMiB));
  const peak = Math.max(...b.servers.map((s) => procRssMiB(s.pid, "VmHWM")));
  const byRound = Array.from({ length: rounds }, (_, r) => roundMean(b, (s) => s.rps, r).toFixed(0)).join(" ");
  console.log(`| ${b.name} | ${median(each(b, (s) => s.rps)).toFixed(0)} | ${cpu} | ${idle.toFixed(1)} / ${peak.toFixed(1)} | ${byRound} |`);
}
if (processes > 1) {
  console.log("\nEach process's median main-thread CPU µs a request:\n");
  for (const b of builds) console.log(`- ${b.name}: ${b.servers.map((s) => median(s.mainUs).toFixed(1)).join(", ")}`);
}
const [first, ...others] = builds;
console.log(`\nRound by round, against ${first!.name} (quartiles of the ratio; "lower"/"higher": in how many rounds):\n`);
console.log("| build | main-thread CPU µs a request ÷ first's | lower in | req/s ÷ first's | higher in |\n|---|---|---:|---|---:|");
const quartiles = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return [0.25, 0.5, 0.75].map((f) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * f))]!.toFixed(3)).join(" / ");
};
for (const b of others) {
  const cpu = Array.from({ length: rounds }, (_, r) => roundMean(b, (s) => s.mainUs, r) / roundMean(first!, (s) => s.mainUs, r));
  const rps = Array.from({ length: rounds }, (_, r) => roundMean(b, (s) => s.rps, r) / roundMean(first!, (s) => s.rps, r));
  console.log(`| ${b.name} | ${quartiles(cpu)} | ${cpu.filter((x) => x < 1).length} of ${rounds} | ${quartiles(rps)} | ${rps.filter((x) => x > 1).length} of ${rounds} |`);
}
process.exit(0);
