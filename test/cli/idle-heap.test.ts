import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { releaseHeapWhenIdle, type IdleHeapProbe } from "../../src/runtime/idle-heap.js";

/** A probe that replays event-loop utilisations and a young-generation size, counting collections. */
function scripted(utilisations: number[], youngMiB: () => number): IdleHeapProbe & { collections: number; checks: number } {
  const probe = {
    collections: 0,
    checks: 0,
    utilisation: () => utilisations[probe.checks++] ?? 0,
    youngMiB,
    collect: () => {
      probe.collections++;
    },
  };
  return probe;
}

const ticks = (n: number, everyMs: number) => new Promise((r) => setTimeout(r, n * everyMs + everyMs / 2));

describe("the heap given back once the server is quiet (llmux serve)", () => {
  it("collects once after two quiet windows in a row with the young generation enlarged, and not again once it is small", async () => {
    let young = 32;
    const probe = scripted([0.5, 0.002, 0.3, 0.001, 0.004, 0, 0, 0], () => young);
    const originalCollect = probe.collect;
    probe.collect = () => {
      originalCollect();
      young = 2; // what V8 does at a collection made while allocation is slow
    };
    const stop = releaseHeapWhenIdle({}, probe, 20)!;
    await ticks(8, 20);
    stop();
    // busy, quiet, busy (the run restarts), quiet, quiet → collect; then quiet but small → nothing.
    assert.ok(probe.checks >= 8, `${probe.checks} checks`);
    assert.equal(probe.collections, 1);
  });

  it("never collects while busy or while the young generation is at its start size", async () => {
    const busy = scripted(Array(10).fill(0.2), () => 32);
    const small = scripted(Array(10).fill(0), () => 2);
    const stops = [releaseHeapWhenIdle({}, busy, 20)!, releaseHeapWhenIdle({}, small, 20)!];
    await ticks(6, 20);
    stops.forEach((s) => s());
    assert.ok(busy.checks >= 5 && small.checks >= 5);
    assert.equal(busy.collections, 0);
    assert.equal(small.collections, 0);
  });

  it("is off with LLMUX_HEAP_GROWTH=0 (V8's own memory behaviour)", () => {
    assert.equal(releaseHeapWhenIdle({ LLMUX_HEAP_GROWTH: "0" }, scripted([], () => 32), 20), null);
  });

  it("shrinks a real process's young generation after a load, without --expose-gc and without leaving gc exposed", () => {
    const module = new URL("../../src/runtime/idle-heap.ts", import.meta.url).href;
    const script = `
      const { releaseHeapWhenIdle } = await import(${JSON.stringify(module)});
      const v8 = await import("node:v8");
      const { Worker } = await import("node:worker_threads");
      const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size / 1048576;
      releaseHeapWhenIdle({}, undefined, 2500);
      const inFlight = [];
      for (const t0 = Date.now(); Date.now() - t0 < 1500; ) {
        for (let i = 0; i < 1000; i++) {
          inFlight.push({ a: i, b: "x" + i, c: [i, i + 1] });
          if (inFlight.length > 50000) inFlight.shift();
        }
      }
      inFlight.length = 0;
      const afterLoad = young();
      let afterQuiet = afterLoad;
      for (const t0 = Date.now(); Date.now() - t0 < 15000 && afterQuiet === afterLoad; ) {
        await new Promise((r) => setTimeout(r, 250));
        afterQuiet = young();
      }
      const workerGc = await new Promise((resolve) => {
        const w = new Worker("import('node:worker_threads').then((m) => m.parentPort.postMessage(typeof gc))", { eval: true });
        w.once("message", (m) => { resolve(m); w.terminate(); });
      });
      process.stdout.write(JSON.stringify({ afterLoad, afterQuiet, mainGc: typeof globalThis.gc, workerGc }));
      process.exit(0);`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { afterLoad: number; afterQuiet: number; mainGc: string; workerGc: string };
    assert.ok(out.afterLoad >= 8, `the load grew the young generation (${out.afterLoad} MiB)`);
    assert.ok(out.afterQuiet <= 4, `once quiet it was given back (${out.afterLoad} → ${out.afterQuiet} MiB)`);
    assert.equal(out.mainGc, "undefined");
    assert.equal(out.workerGc, "undefined");
  });
});
