/**
 * Two or more llmux builds side by side in front of one mock upstream, wrk taking turns between
 * them round by round (the starting build rotates), so a drift in the machine's speed hits every
 * build alike: the way to tell whether a change made the gateway faster on a noisy machine.
 *
 *   GATEWAY_AB="before=/tmp/old/dist after=dist after-nocap=dist:LLMUX_HEAP_GROWTH=0" npm run bench:gateway:ab
 *
 * Each entry is NAME=DIST[:VAR=VALUE…] (a build's compiled dist/ folder, and environment for its
 * server). Env: GATEWAY_AB_ROUNDS (6), GATEWAY_AB_SECONDS (5), GATEWAY_AB_CONNECTIONS (50),
 * GATEWAY_AB_STREAM=1 for streaming. Prints each build's median req/s, its median CPU time per
 * request (steadier than req/s: waiting for a core does not count), RSS idle and peak (Linux),
 * and every round.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { findWrk, runWrk, wrkScript } from "../src/bench/gateway.js";
import { configureGatewayBench, startMockUpstream } from "../src/bench/gateway-mock.js";
import { cpuPerRequest, procRssMiB, startReady, summary } from "./lib.js";

interface Build {
  name: string;
  dist: string;
  env: Record<string, string>;
  url?: string;
  pid?: number;
  rps: number[];
  /** CPU time per request, µs: the whole process, and its main thread alone. */
  cpuUs: number[];
  mainUs: number[];
  idleRssMiB?: number;
}

const spec = process.env.GATEWAY_AB ?? "";
const builds: Build[] = spec
  .split(/\s+/)
  .filter(Boolean)
  .map((entry) => {
    const [name, rest] = entry.split(/=(.*)/s, 2) as [string, string | undefined];
    if (!rest) throw new Error(`GATEWAY_AB entry '${entry}' is not NAME=DIST[:VAR=VALUE…]`);
    const [dist, ...vars] = rest.split(":");
    return { name, dist: resolve(dist!), env: Object.fromEntries(vars.map((v) => v.split(/=(.*)/s, 2) as [string, string])), rps: [], cpuUs: [], mainUs: [] };
  });
if (builds.length < 2) throw new Error('set GATEWAY_AB to two or more NAME=DIST entries, e.g. "before=/tmp/old/dist after=dist"');
const rounds = Number(process.env.GATEWAY_AB_ROUNDS ?? 6);
const seconds = Number(process.env.GATEWAY_AB_SECONDS ?? 5);
const connections = Number(process.env.GATEWAY_AB_CONNECTIONS ?? 50);
const stream = process.env.GATEWAY_AB_STREAM === "1";
const wrk = findWrk();
if (!wrk) throw new Error("wrk is needed (apt-get install wrk)");

const server = new URL("./gateway-server.mjs", import.meta.url).pathname;
const mock = await startMockUpstream();
const children: ChildProcess[] = [mock.child];
process.on("exit", () => children.forEach((c) => c.kill("SIGTERM")));
for (const b of builds) {
  const { child, line } = await startReady(process.execPath, [server], { ...process.env, ...b.env, LLMUX_BENCH_DIST: b.dist });
  children.push(child);
  b.url = line;
  b.pid = child.pid;
  await configureGatewayBench(b.url, mock.url);
}
for (const b of builds) b.idleRssMiB = procRssMiB(b.pid);
const script = wrkScript(mkdtempSync(join(tmpdir(), "llmux-gw-ab-")), stream);
const target = (b: Build) => `${b.url}/v1/chat/completions`;
for (const b of builds) await runWrk(wrk, target(b), connections, 2, script); // warm-up
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < builds.length; k++) {
    const b = builds[(r + k) % builds.length]!;
    const cpu = cpuPerRequest(b.pid);
    const mainCpu = cpuPerRequest(b.pid, true);
    const m = await runWrk(wrk, target(b), connections, seconds, script);
    const requests = m.requestsPerS * seconds;
    b.cpuUs.push(cpu(requests));
    b.mainUs.push(mainCpu(requests));
    if (m.errors > 0) throw new Error(`${b.name}: ${m.errors} errors in a round`);
    b.rps.push(m.requestsPerS);
    process.stderr.write(`round ${r + 1}/${rounds} ${b.name}: ${m.requestsPerS.toFixed(0)} req/s, ${b.cpuUs.at(-1)!.toFixed(1)} µs CPU a request\n`);
  }
}
console.log(`\n${stream ? "streaming" : "non-streaming"}, ${connections} connections, ${rounds} rounds of ${seconds} s, builds taking turns\n`);
console.log("| build | median req/s | median CPU µs a request (main thread) | RSS idle / peak, MiB | req/s by round |\n|---|---:|---:|---|---|");
for (const b of builds) {
  const cpu = `${summary(b.cpuUs).median.toFixed(1)} (${summary(b.mainUs).median.toFixed(1)})`;
  console.log(`| ${b.name} | ${summary(b.rps).median.toFixed(0)} | ${cpu} | ${b.idleRssMiB!.toFixed(1)} / ${procRssMiB(b.pid, "VmHWM").toFixed(1)} | ${b.rps.map((x) => x.toFixed(0)).join(" ")} |`);
}
process.exit(0);
