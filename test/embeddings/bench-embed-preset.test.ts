/**
 * The `bench-embed` synthetic preset (bge-small-en-v1.5's shape, F16): the file's shape, and that
 * llmux loads it and embeds with it through `POST /v1/embeddings`, the path the suite measures.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runEmbeddingsBench } from "../../src/bench/embeddings.js";
import { parsePromptSpec, PromptBuilder } from "../../src/bench/prompt.js";
import { GgmlType, LlamaFileType } from "../../src/engine/gguf/constants.js";
import { readModelInfo } from "../../src/engine/gguf/model-info.js";
import { readGgufHeader } from "../../src/engine/gguf/reader.js";
import { PRESETS } from "../../src/engine/synth/synthesize.js";
import { buildWordPieceTokenizer } from "../../src/engine/synth/wordpiece.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

describe("bench-embed preset", () => {
  let s: TestServer;
  let path: string;
  before(async () => {
    s = await startTestServer({ models: { "bench-embed": { preset: "bench-embed" } } });
    path = join(s.home, "models", "bench-embed.gguf");
  });
  after(() => s?.close());

  it("is a preset of `llmux models synth`", () => {
    assert.ok((PRESETS as readonly string[]).includes("bench-embed"));
  });

  it("has bge-small-en-v1.5's shape: BERT, 12 layers, 384 wide, 12 heads, FFN 1536, context 512, 30522 WordPiece tokens, F16, mean pooling", async () => {
    const h = await readGgufHeader(path);
    const m = h.metadata;
    assert.equal(m["general.architecture"], "bert");
    assert.equal(m["general.file_type"], LlamaFileType.MOSTLY_F16);
    assert.equal(m["bert.embedding_length"], 384);
    assert.equal(m["bert.block_count"], 12);
    assert.equal(m["bert.attention.head_count"], 12);
    assert.equal(m["bert.feed_forward_length"], 1536);
    assert.equal(m["bert.context_length"], 512);
    assert.equal(m["bert.pooling_type"], 1);
    assert.equal(m["tokenizer.ggml.model"], "bert");
    const types = new Map(h.tensors.map((t) => [t.name, t.type]));
    for (const n of ["token_embd.weight", "position_embd.weight", "blk.11.attn_q.weight", "blk.11.ffn_up.weight", "blk.11.ffn_down.weight"]) {
      assert.equal(types.get(n), GgmlType.F16, n);
    }
    for (const n of ["token_types.weight", "blk.11.attn_q.bias", "blk.11.layer_output_norm.weight"]) assert.equal(types.get(n), GgmlType.F32, n);
    const params = h.tensors.reduce((sum, t) => sum + t.elements, 0);
    assert.ok(Math.abs(params - 33.4e6) < 0.5e6, `${params} parameters (bge-small has 33.4M)`);

    const info = await readModelInfo(path);
    assert.deepEqual(info.capabilities, { chat: false, embeddings: true, tools: false, reasoning: false });
    assert.equal(info.poolingType, "mean");
    assert.equal(info.vocabSize, 30522);
  });

  it("embeds through /v1/embeddings, and the embeddings bench measures it (every request answered, tokens from usage)", async () => {
    const r = await s.openai.embeddings.create({ model: "bench-embed", input: ["hello world", "the lazy dog"], encoding_format: "float" });
    assert.equal(r.data.length, 2);
    assert.equal((r.data[0].embedding as number[]).length, 384);
    assert.notDeepEqual(r.data[0].embedding, r.data[1].embedding);

    const input = parsePromptSpec("64");
    const bench = await runEmbeddingsBench({
      target: { url: s.url, model: "bench-embed", timeoutMs: 60_000 },
      input,
      batch: 4,
      concurrency: [1, 2],
      plan: { requests: 2 },
      warmup: 1,
    });
    assert.deepEqual(bench.levels.map((l) => [l.concurrency, l.requests, l.completed, l.errors.count]), [[1, 2, 2, 0], [2, 2, 2, 0]]);
    // The server's token counts are the reference WordPiece encoder's, [CLS] and [SEP] included.
    const tok = buildWordPieceTokenizer({ vocabSize: 30522, seed: 1 });
    const prompts = new PromptBuilder(input);
    const cost = (i: number) => tok.encode(prompts.prompt(i)).length + 2;
    // Inputs 0..3 went to the warm-up; the four requests after it sent inputs 4..19.
    const expected = Array.from({ length: 16 }, (_, i) => cost(4 + i)).reduce((a, b) => a + b, 0);
    assert.equal((bench.levels[0].inputTokens ?? 0) + (bench.levels[1].inputTokens ?? 0), expected);
    for (const l of bench.levels) assert.ok(l.inputTokPerS !== null && l.inputTokPerS > 0 && l.inputsPerS > 0);
  });
});
