import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { GgmlType, LlamaTokenType } from "../../src/engine/gguf/constants.js";
import { readModelInfo } from "../../src/engine/gguf/model-info.js";
import { readGgufHeader } from "../../src/engine/gguf/reader.js";
import { PRESETS, synthesizeModel, synthesizeSpec } from "../../src/engine/synth/synthesize.js";
import { SPECIAL_TOKENS, buildTokenizer } from "../../src/engine/synth/tokenizer.js";
import { CHATML_THINK_TEMPLATE, CHATML_TOOLS_TEMPLATE } from "../../src/engine/synth/templates.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "llmux-synth-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sha256(path: string): Promise<string> {
  return createHash("sha256").update(await readFile(path)).digest("hex");
}

describe("synthesizeModel", () => {
  it("is deterministic: same seed ⇒ same bytes, different seed ⇒ different bytes", async () => {
    const a = join(dir, "a.gguf");
    const b = join(dir, "b.gguf");
    const c = join(dir, "c.gguf");
    await synthesizeModel(a, { preset: "tiny", seed: 7 });
    await synthesizeModel(b, { preset: "tiny", seed: 7 });
    await synthesizeModel(c, { preset: "tiny", seed: 8 });
    assert.equal(await sha256(a), await sha256(b));
    assert.notEqual(await sha256(a), await sha256(c));
  });

  it("writes a qwen2 tiny model with the expected metadata and tensors", async () => {
    const path = join(dir, "tiny.gguf");
    await synthesizeModel(path, { preset: "tiny", seed: 1 });
    const h = await readGgufHeader(path);
    const m = h.metadata;
    assert.equal(m["general.architecture"], "qwen2");
    assert.equal(m["general.alignment"], 32);
    assert.equal(m["llmux.synthetic"], true);
    assert.equal(m["llmux.seed"], 1);
    for (const k of [
      "context_length",
      "embedding_length",
      "block_count",
      "feed_forward_length",
      "attention.head_count",
      "attention.head_count_kv",
      "attention.layer_norm_rms_epsilon",
      "rope.freq_base",
    ]) {
      assert.ok(`qwen2.${k}` in m, `qwen2.${k}`);
    }
    const names = h.tensors.map((t) => t.name);
    assert.ok(names.includes("output.weight"));
    assert.ok(names.includes("blk.1.attn_k.bias"));
    assert.deepEqual(h.tensors.find((t) => t.name === "blk.0.attn_k.weight")?.dims, [64, 32]);
    assert.deepEqual(h.tensors.find((t) => t.name === "token_embd.weight")?.dims, [64, 2000]);

    const info = await readModelInfo(path);
    assert.equal(info.id, "tiny");
    assert.equal(info.architecture, "qwen2");
    assert.equal(info.quantization, "F32");
    assert.equal(info.contextLength, 4096);
    assert.equal(info.embeddingLength, 64);
    assert.equal(info.blockCount, 2);
    assert.equal(info.headCount, 4);
    assert.equal(info.headCountKv, 2);
    assert.equal(info.vocabSize, 2000);
    assert.equal(info.addBosToken, false);
    assert.equal(info.synthetic, true);
    assert.equal(info.parameterCount, h.totalElements);
    assert.equal(info.eosTokenId, 1995);
    assert.equal(info.bosTokenId, 1993);
    assert.equal(info.chatTemplate, CHATML_TOOLS_TEMPLATE);
    assert.deepEqual(info.capabilities, { chat: true, embeddings: false, tools: true, reasoning: false });
  });

  it("tiny-think has the reasoning template; broken-spm is an SPM llama model", async () => {
    const think = join(dir, "tiny-think.gguf");
    await synthesizeModel(think, { preset: "tiny-think", seed: 1 });
    const ti = await readModelInfo(think);
    assert.equal(ti.chatTemplate, CHATML_THINK_TEMPLATE);
    assert.deepEqual(ti.capabilities, { chat: true, embeddings: false, tools: true, reasoning: true });

    const spm = join(dir, "broken-spm.gguf");
    await synthesizeModel(spm, { preset: "broken-spm", seed: 1 });
    const h = await readGgufHeader(spm, { fullArrays: true });
    assert.equal(h.metadata["general.architecture"], "llama");
    assert.equal(h.metadata["tokenizer.ggml.model"], "llama");
    assert.equal(h.metadata["tokenizer.ggml.scores"], undefined);
    const tokens = (h.metadata["tokenizer.ggml.tokens"] as { values: string[] }).values;
    assert.ok(!tokens.some((t) => /^<0x[0-9A-F]{2}>$/.test(t)), "no byte tokens");
    const si = await readModelInfo(spm);
    assert.equal(si.capabilities.chat, true, "looks like a chat model so that servers try to load it");
  });

  it("the bench spec has the Qwen2.5-0.5B shape (without writing it)", () => {
    const spec = synthesizeSpec({ preset: "bench", seed: 1 });
    const params = spec.tensors.reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0);
    assert.equal(params, 494_032_768);
    assert.ok(!spec.tensors.some((t) => t.name === "output.weight"), "tied embeddings");
    for (const t of spec.tensors) {
      assert.equal(t.type, t.dims.length === 2 ? GgmlType.Q8_0 : GgmlType.F32, t.name);
    }
    const meta = Object.fromEntries(spec.metadata.map((e) => [e.key, e.value]));
    assert.equal(meta["qwen2.block_count"], 24);
    assert.equal(meta["qwen2.embedding_length"], 896);
    assert.equal(meta["qwen2.context_length"], 32768);
    assert.equal(meta["general.file_type"], 7);
    assert.equal((meta["tokenizer.ggml.tokens"] as { values: ArrayLike<unknown> }).values.length, 151936);
  });

  it("exports the preset list", () => {
    assert.deepEqual([...PRESETS].sort(), ["bench", "bench-embed", "broken-spm", "tiny", "tiny-embed", "tiny-think"]);
    assert.throws(() => synthesizeSpec({ preset: "tiny", seed: -1 }), /seed must be an integer/);
  });
});

