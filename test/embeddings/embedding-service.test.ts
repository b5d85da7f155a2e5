/**
 * The embedding service and its runner processes, without HTTP.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { defaultEngineConfig } from "../../src/config.js";
import { EmbeddingService } from "../../src/engine/embeddings/embedding-service.js";
import { writeGguf } from "../../src/engine/gguf/writer.js";
import { ModelPool } from "../../src/engine/model-pool.js";
import { ModelRegistry } from "../../src/engine/model-registry.js";
import { synthesizeModel, synthesizeSpec } from "../../src/engine/synth/synthesize.js";
import { isLlmuxError } from "../../src/errors/llmux-error.js";

let home: string;
let service: EmbeddingService;
let pool: ModelPool;

before(async () => {
  home = await mkdtemp(join(tmpdir(), "llmux-embed-svc-"));
  const models = join(home, "models");
  const registry = new ModelRegistry(models);
  await synthesizeModel(join(models, "embed.gguf"), { preset: "tiny-embed", seed: 1 });
  // Well-formed header, but a tensor llama.cpp's bert loader requires is missing.
  const spec = synthesizeSpec({ preset: "tiny-embed", seed: 1 });
  spec.tensors = spec.tensors.filter((t) => t.name !== "blk.1.ffn_down.weight");
  await writeGguf(join(models, "no-ffn.gguf"), spec);
  await registry.refresh();
  // The pool's default limits (75% of memory, 4 models) hold a tiny embedding model with room to spare.
  pool = new ModelPool({ ...defaultEngineConfig(), threads: 1, contextSize: 2048 });
  service = new EmbeddingService(registry, pool);
});

after(async () => {
  await service?.close();
  await pool?.closeAll();
  await rm(home, { recursive: true, force: true });
});

describe("EmbeddingService", () => {
  it("embeds with the runner: unit vectors and token counts", async () => {
    const r = await service.embed("embed", ["hello world", "the dog"]);
    assert.equal(r.model, "embed");
    assert.equal(r.vectors.length, 2);
    assert.ok(r.vectors.every((v) => v instanceof Float32Array && v.length === 64));
    assert.deepEqual(r.tokenCounts, [4, 4]);
    assert.equal(r.promptTokens, 8);
  });

  it("a model llama.cpp cannot load fails with llama.cpp's own reason", async () => {
    const err = await service.embed("no-ffn", ["hi"]).catch((e: unknown) => e);
    assert.ok(isLlmuxError(err), String(err));
    assert.equal(err.code, "model_load_failed");
    assert.match(err.message, /no-ffn/);
    assert.match(err.message, /blk\.1\.ffn_down\.weight/);
  });

  it("an aborted request rejects at once and the runner keeps serving", async () => {
    const ac = new AbortController();
    const pending = service.embed("embed", Array.from({ length: 200 }, (_, i) => `the robot ${i} paints the sky`), { signal: ac.signal });
    setTimeout(() => ac.abort(new Error("client went away")), 5);
    await assert.rejects(pending, /client went away/);
    const r = await service.embed("embed", ["hello world"]);
    assert.equal(r.vectors.length, 1);
  });

  it("a runner that dies fails its requests as model_crashed and is replaced on the next request", async () => {
    await service.embed("embed", ["warm"]);
    const pid = service.list().find((m) => m.id === "embed")?.pid;
    assert.ok(pid);
    const inFlight = service.embed("embed", Array.from({ length: 300 }, (_, i) => `number ${i} is here`));
    process.kill(pid, "SIGKILL");
    const err = await inFlight.catch((e: unknown) => e);
    assert.ok(isLlmuxError(err), String(err));
    assert.equal(err.code, "model_crashed");
    const r = await service.embed("embed", ["hello world"]);
    assert.equal(r.vectors.length, 1);
    const pid2 = service.list().find((m) => m.id === "embed")?.pid;
    assert.ok(pid2 && pid2 !== pid);
  });
});
