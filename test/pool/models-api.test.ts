import { availableParallelism } from "node:os";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FakeHub } from "../hub/fake-hub.js";
import { makeHome, startTestServer, type TestServer } from "../helpers/server.js";
import { chat, json, poolStatus, post, put } from "./helpers.js";

describe("local models API and per-model settings", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ models: { tiny: { preset: "tiny" }, think: { preset: "tiny-think" }, emb: { preset: "tiny-embed" }, spare: { preset: "tiny", seed: 4 } } });
  });
  after(() => s.close());

  it("GET /api/models lists metadata and capabilities derived from the GGUF and its template", async () => {
    const { models } = await json(await s.admin("/api/models"));
    const byId = Object.fromEntries(models.map((m: { id: string }) => [m.id, m]));
    assert.deepEqual(Object.keys(byId).sort(), ["emb", "spare", "think", "tiny"]);
    assert.equal(byId.tiny.architecture, "qwen2");
    assert.ok(byId.tiny.parameters > 100_000);
    assert.equal(byId.tiny.quantization, "F32");
    assert.equal(byId.tiny.context_length, 4096);
    assert.ok(byId.tiny.size_bytes > 1_000_000);
    assert.deepEqual(byId.tiny.capabilities, { tools: true, reasoning: false, embeddings: false });
    assert.deepEqual(byId.think.capabilities.reasoning, true);
    assert.deepEqual(byId.emb.capabilities, { tools: false, reasoning: false, embeddings: true });
    assert.equal(byId.tiny.synthetic, true);
    assert.equal(byId.tiny.loaded, false);
    await chat(s, "tiny");
    const again = await json(await s.admin("/api/models"));
    assert.equal(again.models.find((m: { id: string }) => m.id === "tiny").loaded, true);
  });

  it("context size and slots apply at the next load: visible in the pool, and a longer prompt fails with context_length_exceeded", async () => {
    assert.equal((await chat(s, "tiny")).status, 200);
    // More threads than CPUs once hung the model's runner (and slowed every other): refused.
    const tooMany = await put(s, "/admin/models/tiny/settings", { threads: availableParallelism() + 1 });
    assert.equal(tooMany.status, 400);
    const saved = await json(await put(s, "/admin/models/tiny/settings", { context_size: 256, parallel: 1, threads: 1 }));
    assert.deepEqual(saved, { context_size: 256, parallel: 1, threads: 1 });
    assert.deepEqual(await json(await s.admin("/admin/models/tiny/settings")), saved);
    // Still loaded with the old shape until it is loaded again.
    assert.equal((await poolStatus(s)).models.find((m: { id: string }) => m.id === "tiny").context_size, 2048);
    assert.equal((await post(s, "/admin/pool/models/tiny/unload")).status, 204);
    const loaded = await json(await post(s, "/admin/pool/models/tiny/load"));
    assert.equal(loaded.model.context_size, 256);
    assert.equal(loaded.model.slots, 1);
    const long = await chat(s, "tiny", { messages: [{ role: "user", content: "word ".repeat(400) }] });
    assert.equal(long.status, 400);
    assert.equal(long.body.error.code, "context_length_exceeded");
    assert.equal((await chat(s, "tiny")).status, 200);
  });

  it("a system prompt setting is put first when a request has none", async () => {
    const base = (await chat(s, "spare")).body.usage.prompt_tokens;
    await put(s, "/admin/models/spare/settings", { system_prompt: "You are a terse assistant who answers in one word." });
    const withSystem = (await chat(s, "spare")).body.usage.prompt_tokens;
    assert.ok(withSystem > base + 5, `${withSystem} vs ${base}`);
    const own = (await chat(s, "spare", { messages: [{ role: "system", content: "x" }, { role: "user", content: "hi" }] })).body.usage.prompt_tokens;
    assert.ok(own < withSystem, "a request's own system message replaces the default");
  });

  it("DELETE /api/models/:id unloads the model, then removes its file", async () => {
    assert.equal((await chat(s, "spare")).status, 200);
    assert.ok(s.app.pool.has("spare"));
    const res = await s.admin("/api/models/spare", { method: "DELETE" });
    assert.equal(res.status, 204);
    assert.equal(s.app.pool.has("spare"), false);
    assert.equal(existsSync(join(s.home, "models", "spare.gguf")), false);
    assert.equal((await s.admin("/api/models/spare", { method: "DELETE" })).status, 404);
    assert.ok(!(await s.openai.models.list()).data.some((m) => m.id === "spare"));
  });

  it("DELETE /api/models/:id ends a loaded embedding model's runner too, then removes its file", async () => {
    await s.openai.embeddings.create({ model: "emb", input: "hello" });
    const pid = s.app.embeddings.list().find((m) => m.id === "emb")?.pid;
    assert.ok(pid && s.app.pool.has("emb", "embedding"));
    assert.equal((await s.admin("/api/models/emb", { method: "DELETE" })).status, 204);
    assert.equal(s.app.pool.has("emb"), false);
    assert.throws(() => process.kill(pid, 0), "the embedding runner process is gone");
    assert.equal(existsSync(join(s.home, "models", "emb.gguf")), false);
  });
});

describe("the Hugging Face token", () => {
  let hub: FakeHub;
  let s: TestServer;
  let home: string;
  const saved = { url: process.env.LLMUX_HUB_URL, token: process.env.HF_TOKEN };
  before(async () => {
    hub = await new FakeHub().start();
    process.env.LLMUX_HUB_URL = hub.baseUrl;
    delete process.env.HF_TOKEN;
    home = await makeHome({ tiny: { preset: "tiny" } });
    s = await startTestServer({ home });
  });
  after(async () => {
    await s.close();
    await hub.stop();
    for (const [k, v] of [["LLMUX_HUB_URL", saved.url], ["HF_TOKEN", saved.token]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  const lastAuth = async () => {
    await s.admin("/api/hub/search?q=x");
    return hub.requests.at(-1)?.authorization;
  };

  it("is stored sealed, used by the hub client, never shown; HF_TOKEN wins; it survives a restart", async () => {
    assert.deepEqual(await json(await s.admin("/admin/hub/token")), { set: false });
    assert.equal(await lastAuth(), undefined);
    assert.equal((await put(s, "/admin/hub/token", { token: "hf_secretvalue123" })).status, 204);
    assert.deepEqual(await json(await s.admin("/admin/hub/token")), { set: true });
    assert.equal(await lastAuth(), "Bearer hf_secretvalue123");
    const row = await s.app.db.selectFrom("settings").select("value").where("key", "=", "hub.token").executeTakeFirstOrThrow();
    assert.ok(!row.value.includes("hf_secretvalue123"), "stored sealed, not in clear");
    assert.ok(!s.log().includes("hf_secretvalue123"), "never logged");

    process.env.HF_TOKEN = "hf_fromenv";
    assert.equal(await lastAuth(), "Bearer hf_fromenv");
    delete process.env.HF_TOKEN;

    await s.close();
    s = await startTestServer({ home });
    assert.deepEqual(await json(await s.admin("/admin/hub/token")), { set: true });
    assert.equal(await lastAuth(), "Bearer hf_secretvalue123");

    assert.equal((await put(s, "/admin/hub/token", { token: null })).status, 204);
    assert.deepEqual(await json(await s.admin("/admin/hub/token")), { set: false });
    assert.equal(await lastAuth(), undefined);
    const bad = await put(s, "/admin/hub/token", { token: "has space" });
    assert.equal(bad.status, 400);
    assert.ok(!(await bad.text()).includes("has space"), "the problem does not echo the token");
  });
});
