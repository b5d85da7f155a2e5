/**
 * Loads synthetic models with the real llama.cpp (node-llama-cpp, CPU, prebuilt binaries).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LlamaLogLevel, getLlama } from "node-llama-cpp";
import type { Llama, LlamaModel, Token } from "node-llama-cpp";
import { synthesizeModel } from "../../src/engine/synth/synthesize.js";
import { buildTokenizer } from "../../src/engine/synth/tokenizer.js";
import { CHATML_TOOLS_TEMPLATE } from "../../src/engine/synth/templates.js";

let dir: string;
let tinyPath: string;
let llama: Llama;
let model: LlamaModel;
const llamaLog: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "llmux-llama-"));
  tinyPath = join(dir, "tiny.gguf");
  await synthesizeModel(tinyPath, { preset: "tiny", seed: 1 });
  llama = await getLlama({
    build: "never",
    gpu: false,
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => llamaLog.push(`[${level}] ${message}`),
  });
  const started = performance.now();
  model = await llama.loadModel({ modelPath: tinyPath });
  const loadMs = performance.now() - started;
  assert.ok(loadMs < 1000, `tiny model loaded in ${loadMs.toFixed(0)} ms`);
});

after(async () => {
  await model?.dispose();
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe("synthetic tiny model in llama.cpp", () => {
  it("tokenizes and detokenizes like the synthetic tokenizer", () => {
    const tokens = model.tokenize("Hello world");
    assert.equal(tokens.length, 2);
    assert.equal(model.detokenize(tokens), "Hello world");
    const reference = buildTokenizer({ vocabSize: 2000, seed: 1 });
    for (const text of ["Hello world", "The quick brown fox jumps over the lazy dog.", "naïve café — 日本語 🙂\n\tx = f(y);  "]) {
      assert.deepEqual([...model.tokenize(text)], reference.encode(text), text);
      assert.equal(model.detokenize(model.tokenize(text)), text);
    }
    // special tokens are parsed only when asked
    const special = model.tokenize("<|im_start|>user\nHi<|im_end|>", true);
    assert.equal(special[0], reference.specialIds["<|im_start|>"]);
    assert.equal(special[special.length - 1], reference.specialIds["<|im_end|>"]);
    assert.equal(model.tokens.eos, reference.specialIds["<|im_end|>"]);
    assert.ok(model.isEogToken(reference.specialIds["<|endoftext|>"] as Token));
  });

  it("exposes the chat template in fileInfo", () => {
    assert.equal(model.fileInfo.metadata.tokenizer.chat_template, CHATML_TOOLS_TEMPLATE);
    assert.equal(model.fileInfo.metadata.general.architecture, "qwen2");
  });

  it("generates 8 tokens", async () => {
    const context = await model.createContext({ contextSize: 256, threads: 1 });
    try {
      const sequence = context.getSequence();
      const prompt = model.tokenize("<|im_start|>user\nHello world<|im_end|>\n<|im_start|>assistant\n", true);
      const out: Token[] = [];
      for await (const token of sequence.evaluate(prompt, { yieldEogToken: true })) {
        out.push(token);
        if (out.length >= 8) break;
      }
      assert.equal(out.length, 8);
      for (const t of out) assert.ok(t >= 0 && t < 2000);
    } finally {
      await context.dispose();
    }
    assert.deepEqual(
      llamaLog.filter((l) => l.startsWith("[error]")),
      [],
    );
  });
});

describe("broken-spm preset", () => {
  it("aborts a process that loads it (SIGABRT), as documented", async () => {
    const path = join(dir, "broken-spm.gguf");
    await synthesizeModel(path, { preset: "broken-spm", seed: 1 });
    const helper = fileURLToPath(new URL("./fixtures/load-model.mjs", import.meta.url));
    const child = spawn(process.execPath, [helper, path], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on("exit", (c, s) => resolve([c, s])),
    );
    assert.equal(signal, "SIGABRT", `exit code ${code}, output: ${output}`);
    assert.match(output, /std::out_of_range/);
    assert.doesNotMatch(output, /LOADED/);
  });
});
