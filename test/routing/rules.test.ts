import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Xoshiro128 } from "../../src/engine/synth/prng.js";
import { LlmuxError } from "../../src/errors/llmux-error.js";
import { explain, resolveRoute, validateRules, type ResolvedTarget, type RoutingRule } from "../../src/routing/rules/rules.js";

/** A seeded PRNG in [0, 1) (the synthetic-model generator's). */
function seeded(seed: number): () => number {
  const prng = new Xoshiro128(seed);
  return () => prng.nextFloat();
}

const RULES: RoutingRule[] = [
  { id: "mini-local", match: { kind: "exact", pattern: "gpt-4o-mini" }, targets: [{ backend: "local", model: "qwen2.5-7b" }] },
  {
    id: "openai",
    match: { kind: "prefix", pattern: "gpt-" },
    targets: [{ backend: "openai" }, { backend: "azure" }],
    fallbacks: [{ backend: "local", model: "llama-3.1-8b" }, { backend: "azure" }],
  },
  { id: "claude", match: { kind: "glob", pattern: "claude-*" }, targets: [{ backend: "anthropic" }] },
  { id: "catch-gpt", match: { kind: "regex", pattern: "gpt-.*" }, targets: [{ backend: "never" }] },
];

describe("resolveRoute", () => {
  it("the first matching rule wins, in order", () => {
    const mini = resolveRoute(RULES, "gpt-4o-mini")!;
    assert.equal(mini.ruleId, "mini-local");
    const gpt = resolveRoute(RULES, "gpt-4o")!;
    assert.equal(gpt.ruleId, "openai");
    assert.deepEqual(gpt.target, { backend: "openai", model: "gpt-4o" });
    assert.equal(resolveRoute(RULES, "claude-3-haiku")!.target.backend, "anthropic");
  });

  it("renames the model when the target says so", () => {
    const r = resolveRoute(RULES, "gpt-4o-mini")!;
    assert.deepEqual(r.target, { backend: "local", model: "qwen2.5-7b" });
    assert.equal(r.rename, "qwen2.5-7b");
    assert.equal(resolveRoute(RULES, "gpt-4o")!.rename, null);
  });

  it("lists the other targets then the fallbacks, without duplicates", () => {
    const r = resolveRoute(RULES, "gpt-4o")!;
    assert.deepEqual(r.fallbacks, [
      { backend: "azure", model: "gpt-4o" },
      { backend: "local", model: "llama-3.1-8b" },
    ]);
  });

  it("returns null when no rule matches", () => {
    assert.equal(resolveRoute(RULES, "llama-3.1-8b"), null);
    assert.equal(resolveRoute([], "gpt-4o"), null);
  });

  it("splits by weight within tolerance over 10,000 picks", () => {
    const rules: RoutingRule[] = [
      {
        id: "w",
        match: { kind: "glob", pattern: "*" },
        strategy: "weighted",
        targets: [{ backend: "a", weight: 1 }, { backend: "b", weight: 3 }, { backend: "c", weight: 6 }, { backend: "z", weight: 0 }],
      },
    ];
    const random = seeded(42);
    const counts: Record<string, number> = { a: 0, b: 0, c: 0, z: 0 };
    for (let i = 0; i < 10_000; i++) counts[resolveRoute(rules, "m", { random })!.target.backend]!++;
    assert.ok(Math.abs(counts.a! - 1000) < 150, JSON.stringify(counts));
    assert.ok(Math.abs(counts.b! - 3000) < 250, JSON.stringify(counts));
    assert.ok(Math.abs(counts.c! - 6000) < 250, JSON.stringify(counts));
    assert.equal(counts.z, 0);
    // Edge values of the random source stay in range.
    assert.equal(resolveRoute(rules, "m", { random: () => 0 })!.target.backend, "a");
    assert.equal(resolveRoute(rules, "m", { random: () => 0.9999999999 })!.target.backend, "c");
    assert.equal(resolveRoute(rules, "m", { random: () => 1 })!.target.backend, "c");
  });

  it("least_inflight picks the least busy target, ties to the first", () => {
    const rules: RoutingRule[] = [
      { id: "l", match: { kind: "prefix", pattern: "" }, strategy: "least_inflight", targets: [{ backend: "a" }, { backend: "b" }, { backend: "c" }] },
    ];
    const load: Record<string, number> = { a: 3, b: 1, c: 1 };
    const inflight = (t: ResolvedTarget) => load[t.backend]!;
    assert.equal(resolveRoute(rules, "m", { inflight })!.target.backend, "b");
    load.a = 0;
    assert.equal(resolveRoute(rules, "m", { inflight })!.target.backend, "a");
    load.a = 1;
    assert.equal(resolveRoute(rules, "m", { inflight })!.target.backend, "a");
    assert.equal(resolveRoute(rules, "m")!.target.backend, "a");
  });

  it("skips unavailable targets, then uses fallbacks, then all targets", () => {
    const down = new Set(["openai"]);
    const available = (t: ResolvedTarget) => !down.has(t.backend);
    let r = resolveRoute(RULES, "gpt-4o", { available })!;
    assert.deepEqual(r.target, { backend: "azure", model: "gpt-4o" });
    assert.deepEqual(r.fallbacks, [{ backend: "openai", model: "gpt-4o" }, { backend: "local", model: "llama-3.1-8b" }]);
    down.add("azure");
    r = resolveRoute(RULES, "gpt-4o", { available })!;
    assert.deepEqual(r.target, { backend: "local", model: "llama-3.1-8b" });
    assert.equal(r.rename, "llama-3.1-8b");
    down.add("local");
    assert.equal(resolveRoute(RULES, "gpt-4o", { available })!.target.backend, "openai");
  });

  it("refuses unsafe rules when compiling, naming the rule", () => {
    const bad: RoutingRule[] = [RULES[0]!, { id: "bad", match: { kind: "regex", pattern: "(a+)+" }, targets: [{ backend: "x" }] }];
    assert.throws(() => resolveRoute(bad, "a"), (e: unknown) => e instanceof LlmuxError && e.param === "routing.rules.1.match.pattern");
  });
});

