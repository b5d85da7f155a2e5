/**
 * `POST /v1/embeddings` on a real server with the real llama.cpp, through the official OpenAI SDK.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { buildWordPieceTokenizer } from "../../src/engine/synth/wordpiece.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

/** The reference tokenizer of the `embed` model (makeHome writes seed 1). */
const tok = buildWordPieceTokenizer({ vocabSize: 1024, seed: 1 });
/** Tokens a text costs: its WordPiece tokens plus [CLS] and [SEP]. */
const cost = (text: string): number => tok.encode(text).length + 2;

const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0));

const decodeBase64 = (s: string): number[] => {
  const buf = Buffer.from(s, "base64");
  return Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(i * 4));
};

const floats = (e: OpenAI.Embedding): number[] => {
  assert.ok(Array.isArray(e.embedding), `expected a float array, got ${typeof e.embedding}`);
  return e.embedding;
};

async function problem(s: TestServer, body: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${s.url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function sdkError(p: Promise<unknown>): Promise<OpenAI.APIError> {
  const err = await p.then(
    () => assert.fail("expected an error"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof OpenAI.APIError, String(err));
  return err;
}

describe("POST /v1/embeddings", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ models: { embed: { preset: "tiny-embed" }, tiny: { preset: "tiny" } } });
  });
  after(() => s.close());

  it("embeds one string: a unit vector of the model's dimension, usage from the tokenizer", async () => {
    const r = await s.openai.embeddings.create({ model: "embed", input: "Hello world", encoding_format: "float" });
    assert.equal(r.object, "list");
    assert.equal(r.model, "embed");
    assert.equal(r.data.length, 1);
    assert.equal(r.data[0].object, "embedding");
    assert.equal(r.data[0].index, 0);
    const v = floats(r.data[0]);
    assert.equal(v.length, 64);
    assert.ok(Math.abs(norm(v) - 1) < 1e-5, `norm ${norm(v)}`);
    assert.deepEqual(r.usage, { prompt_tokens: cost("Hello world"), total_tokens: cost("Hello world") });
    assert.equal(r.usage.prompt_tokens, 4); // [CLS] hello world [SEP]
  });

  it("embeds an array in order: unit vectors, same text ⇒ same vector, different texts ⇒ different vectors", async () => {
    const texts = ["hello world", "the quick brown fox jumps over the lazy dog", "hello world", "Paris is sunny today"];
    const r = await s.openai.embeddings.create({ model: "embed", input: texts, encoding_format: "float" });
    assert.deepEqual(r.data.map((d) => d.index), [0, 1, 2, 3]);
    const vs = r.data.map(floats);
    for (const v of vs) assert.ok(Math.abs(norm(v) - 1) < 1e-5, `norm ${norm(v)}`);
    assert.deepEqual(vs[0], vs[2]);
    assert.notDeepEqual(vs[0], vs[1]);
    assert.notDeepEqual(vs[1], vs[3]);
    // Order kept: each vector is the one that text gets on its own.
    for (let i = 0; i < texts.length; i++) {
      const alone = await s.openai.embeddings.create({ model: "embed", input: texts[i], encoding_format: "float" });
      assert.deepEqual(floats(alone.data[0]), vs[i], texts[i]);
    }
    const total = texts.reduce((a, t) => a + cost(t), 0);
    assert.deepEqual(r.usage, { prompt_tokens: total, total_tokens: total });
  });

  it("base64 is little-endian float32 and decodes to the float vectors; the SDK's default (base64) decodes the same", async () => {
    const input = ["hello world", "the lazy dog"];
    const f = await s.openai.embeddings.create({ model: "embed", input, encoding_format: "float" });
    const b = await s.openai.embeddings.create({ model: "embed", input, encoding_format: "base64" });
    assert.equal(b.data.length, 2);
    for (let i = 0; i < 2; i++) {
      assert.equal(typeof b.data[i].embedding, "string");
      assert.deepEqual(decodeBase64(b.data[i].embedding as unknown as string), floats(f.data[i]));
    }
    assert.deepEqual(b.usage, f.usage);
    const d = await s.openai.embeddings.create({ model: "embed", input });
    for (let i = 0; i < 2; i++) assert.deepEqual(Array.from(d.data[i].embedding), floats(f.data[i]));
  });

  it("token-id inputs give the vectors of the texts they spell, and the same usage", async () => {
    const texts = ["hello world", "the robot wanted to paint the sky"];
    const ids = texts.map((t) => tok.encode(t));
    const byText = await s.openai.embeddings.create({ model: "embed", input: texts, encoding_format: "float" });
    const one = await s.openai.embeddings.create({ model: "embed", input: ids[0], encoding_format: "float" });
    assert.deepEqual(floats(one.data[0]), floats(byText.data[0]));
    assert.equal(one.usage.prompt_tokens, cost(texts[0]));
    const many = await s.openai.embeddings.create({ model: "embed", input: ids, encoding_format: "float" });
    assert.deepEqual(many.data.map(floats), byText.data.map(floats));
    assert.deepEqual(many.usage, byText.usage);
  });

  it("dimensions equal to the model's is accepted; any other is a 400 naming it", async () => {
    const ok = await s.openai.embeddings.create({ model: "embed", input: "hi", dimensions: 64, encoding_format: "float" });
    assert.equal(floats(ok.data[0]).length, 64);
    const err = await sdkError(s.openai.embeddings.create({ model: "embed", input: "hi", dimensions: 32 }));
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.param, "dimensions");
    assert.match(err.message, /dimensions/);
    assert.match(err.message, /64/);
  });

  it("accepts `user`", async () => {
    const r = await s.openai.embeddings.create({ model: "embed", input: "hi", user: "someone", encoding_format: "float" });
    assert.equal(r.data.length, 1);
  });

  it("a chat model is a 400 naming it", async () => {
    const err = await sdkError(s.openai.embeddings.create({ model: "tiny", input: "hello" }));
    assert.ok(err instanceof OpenAI.BadRequestError, err.constructor.name);
    assert.equal(err.status, 400);
    assert.equal(err.param, "model");
    assert.match(err.message, /'tiny'/);
    assert.match(err.message, /embedding/);
  });

  it("an unknown model is a 404", async () => {
    const err = await sdkError(s.openai.embeddings.create({ model: "no-such-model", input: "hello" }));
    assert.ok(err instanceof OpenAI.NotFoundError, err.constructor.name);
    assert.equal(err.code, "model_not_found");
  });

  const BAD: { name: string; body: Record<string, unknown>; param: string; code?: string }[] = [
    { name: "empty string", body: { input: "" }, param: "input" },
    { name: "empty string in an array", body: { input: ["a", ""] }, param: "input.1" },
    { name: "empty array", body: { input: [] }, param: "input" },
    { name: "empty token array", body: { input: [[1, 2], []] }, param: "input.1" },
    { name: "missing input", body: {}, param: "input" },
    { name: "bad encoding_format", body: { input: "x", encoding_format: "hex" }, param: "encoding_format" },
    { name: "mixed strings and token ids", body: { input: ["a", 7] }, param: "input" },
    { name: "a token id outside the vocabulary", body: { input: [[5, 6], [7, 5000]] }, param: "input.1.1" },
    { name: "a negative token id", body: { input: [5, -1] }, param: "input.1" },
    { name: "more than 2048 inputs", body: { input: Array.from({ length: 2049 }, () => "a") }, param: "input" },
    { name: "dimensions zero", body: { input: "x", dimensions: 0 }, param: "dimensions" },
    { name: "unknown parameter", body: { input: "x", frobnicate: 1 }, param: "frobnicate" },
    { name: "an input longer than the context", body: { input: ["short", "hello ".repeat(600)] }, param: "input.1", code: "context_length_exceeded" },
  ];
  for (const c of BAD) {
    it(`${c.name} → 400 naming ${c.param}`, async () => {
      const err = await sdkError(s.openai.embeddings.create({ model: "embed", ...c.body } as never));
      assert.ok(err instanceof OpenAI.BadRequestError, `${err.constructor.name}: ${err.message}`);
      assert.equal(err.param, c.param, err.message);
      assert.equal(err.code, c.code ?? "validation_failed");
      const plain = await problem(s, { model: "embed", ...c.body });
      assert.equal(plain.status, 400);
      assert.equal(plain.body.error.param, c.param);
    });
  }

  it("an input too long names its index and its token count", async () => {
    const err = await sdkError(s.openai.embeddings.create({ model: "embed", input: ["short", "hello ".repeat(600)] }));
    assert.match(err.message, /input\.1/);
    assert.match(err.message, /602 tokens/);
    assert.match(err.message, /511/);
  });

  it("serves concurrent requests correctly from one runner, loaded once", async () => {
    const texts = Array.from({ length: 6 }, (_, i) => `the robot number ${i} wants to paint`);
    const single = await s.openai.embeddings.create({ model: "embed", input: texts, encoding_format: "float" });
    const pid = s.app.embeddings.list().find((m) => m.id === "embed")?.pid;
    assert.ok(pid);
    const rs = await Promise.all(texts.map((t) => s.openai.embeddings.create({ model: "embed", input: [t, "hello"], encoding_format: "float" })));
    rs.forEach((r, i) => assert.deepEqual(floats(r.data[0]), floats(single.data[i])));
    assert.deepEqual(s.app.embeddings.list().map((m) => [m.id, m.pid]), [["embed", pid]]);
  });

  it("close() ends the embedding runner", async () => {
    const pid = s.app.embeddings.list()[0]?.pid;
    assert.ok(pid);
    await s.app.embeddings.close();
    assert.deepEqual(s.app.embeddings.list(), []);
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
    const err = await sdkError(s.openai.embeddings.create({ model: "embed", input: "hi" }));
    assert.equal(err.status, 503);
  });
});
