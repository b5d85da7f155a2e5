import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LlmuxError } from "../../src/errors/llmux-error.js";
import { compileGlob, compileMatcher, validatePattern } from "../../src/routing/rules/match.js";

const rejects = (pattern: string, problem: RegExp) => {
  assert.throws(
    () => validatePattern({ kind: "regex", pattern }, "routing.rules.0.match.pattern"),
    (err: unknown) => {
      assert.ok(err instanceof LlmuxError);
      assert.equal(err.code, "validation_failed");
      assert.equal(err.param, "routing.rules.0.match.pattern");
      assert.match(err.detail, problem, `${pattern}: ${err.detail}`);
      return true;
    },
    pattern,
  );
};

describe("compileMatcher", () => {
  it("exact matches the whole name, case-sensitively", () => {
    const m = compileMatcher({ kind: "exact", pattern: "gpt-4o" });
    assert.equal(m("gpt-4o"), true);
    assert.equal(m("gpt-4o-mini"), false);
    assert.equal(m("GPT-4o"), false);
  });

  it("prefix matches names that start with the pattern", () => {
    const m = compileMatcher({ kind: "prefix", pattern: "claude-" });
    assert.equal(m("claude-3-5-sonnet"), true);
    assert.equal(m("claude-"), true);
    assert.equal(m("xclaude-3"), false);
  });

  it("regex matches the whole name", () => {
    const m = compileMatcher({ kind: "regex", pattern: "gpt-4(o|-turbo)?(-mini)?" });
    assert.equal(m("gpt-4o-mini"), true);
    assert.equal(m("gpt-4"), true);
    assert.equal(m("xgpt-4"), false);
    assert.equal(m("gpt-4o-mini-2"), false);
    assert.equal(compileMatcher({ kind: "regex", pattern: "(?:llama|qwen)-\\d+b" })("qwen-7b"), true);
    assert.equal(compileMatcher({ kind: "regex", pattern: "(?<fam>[a-z]+)-[0-9]{1,3}b" })("mistral-7b"), true);
  });

  it("names over 256 characters never match, whatever the kind", () => {
    const long = "a".repeat(257);
    for (const kind of ["exact", "prefix", "glob", "regex"] as const) {
      const pattern = kind === "exact" ? long.slice(0, 256) : kind === "prefix" ? "a" : kind === "glob" ? "*" : "a*";
      const m = compileMatcher({ kind, pattern });
      assert.equal(m(long), false, kind);
      assert.equal(m("a".repeat(256)), kind !== "exact" || pattern === "a".repeat(256), kind);
    }
  });

  it("glob worst cases finish quickly", () => {
    const m = compileGlob("*a*a*a*a*a*a*a*a*a*a*a*a*b");
    const start = process.hrtime.bigint();
    for (let i = 0; i < 200; i++) assert.equal(m("a".repeat(256)), false);
    assert.ok(Number(process.hrtime.bigint() - start) / 1e6 < 2000);
  });
});

describe("glob", () => {
  const cases: [string, string, boolean][] = [
    ["*", "", true],
    ["*", "anything", true],
    ["", "", true],
    ["", "a", false],
    ["?", "", false],
    ["?", "a", true],
    ["?", "ab", false],
    ["??", "ab", true],
    ["gpt-*", "gpt-4o", true],
    ["gpt-*", "gpt-", true],
    ["gpt-*", "gpt", false],
    ["*-mini", "gpt-4o-mini", true],
    ["*-mini", "gpt-4o-mini-x", false],
    ["a*b*c", "abc", true],
    ["a*b*c", "aXbYc", true],
    ["a*b*c", "acb", false],
    ["a*a", "a", false],
    ["a*a", "aa", true],
    ["**", "x", true],
    ["a**b", "ab", true],
    ["*?", "", false],
    ["*?", "x", true],
    ["?*?", "xy", true],
    ["*ab*ab*", "xabyab", true],
    ["*ab*ab*", "xaby", false],
    ["llama-3.?-*b", "llama-3.1-8b", true],
    ["llama-3.?-*b", "llama-321-8b", false], // '.' is literal
    ["m[1]", "m[1]", true], // brackets are literal
    ["m[1]", "m1", false],
    ["?", "🦙", true], // one code point
    ["a*", "a🦙", true],
    ["(x)+", "(x)+", true],
  ];
  for (const [pattern, input, expected] of cases) {
    it(`'${pattern}' vs '${input}' → ${expected}`, () => {
      assert.equal(compileMatcher({ kind: "glob", pattern })(input), expected);
    });
  }
});

describe("validatePattern", () => {
  it("rejects nested quantifiers", () => {
    for (const p of ["(a+)+", "(a*)*", "(a+)*", "(a*)+", "(a+){2,}", "((ab)*)+", "(?:a+)+", "(x+x+)+y", "(\\d+)*", "([a-z]+)+", "(a?b+){1,5}"]) {
      rejects(p, /nested quantifier/);
    }
  });

  it("rejects repeated alternation", () => {
    for (const p of ["(a|aa)+", "(a|a)*", "(?:x|xy){2,}", "((a|b)c)+"]) rejects(p, /repeated alternation/);
  });

  it("rejects backreferences and lookarounds", () => {
    for (const p of ["(a)\\1", "(?<x>a)\\k<x>"]) rejects(p, /backreference/);
    for (const p of ["a(?=b)", "a(?!b)", "(?<=a)b", "(?<!a)b"]) rejects(p, /lookaround/);
  });

  it("rejects invalid syntax, unknown kinds and long patterns", () => {
    rejects("(unclosed", /not a valid regular expression/);
    rejects("a**", /not a valid regular expression/);
    rejects("a".repeat(257), /at most 256/);
    assert.throws(() => validatePattern({ kind: "glob", pattern: "*".repeat(257) }), /at most 256/);
    assert.throws(() => validatePattern({ kind: "fuzzy" as never, pattern: "x" }), /unknown match kind 'fuzzy'/);
  });

  it("accepts safe patterns", () => {
    for (const p of ["a+", "(ab)+", "(a+)?", "(a|b)?c", "[a+]+", "\\(a+\\)+", "gpt-4(o|-turbo)?", "a{2}(b){3}", "[(]a+[)]+", "a|b", "(?:ab){2,4}"]) {
      assert.doesNotThrow(() => validatePattern({ kind: "regex", pattern: p }), p);
    }
    assert.doesNotThrow(() => validatePattern({ kind: "regex", pattern: "a".repeat(256) }));
  });
});
