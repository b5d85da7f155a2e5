import assert from "node:assert/strict";
import { copyFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { writeGguf } from "../../src/engine/gguf/writer.js";
import { synthesizeSpec } from "../../src/engine/synth/synthesize.js";
import { LONG_GENERATION, makeHome, startTestServer, type TestServer } from "../helpers/server.js";

const ask = (s: TestServer, model: string) =>
  s.openai.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 4 });

describe("a model that cannot load fails its request cleanly while others keep answering", () => {
  let s: TestServer;
  before(async () => {
    const home = await makeHome({ tiny: { preset: "tiny" }, "broken-spm": { preset: "broken-spm" } });
    const models = join(home, "models");
    // A file cut short in its tensor data: the header reads, llama.cpp refuses the weights.
    copyFileSync(join(models, "tiny.gguf"), join(models, "truncated.gguf"));
    truncateSync(join(models, "truncated.gguf"), Math.floor(statSync(join(models, "tiny.gguf")).size * 0.6));
    writeFileSync(join(models, "garbage.gguf"), "this is not a gguf file at all");
    // A well-formed file whose tokenizer llama.cpp does not know.
    const spec = synthesizeSpec({ preset: "tiny", seed: 1 });
    spec.metadata = spec.metadata.map((e) => (e.key === "tokenizer.ggml.pre" ? { ...e, value: "bogus-pre" } : e));
    await writeGguf(join(models, "bad-pre.gguf"), spec);
    s = await startTestServer({ home });
  });
  after(() => s.close());

  it("an SPM vocabulary without byte tokens (llama.cpp aborts) gives a problem naming the reason", async () => {
    const err = await ask(s, "broken-spm").catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.code, "model_load_failed");
    assert.match(err.message, /out_of_range|SIGABRT/);
    // The server is still up and the good model answers.
    const ok = await ask(s, "tiny");
    assert.equal(ok.model, "tiny");
  });

  it("a bad tokenizer fails with llama.cpp's own words, not just 'Failed to load model'", async () => {
    const err = await ask(s, "bad-pre").catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.code, "model_load_failed");
    assert.match(err.message, /unknown pre-tokenizer type: 'bogus-pre'/);
    assert.ok((await ask(s, "tiny")).choices.length === 1);
  });

  it("a truncated file is refused before any load, without revealing where the home folder is", async () => {
    const err = await ask(s, "truncated").catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.InternalServerError, String(err));
    assert.equal(err.code, "model_load_failed");
    assert.match(err.message, /truncated file/);
    assert.ok(!err.message.includes(s.home), err.message);
  });

  it("a file that is not GGUF at all is listed as unreadable and refused", async () => {
    const ids = (await s.openai.models.list()).data.map((m) => m.id);
    assert.ok(!ids.includes("garbage"));
    const err = await ask(s, "garbage").catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.InternalServerError);
    assert.equal(err.code, "model_load_failed");
  });

  it("a second try fails the same way (no stuck half-loaded state)", async () => {
    const err = await ask(s, "broken-spm").catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.InternalServerError);
    assert.equal(err.code, "model_load_failed");
  });

  it("a runner killed mid-stream gives an in-band error, and the model loads again on the next request", async () => {
    const stream = await s.openai.chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "long" }],
      ...LONG_GENERATION,
      stream: true,
    });
    const runner = s.app.pool.list().find((m) => m.id === "tiny")!.runner;
    const pid = runner.pid!;
    let chunks = 0;
    const err = await (async () => {
      for await (const _c of stream) {
        if (++chunks === 2) process.kill(pid, "SIGKILL");
      }
    })().catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.APIError, `expected an in-band error, got ${String(err)}`);
    assert.match(err.message, /runner of model 'tiny' died/);
    const again = await ask(s, "tiny");
    assert.equal(again.model, "tiny");
    const newPid = s.app.pool.list().find((m) => m.id === "tiny")!.runner.pid;
    assert.notEqual(newPid, pid);
  });
});
