import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { spawnSync } from "node:child_process";
import { DEFAULT_HEAP_GROWTH_PERCENT, keepYoungGenerationSmall, limitHeapGrowth } from "../../src/runtime/heap.js";

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

describe("the young generation kept small while modules load (bin/llmux.js)", () => {
  it("is applied unless LLMUX_HEAP_GROWTH=0 asks for V8's defaults", () => {
    assert.equal(keepYoungGenerationSmall({ LLMUX_HEAP_GROWTH: "0" }), false);
    assert.equal(keepYoungGenerationSmall({}), true);
  });

  it("keeps the young generation at its initial size while a module graph loads", () => {
    // A child that loads Fastify, undici and Kysely (what the server imports first), with and without the setting.
    const heapModule = new URL("../../src/runtime/heap.ts", import.meta.url).href;
    const newSpaceMiB = (keep: boolean) => {
      const script = `
        const { keepYoungGenerationSmall } = await import(${JSON.stringify(heapModule)});
        if (${keep}) keepYoungGenerationSmall({});
        await import("fastify"); await import("undici"); await import("kysely");
        const v8 = await import("node:v8");
        process.stdout.write(String(v8.getHeapSpaceStatistics().find((x) => x.space_name === "new_space").space_size / 1048576));`;
      const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      return Number(r.stdout);
    };
    const kept = newSpaceMiB(true);
    const grown = newSpaceMiB(false);
    // tsx itself loads before the setting applies here, so the young generation may have grown once.
    assert.ok(kept <= 4, `young generation ${kept} MiB with the setting`);
    assert.ok(grown > kept, `V8's default grows it (${grown} MiB): otherwise this test shows nothing`);
    assert.ok(grown >= 4 * kept, `${grown} against ${kept} MiB`);
  });
});