describe("synthetic BPE tokenizer", () => {
  const tk = buildTokenizer({ vocabSize: 2000, seed: 3 });

  it("has byte tokens, valid unique merges and the special tokens at the end", () => {
    assert.equal(tk.tokens.length, 2000);
    assert.equal(new Set(tk.tokens).size, 2000, "tokens are unique");
    assert.equal(tk.tokens[0], "!");
    assert.equal(tk.tokens[188], "Ā"); // byte 0 in GPT-2's table
    const ids = new Set(tk.tokens);
    for (const m of tk.merges) {
      const parts = m.split(" ");
      assert.equal(parts.length, 2, m);
      assert.ok(ids.has(parts[0]) && ids.has(parts[1]) && ids.has(parts[0] + parts[1]), m);
    }
    assert.ok(tk.learnedMergeCount >= 300);
    const n = SPECIAL_TOKENS.length;
    assert.deepEqual(tk.tokens.slice(-n), SPECIAL_TOKENS.map((s) => s.text));
    assert.deepEqual(tk.tokenTypes.slice(-n), [3, 3, 3, 4, 4, 4, 4]);
    assert.ok(tk.tokenTypes.slice(0, -n).every((t) => t === LlamaTokenType.NORMAL));
    assert.equal(tk.tokens[tk.eosId], "<|im_end|>");
    assert.equal(tk.tokens[tk.bosId], "<|endoftext|>");
  });

  it("tokenizes common words into few tokens and round-trips bytes", () => {
    assert.equal(tk.encode("Hello world").length, 2);
    assert.equal(tk.encode("The quick brown fox jumps over the lazy dog.").length, 10);
    const text = "naïve café — 日本語 🙂\n\tx";
    assert.equal(tk.decode(tk.encode(text)), text);
    assert.equal(tk.decode([tk.specialIds["<|im_start|>"]]), "<|im_start|>");
    assert.deepEqual(buildTokenizer({ vocabSize: 2000, seed: 3 }).tokens, tk.tokens, "deterministic");
    assert.notDeepEqual(buildTokenizer({ vocabSize: 2000, seed: 4 }).tokens, tk.tokens);
  });
});

describe("chat templates", () => {
  const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];

  it("the tools template renders ChatML with tools and tool calls", () => {
    const out = new Template(CHATML_TOOLS_TEMPLATE).render({
      messages: [
        { role: "user", content: "Weather?" },
        { role: "assistant", content: "", tool_calls: [{ type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
        { role: "tool", content: "sunny" },
      ],
      tools,
      add_generation_prompt: true,
    });
    assert.match(out, /^<\|im_start\|>system\nYou are a helpful assistant\.\n\n# Tools\n/);
    assert.match(out, /<tools>\n\{"type": "function", "function": \{"name": "get_weather"/);
    assert.ok(out.includes('<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city":"Paris"}}\n</tool_call><|im_end|>\n'));
    assert.ok(out.includes("<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n"));
    assert.ok(out.endsWith("<|im_start|>assistant\n"));
    assert.equal(
      new Template(CHATML_TOOLS_TEMPLATE).render({ messages: [{ role: "user", content: "Hi" }], add_generation_prompt: true }),
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    );
  });

  it("the think template follows enable_thinking", () => {
    const t = new Template(CHATML_THINK_TEMPLATE);
    const messages = [{ role: "user", content: "Hi" }];
    // Thinking (the default) opens the think block in the prompt.
    assert.equal(t.render({ messages, add_generation_prompt: true }), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n");
    assert.equal(
      t.render({ messages, add_generation_prompt: true, enable_thinking: true }),
      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n",
    );
    assert.equal(
      t.render({ messages, add_generation_prompt: true, enable_thinking: false }),
      "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
    );
    const withReasoning = t.render({
      messages: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello!", reasoning_content: "greet back" },
      ],
    });
    assert.equal(withReasoning, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\ngreet back\n</think>\n\nHello!<|im_end|>\n");
  });
});
