import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ModelInfo } from "../../src/engine/gguf/model-info.js";
import { estimateModelMemory, RUNNER_BASE_BYTES } from "../../src/engine/pool/estimate.js";
import { parseBudget } from "../../src/engine/pool/memory-budget.js";
import { PoolSettings } from "../../src/engine/pool/pool-settings.js";
import { SYNTH_PRESETS } from "../../src/engine/synth/presets.js";

describe("pool budget and estimate", () => {
  it("parses bytes, sizes with units and percentages of memory; refuses the rest with a reason", () => {
    const total = 16 * 2 ** 30;
    assert.deepEqual(parseBudget("8GB", total), { bytes: 8e9 });
    assert.deepEqual(parseBudget("8 GiB", total), { bytes: 8 * 2 ** 30 });
    assert.deepEqual(parseBudget("512MiB", total), { bytes: 512 * 2 ** 20 });
    assert.deepEqual(parseBudget("1.5gb", total), { bytes: 1.5e9 });
    assert.deepEqual(parseBudget("50%", total), { bytes: 8 * 2 ** 30 });
    assert.deepEqual(parseBudget("1000000", total), { bytes: 1e6 });
    assert.deepEqual(parseBudget(123456, total), { bytes: 123456 });
    for (const bad of ["", "lots", "0", "0%", "101%", "-1GB", "8 XB", 0, -5, 1.5]) assert.ok("error" in parseBudget(bad as string, total), String(bad));
  });

  it("counts the KV cache as llama.cpp allocates it (the bench shape: 96 MiB at 2048 × 4, as its load log says)", () => {
    const p = SYNTH_PRESETS.bench;
    const info = {
      tensorBytes: 525_000_000,
      blockCount: p.nLayer,
      headCount: p.nHead,
      headCountKv: p.nHeadKv,
      headDim: p.nEmbd / p.nHead,
      embeddingLength: p.nEmbd,
      vocabSize: p.vocabSize,
    } as ModelInfo;
    const e = estimateModelMemory(info, { contextSize: 2048, parallel: 4 });
    assert.equal(e.kvCacheBytes, 96 * 2 ** 20);
    assert.equal(e.weightsBytes, 525_000_000);
    assert.equal(e.runtimeBytes, RUNNER_BASE_BYTES);
    assert.equal(e.totalBytes, e.weightsBytes + e.kvCacheBytes + e.computeBytes + e.runtimeBytes);
    // More slots or context never cost less.
    const bigger = estimateModelMemory(info, { contextSize: 4096, parallel: 4 });
    assert.equal(bigger.kvCacheBytes, 2 * e.kvCacheBytes);
    assert.ok(bigger.computeBytes >= e.computeBytes);
  });

  it("settings are stored, survive a reload, and a bad patch changes nothing", async () => {
    const m = new Map<string, unknown>();
    const store = { get: async <T,>(k: string) => m.get(k) as T | undefined, set: async (k: string, v: unknown) => void m.set(k, v) };
    const defaults = { budget: "75%", maxModels: 4, keepAliveS: 300, pinned: [] };
    const a = new PoolSettings(store, 2 ** 34, defaults);
    let changes = 0;
    a.onChange(() => changes++);
    await a.update({ budget: "2GiB", max_models: 2, pinned: ["x", "x", "y"] });
    assert.equal(a.budgetBytes, 2 * 2 ** 30);
    assert.deepEqual(a.current.pinned, ["x", "y"]);
    await assert.rejects(a.update({ budget: "1GB", max_models: 99 }), /max_models/);
    assert.equal(a.current.budget, "2GiB", "nothing applied from a refused patch");
    assert.equal(changes, 1);
    const b = new PoolSettings(store, 2 ** 34, defaults);
    await b.load();
    assert.deepEqual(b.current, { budget: "2GiB", maxModels: 2, keepAliveS: 300, pinned: ["x", "y"] });
  });
});
