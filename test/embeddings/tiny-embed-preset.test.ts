/**
 * The `tiny-embed` synthetic preset: a real BERT encoder llama.cpp loads and embeds with.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LlamaLogLevel, getLlama } from "node-llama-cpp";
import type { Llama, LlamaModel } from "node-llama-cpp";
import { readModelInfo } from "../../src/engine/gguf/model-info.js";
import { readGgufHeader } from "../../src/engine/gguf/reader.js";
import { PRESETS, synthesizeModel } from "../../src/engine/synth/synthesize.js";
import { PHANTOM_SPACE, buildWordPieceTokenizer } from "../../src/engine/synth/wordpiece.js";

let dir: string;
let path: string;
let llama: Llama;
let model: LlamaModel;
const llamaLog: string[] = [];

const sha256 = async (p: string): Promise<string> => createHash("sha256").update(await readFile(p)).digest("hex");

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "llmux-embed-"));
  path = join(dir, "embed.gguf");
  await synthesizeModel(path, { preset: "tiny-embed", seed: 1 });
  llama = await getLlama({
    build: "never",
    gpu: false,
    maxThreads: 0,
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => llamaLog.push(`[${level}] ${message}`),
  });
  model = await llama.loadModel({ modelPath: path });
});

after(async () => {
  await model?.dispose();
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe("tiny-embed preset", () => {
  it("is a preset of `llmux models synth`", () => {
    assert.ok((PRESETS as readonly string[]).includes("tiny-embed"));
  });

  it("is deterministic: same seed ⇒ same bytes, different seed ⇒ different bytes", async () => {
    const b = join(dir, "b.gguf");
    const c = join(dir, "c.gguf");
    await synthesizeModel(b, { preset: "tiny-embed", seed: 1 });
    await synthesizeModel(c, { preset: "tiny-embed", seed: 2 });
    assert.equal(await sha256(path), await sha256(b));
    assert.notEqual(await sha256(path), await sha256(c));
  });

  it("writes a small BERT with mean pooling, bidirectional attention, a WordPiece vocabulary and no chat template", async () => {
    const h = await readGgufHeader(path);
    const m = h.metadata;
    assert.equal(m["general.architecture"], "bert");
    assert.equal(m["bert.pooling_type"], 1);
    assert.equal(m["bert.attention.causal"], false);
    assert.equal(m["tokenizer.ggml.model"], "bert");
    assert.ok(!("tokenizer.chat_template" in m));
    const names = new Set(h.tensors.map((t) => t.name));
    for (const n of [
      "token_embd.weight",
      "token_types.weight",
      "position_embd.weight",
      "token_embd_norm.weight",
      "token_embd_norm.bias",
      "blk.1.attn_q.bias",
      "blk.1.attn_output.weight",
      "blk.1.attn_output_norm.bias",
      "blk.1.ffn_up.bias",
      "blk.1.ffn_down.weight",
      "blk.1.layer_output_norm.weight",
    ]) {
      assert.ok(names.has(n), n);
    }
    assert.ok(!names.has("output.weight"));

    const info = await readModelInfo(path);
    assert.deepEqual(info.capabilities, { chat: false, embeddings: true, tools: false, reasoning: false });
    assert.equal(info.poolingType, "mean");
    assert.equal(info.embeddingLength, 64);
    assert.equal(info.blockCount, 2);
    assert.equal(info.contextLength, 512);
    assert.equal(info.vocabSize, 1024);
    assert.equal(info.addBosToken, true);
    assert.ok(info.sizeBytes < 1024 * 1024, `${info.sizeBytes} bytes`);

    // WordPiece as llama.cpp stores it: `##ing` is written `ing`, a word start `hello` is `▁hello`.
    const tok = buildWordPieceTokenizer({ vocabSize: 1024, seed: 1 });
    assert.deepEqual(tok.tokens.slice(0, 5), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]);
    assert.ok(tok.tokens.includes("ing"));
    assert.ok(tok.tokens.includes(`${PHANTOM_SPACE}hello`));
    assert.equal(new Set(tok.tokens).size, tok.tokens.length);
  });

  it("tokenizes in llama.cpp exactly like the reference WordPiece encoder", () => {
    const tok = buildWordPieceTokenizer({ vocabSize: 1024, seed: 1 });
    for (const text of ["Hello world", "The quick brown fox jumps over the lazy dog.", "running quickly, xyzzy! naïve 42", "  \t"]) {
      assert.deepEqual([...model.tokenize(text)], tok.encode(text), text);
    }
    assert.equal(model.tokens.bos, tok.clsId);
    assert.equal(model.tokens.sep, tok.sepId);
  });

  it("embeds: n_embd floats per text, deterministic, different for different texts", async () => {
    const ctx = await model.createEmbeddingContext({ contextSize: 512, batchSize: 512, threads: 1 });
    try {
      const a = (await ctx.getEmbeddingFor("hello world")).vector;
      const again = (await ctx.getEmbeddingFor("hello world")).vector;
      const b = (await ctx.getEmbeddingFor("the lazy dog")).vector;
      assert.equal(a.length, 64);
      assert.ok(a.every((x) => Number.isFinite(x)));
      assert.ok(a.some((x) => x !== 0));
      assert.deepEqual(a, again);
      assert.notDeepEqual(a, b);
      // Token ids give the same vector as the text they spell ([CLS]/[SEP] added either way).
      assert.deepEqual((await ctx.getEmbeddingFor(model.tokenize("hello world"))).vector, a);
    } finally {
      await ctx.dispose();
    }
    assert.deepEqual(llamaLog.filter((l) => l.startsWith("[error]")), []);
  });
});
