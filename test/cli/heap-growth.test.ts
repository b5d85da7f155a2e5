import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_HEAP_GROWTH_PERCENT, limitHeapGrowth } from "../../src/runtime/heap.js";

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
