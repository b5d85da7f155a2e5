import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { spawnSync } from "node:child_process";
import { DEFAULT_HEAP_GROWTH_PERCENT, keepWasmOnBaselineCompiler, keepYoungGenerationSmall, limitHeapGrowth, releaseYoungGeneration } from "../../src/runtime/heap.js";

describe("llmux serve's heap growth setting (LLMUX_HEAP_GROWTH)", () => {
  it("applies 20% by default, the given percent when set, and leaves V8's default at 0", () => {
    assert.equal(DEFAULT_HEAP_GROWTH_PERCENT, 20);
    assert.equal(limitHeapGrowth({}), 20);
    assert.equal(limitHeapGrowth({ LLMUX_HEAP_GROWTH: " " }), 20);
    assert.equal(limitHeapGrowth({ LLMUX_HEAP_GROWTH: "50" }), 50);
    assert.equal(limitHeapGrowth({ LLMUX_HEAP_GROWTH: "0" }), null);
  });

  it("refuses a value that is not a whole percent, naming the variable", () => {
    for (const bad of ["-1", "1.5", "lots", "2000"]) {
      assert.throws(() => limitHeapGrowth({ LLMUX_HEAP_GROWTH: bad }), /LLMUX_HEAP_GROWTH/);
    }
  });
});

describe("the young generation held small while modules load (bin/llmux.js), then released", () => {
  it("is applied unless LLMUX_HEAP_GROWTH=0 asks for V8's defaults", () => {
    assert.equal(keepYoungGenerationSmall({ LLMUX_HEAP_GROWTH: "0" }), false);
    assert.equal(keepYoungGenerationSmall({}), true);
    releaseYoungGeneration();
  });

  /**
   * Runs a child: optionally holds the young generation, loads Fastify, undici and Kysely (what
   * the server imports first), optionally releases it, then allocates like a busy server (a
   * sliding window of objects in flight). Returns the young generation's size (MiB) after the
   * imports and after the load.
   */
  const run = (mode: "default" | "held" | "released") => {
    const heapModule = new URL("../../src/runtime/heap.ts", import.meta.url).href;
    const script = `
      const heap = await import(${JSON.stringify(heapModule)});
      if (${JSON.stringify(mode)} !== "default") heap.keepYoungGenerationSmall({});
      await import("fastify"); await import("undici"); await import("kysely");
      const v8 = await import("node:v8");
      const size = () => v8.getHeapSpaceStatistics().find((x) => x.space_name === "new_space").space_size / 1048576;
      const afterImports = size();
      if (${JSON.stringify(mode)} === "released") heap.releaseYoungGeneration();
      const inFlight = [];
      for (const t0 = Date.now(); Date.now() - t0 < 500; ) {
        for (let i = 0; i < 1000; i++) {
          inFlight.push({ a: i, b: "x" + i, c: [i, i + 1] });
          if (inFlight.length > 20000) inFlight.shift();
        }
      }
      process.stdout.write(JSON.stringify({ afterImports, afterLoad: size() }));`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { afterImports: number; afterLoad: number };
  };

  it("keeps it small through the imports, and V8 grows it again under load once released", () => {
    const byDefault = run("default");
    const held = run("held");
    const released = run("released");
    // tsx itself loads before the setting applies here, so the young generation may have grown once.
    assert.ok(held.afterImports <= 4, `young generation ${held.afterImports} MiB after the imports, held`);
    assert.ok(byDefault.afterImports >= 4 * held.afterImports, `V8's default grows it while importing (${byDefault.afterImports} MiB)`);
    // Held for good, a busy process never gets room: why serve releases it once listening.
    assert.equal(held.afterLoad, held.afterImports, "held: no growth under load");
    assert.ok(released.afterLoad > released.afterImports, `released: grows under load (${released.afterImports} → ${released.afterLoad} MiB)`);
  });
});

describe("undici's WebAssembly kept on V8's baseline compiler (bin/llmux.js)", () => {
  it("is applied unless LLMUX_HEAP_GROWTH=0 asks for V8's defaults", () => {
    assert.equal(keepWasmOnBaselineCompiler({ LLMUX_HEAP_GROWTH: "0" }), false);
  });

  /**
   * Runs a child that makes one undici request to a local server, optionally after the setting,
   * and reports how far its peak RSS (VmHWM) rose in the next seconds: by default V8 recompiles
   * llhttp with TurboFan in the background about 0.1 s after the request.
   */
  const rise = (applied: boolean): { status: number; riseMiB: number } => {
    const heapModule = new URL("../../src/runtime/heap.ts", import.meta.url).href;
    const script = `
      const heap = await import(${JSON.stringify(heapModule)});
      if (${applied}) heap.keepWasmOnBaselineCompiler({});
      const { readFileSync } = await import("node:fs");
      const http = await import("node:http");
      const { Pool } = await import("undici");
      const hwm = () => Number(readFileSync("/proc/self/status", "utf8").match(/VmHWM:\\s+(\\d+)/)[1]) / 1024;
      const server = http.createServer((req, res) => res.end("ok")).listen(0, "127.0.0.1");
      await new Promise((r) => server.once("listening", r));
      const pool = new Pool("http://127.0.0.1:" + server.address().port);
      const before = hwm();
      const res = await pool.request({ path: "/", method: "GET" });
      await res.body.text();
      // Waits for the background compilation (it shows within 0.2 s here), up to 6 s on a busy machine.
      for (const t0 = Date.now(); Date.now() - t0 < (${applied} ? 1500 : 6000) && hwm() - before < 20; ) await new Promise((r) => setTimeout(r, 25));
      process.stdout.write(JSON.stringify({ status: res.statusCode, riseMiB: hwm() - before }));
      process.exit(0);`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { status: number; riseMiB: number };
  };

  it("spares the peak memory of recompiling llhttp, and undici still speaks HTTP", { skip: process.platform !== "linux" && "reads /proc/self/status (Linux)" }, () => {
    const byDefault = rise(false);
    const applied = rise(true);
    assert.equal(byDefault.status, 200);
    assert.equal(applied.status, 200);
    assert.ok(byDefault.riseMiB >= 20, `V8's default: the peak rose ${byDefault.riseMiB.toFixed(1)} MiB after the first request`);
    assert.ok(applied.riseMiB < 10, `kept on Liftoff: the peak rose ${applied.riseMiB.toFixed(1)} MiB`);
  });
});
