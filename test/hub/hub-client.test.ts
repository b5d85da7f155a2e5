import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { HubClient } from "../../src/hub/hub-client.js";
import { parseQuantization } from "../../src/hub/gguf-files.js";
import { isLlmuxError } from "../../src/errors/llmux-error.js";
import { FakeHub } from "./fake-hub.js";

const TOKEN = "hf_SecretToken123456";
let hub: FakeHub;

before(async () => {
  hub = await new FakeHub().start();
  hub.models.push(
    { _id: "1", id: "acme/tiny-GGUF", likes: 5, downloads: 100, lastModified: "2025-01-01T00:00:00.000Z", tags: ["gguf", "text-generation"], private: false },
    { _id: "2", id: "acme/big-GGUF", likes: 9, downloads: 900, lastModified: "2024-01-01T00:00:00.000Z", tags: ["gguf"], private: false },
    { _id: "3", id: "other/tiny-GGUF", likes: 1, downloads: 5, createdAt: "2023-01-01T00:00:00.000Z", tags: ["gguf"] },
    { _id: "4", id: "acme/tiny-safetensors", likes: 1, downloads: 5000, tags: ["safetensors"] },
  );
  const f = (n: number) => Buffer.alloc(n, 1);
  hub.repos.set("acme/tiny-GGUF", {
    files: new Map([
      ["tiny-Q4_K_M.gguf", f(400)],
      ["tiny.q8_0.gguf", f(800)],
      ["tiny-iq2_xs.gguf", f(200)],
      ["tiny-F16.gguf", f(1600)],
      ["big/big-Q4_K_M-00002-of-00003.gguf", f(20)],
      ["big/big-Q4_K_M-00001-of-00003.gguf", f(10)],
      ["big/big-Q4_K_M-00003-of-00003.gguf", f(30)],
      ["Q5_K_S/model-00001-of-00002.gguf", f(5)],
      ["Q5_K_S/model-00002-of-00002.gguf", f(6)],
      ["mystery.gguf", f(1)],
    ]),
    extraTree: [
      { type: "file", oid: "abc", size: 1519, path: ".gitattributes" },
      { type: "file", oid: "def", size: 20, path: "README.md" },
      { type: "directory", oid: "0123", size: 0, path: "big" },
    ],
  });
});
after(() => hub.stop());

describe("HubClient", () => {
  it("searches GGUF repos with the hub's query parameters and parses the real shape", async () => {
    const client = new HubClient({ baseUrl: hub.baseUrl });
    const found = await client.search({ text: "tiny", sort: "downloads", limit: 10 });
    assert.deepEqual(found.map((m) => m.id), ["acme/tiny-GGUF", "other/tiny-GGUF"]);
    assert.deepEqual(found[0], { id: "acme/tiny-GGUF", downloads: 100, likes: 5, lastModified: "2025-01-01T00:00:00.000Z", tags: ["gguf", "text-generation"] });
    const q = new URL(hub.requests.at(-1)!.url, hub.baseUrl).searchParams;
    assert.equal(q.get("search"), "tiny");
    assert.equal(q.get("filter"), "gguf");
    assert.equal(q.get("sort"), "downloads");
    assert.equal(q.get("direction"), "-1");
    assert.equal(q.get("limit"), "10");
    const byAuthor = await client.search({ author: "acme", sort: "lastModified", limit: 5 });
    assert.deepEqual(byAuthor.map((m) => m.id), ["acme/tiny-GGUF", "acme/big-GGUF"]);
    await assert.rejects(client.search({ limit: 0 }), (e: unknown) => isLlmuxError(e) && e.code === "validation_failed" && e.param === "limit");
  });

  it("groups GGUF files by quantization, split sets as one entry", async () => {
    const { groups } = await new HubClient({ baseUrl: hub.baseUrl }).repoFiles("acme/tiny-GGUF");
    const byQ = Object.fromEntries(groups.map((g) => [g.quantization, g]));
    assert.deepEqual(Object.keys(byQ).sort(), ["F16", "IQ2_XS", "Q4_K_M", "Q5_K_S", "Q8_0", "unknown"]);
    assert.equal(byQ.Q8_0.entries[0].files[0].path, "tiny.q8_0.gguf");
    const q4 = byQ.Q4_K_M.entries;
    assert.equal(q4.length, 2);
    const split = q4.find((e) => e.split)!;
    assert.equal(split.name, "big-Q4_K_M");
    assert.equal(split.size, 60);
    assert.deepEqual(split.files.map((f) => f.path), [
      "big/big-Q4_K_M-00001-of-00003.gguf",
      "big/big-Q4_K_M-00002-of-00003.gguf",
      "big/big-Q4_K_M-00003-of-00003.gguf",
    ]);
    assert.match(split.files[0].sha256!, /^[0-9a-f]{64}$/);
    assert.equal(byQ.Q4_K_M.size, 460);
    assert.equal(byQ.Q5_K_S.entries[0].split, true, "quantization taken from the folder");
    assert.equal(byQ.unknown.entries[0].name, "mystery");
  });

  it("parses quantization names case-insensitively", () => {
    assert.equal(parseQuantization("Llama-3.2-1B-Instruct-Q4_K_M.gguf"), "Q4_K_M");
    assert.equal(parseQuantization("model.iq4_nl.gguf"), "IQ4_NL");
    assert.equal(parseQuantization("qwen2.5-0.5b-instruct-fp16.gguf"), undefined);
    assert.equal(parseQuantization("phi-3-mini-bf16.gguf"), "BF16");
    assert.equal(parseQuantization("gemma-2b-Q2_K.gguf"), "Q2_K");
    assert.equal(parseQuantization("x-UD-Q4_K_XL.gguf"), "Q4_K_XL");
  });

  it("maps a missing repo to model_not_found, validates repo ids, and keeps the token out of errors", async () => {
    const client = new HubClient({ baseUrl: hub.baseUrl, token: TOKEN });
    await assert.rejects(client.repoFiles("acme/nope"), (e: unknown) => {
      assert.ok(isLlmuxError(e));
      assert.equal(e.code, "model_not_found");
      assert.ok(!JSON.stringify({ m: e.message, d: e.detail, s: String(e.stack) }).includes(TOKEN));
      return true;
    });
    assert.equal(hub.requests.at(-1)!.authorization, `Bearer ${TOKEN}`);
    for (const bad of ["../etc", "acme/../x", "acme", "a/b/c", "acme/..", "/acme/x"]) {
      await assert.rejects(client.repoFiles(bad), (e: unknown) => isLlmuxError(e) && e.code === "validation_failed", bad);
    }
    const down = new HubClient({ baseUrl: "http://127.0.0.1:1", token: TOKEN });
    await assert.rejects(down.search({}), (e: unknown) => isLlmuxError(e) && e.code === "upstream_error" && !e.detail.includes(TOKEN));
  });
});
