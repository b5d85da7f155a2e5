import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getLlama, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { wrapJsonGrammar } from "../../src/engine/grammar/gbnf.js";
import { ANY_JSON_OBJECT, GRAMMAR_BOUNDS, toGrammarSchema } from "../../src/engine/grammar/json-schema.js";
import { LlmuxError } from "../../src/errors/llmux-error.js";

describe("JSON schema → grammar schema", () => {
  it("keeps what it can enforce and bounds open sizes", () => {
    const out = toGrammarSchema(
      { type: "object", title: "T", properties: { s: { type: "string" }, a: { type: "array", items: { type: "integer" } }, d: { type: "string", format: "date" } }, required: ["s"] },
      "schema",
    );
    assert.deepEqual(out, {
      type: "object",
      properties: {
        s: { type: "string", maxLength: GRAMMAR_BOUNDS.maxStringLength },
        a: { type: "array", items: { type: "integer" }, maxItems: GRAMMAR_BOUNDS.maxItems },
        d: { type: "string", format: "date" },
      },
      required: ["s"],
    });
  });

  it("maps anyOf to oneOf and #/definitions refs to $defs", () => {
    const out = toGrammarSchema({ anyOf: [{ $ref: "#/definitions/x" }, { type: "null" }], definitions: { x: { type: "boolean" } } }, "schema");
    assert.deepEqual(out, { oneOf: [{ $ref: "#/$defs/x" }, { type: "null" }], $defs: { x: { type: "boolean" } } });
  });

  it("names every keyword it cannot enforce", () => {
    try {
      toGrammarSchema({ type: "object", properties: { a: { type: "string", pattern: "x" }, b: { type: "number", minimum: 1 } }, allOf: [] }, "schema");
      assert.fail("expected an error");
    } catch (err) {
      assert.ok(err instanceof LlmuxError);
      assert.equal(err.code, "unsupported_parameter");
      assert.deepEqual(err.fieldErrors?.map((f) => f.field).sort(), ["schema.allOf", "schema.properties.a.pattern", "schema.properties.b.minimum"]);
    }
  });

  it("accepts the safe-integer range zod writes for .int() (a grammar's integers always hold it), and no tighter bound", () => {
    const int = { type: "integer", minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER };
    assert.deepEqual(toGrammarSchema({ type: "object", properties: { n: int }, required: ["n"] }, "s"), { type: "object", properties: { n: { type: "integer" } }, required: ["n"] });
    assert.throws(() => toGrammarSchema({ type: "integer", minimum: 0 }, "s"), /keyword 'minimum' is not supported/);
    assert.throws(() => toGrammarSchema({ type: "number", maximum: Number.MAX_SAFE_INTEGER }, "s"), /keyword 'maximum' is not supported/);
  });

  // Each of these once compiled to a grammar that ignored the mistake (`type: "bogus"` produced "null").
  for (const [what, schema, field] of [
    ["an unknown type", { type: "bogus" }, "schema.type"],
    ["an unknown type in a list", { type: ["string", "nope"] }, "schema.type"],
    ["an empty enum", { type: "string", enum: [] }, "schema.enum"],
    ["required that is not a list of names", { type: "object", required: "a" }, "schema.required"],
    ["minLength above maxLength", { type: "string", minLength: 5, maxLength: 2 }, "schema.minLength"],
    ["a negative size", { type: "array", maxItems: -1 }, "schema.maxItems"],
    ["a $ref to a missing definition", { type: "object", properties: { a: { $ref: "#/$defs/missing" } } }, "schema"],
  ] as const) {
    it(`refuses ${what} with a 400 naming the field`, () => {
      assert.throws(
        () => toGrammarSchema(schema, "schema"),
        (err: unknown) => err instanceof LlmuxError && err.status === 400 && (err.fieldErrors ?? []).some((f) => f.field === field),
      );
    });
  }
});

describe("GBNF wrapping of node-llama-cpp's grammar", () => {
  let llama: Llama;
  before(async () => {
    llama = await getLlama({ build: "never", gpu: false, logLevel: LlamaLogLevel.error });
  });
  after(() => llama.dispose());

  it("wraps the JSON between literals, drops trailing newlines, bounds numbers and keys, and compiles", async () => {
    const schema = toGrammarSchema({ type: "object", properties: { i: { type: "integer" }, f: { type: "number" } } }, "s");
    const gbnf = wrapJsonGrammar((await llama.createGrammarForJsonSchema(schema as never)).grammar, "<tool_call>\n", "\n</tool_call>");
    assert.match(gbnf, /^root ::= "<tool_call>\\n" llmux-json "\\n<\/tool_call>"\n/);
    assert.doesNotMatch(gbnf, /\\n\\n\\n\\n/);
    assert.match(gbnf, /^integer-number-rule ::= [^\n]*$/m);
    assert.doesNotMatch(gbnf.match(/^integer-number-rule ::= .*$/m)![0], /eE/);
    // At most 15 digits: safe integers only, so zod's `.int()` range always holds.
    assert.match(gbnf.match(/^integer-number-rule ::= .*$/m)![0], /\[1-9\] \[0-9\]\{0,14\}/);
    assert.match(gbnf, /\[eE\] \[-\+\]\? \[0-9\]\{1,2\}/);
    await llama.createGrammar({ grammar: gbnf });
    const free = wrapJsonGrammar((await llama.createGrammarForJsonSchema(ANY_JSON_OBJECT as never)).grammar, "", "");
    assert.doesNotMatch(free, /string-char-rule\*/);
    await llama.createGrammar({ grammar: free });
  });

  it("refuses a grammar of an unexpected shape instead of compiling it unbounded", () => {
    assert.throws(() => wrapJsonGrammar('root ::= "x"', "", ""), /unexpected grammar shape/);
  });
});