describe("validateRules", () => {
  it("accepts the sample rules and refuses bad ones with their param", () => {
    validateRules(RULES);
    const check = (rules: RoutingRule[], param: string) =>
      assert.throws(() => validateRules(rules), (e: unknown) => e instanceof LlmuxError && e.code === "validation_failed" && e.param === param);
    const ok = RULES[0]!;
    check([ok, { ...ok }], "routing.rules.1.id");
    check([{ ...ok, targets: [] }], "routing.rules.0.targets");
    check([{ ...ok, targets: [{ backend: "a", weight: -1 }] }], "routing.rules.0.targets.0.weight");
    check([{ ...ok, strategy: "random" as never }], "routing.rules.0.strategy");
    check([{ ...ok, match: { kind: "regex", pattern: "a(?=b)" } }], "routing.rules.0.match.pattern");
  });
});

describe("explain", () => {
  it("says which rule matched and why", () => {
    const e = explain(RULES, "gpt-4o");
    assert.equal(e.matched?.ruleId, "openai");
    assert.equal(e.matched?.index, 1);
    assert.equal(e.matched?.strategy, "first");
    assert.deepEqual(e.matched?.targets, [{ backend: "openai", model: "gpt-4o" }, { backend: "azure", model: "gpt-4o" }]);
    assert.deepEqual(
      e.checked.map((c) => [c.ruleId, c.matched, c.reason]),
      [
        ["mini-local", false, "'gpt-4o' does not match exactly 'gpt-4o-mini'"],
        ["openai", true, "'gpt-4o' starts with 'gpt-'"],
      ],
    );
    assert.match(e.summary, /rule 'openai' \(#1\) serves 'gpt-4o'.*openai:gpt-4o, azure:gpt-4o/);
  });

  it("says when no rule matches", () => {
    const e = explain(RULES, "phi-3");
    assert.equal(e.matched, null);
    assert.equal(e.checked.length, RULES.length);
    assert.equal(e.checked[3]!.reason, "'phi-3' does not match regex /^(?:gpt-.*)$/");
    assert.match(e.summary, /no rule matches 'phi-3'; local models serve it/);
  });
});
