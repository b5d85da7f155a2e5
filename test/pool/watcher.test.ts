import assert from "node:assert/strict";
import { copyFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { chat, until } from "./helpers.js";

describe("the models folder is watched", () => {
  let s: TestServer;
  let models: string;
  before(async () => {
    s = await startTestServer();
    models = join(s.home, "models");
  });
  after(() => s.close());

  // The registry is read without a rescan, so only the watcher can make these pass.
  const listed = () => s.app.registry.list().map((m) => m.id);

  it("a GGUF copied in appears, and a removed one disappears, with no request to trigger a rescan", async () => {
    copyFileSync(join(models, "tiny.gguf"), join(models, "dropped.gguf"));
    await until(() => listed().includes("dropped"), "the copied model to appear", 5000);
    rmSync(join(models, "dropped.gguf"));
    await until(() => !listed().includes("dropped"), "the removed model to disappear", 5000);
  });

  it("a removed model that was loaded has its runner ended", async () => {
    copyFileSync(join(models, "tiny.gguf"), join(models, "gone.gguf"));
    await until(() => listed().includes("gone"), "the copied model", 5000);
    assert.equal((await chat(s, "gone")).status, 200);
    assert.ok(s.app.pool.has("gone"));
    rmSync(join(models, "gone.gguf"));
    await until(() => !s.app.pool.has("gone"), "the runner of the removed model to end", 5000);
  });

  it("a split set shows as one model (parts 2+ hidden); an incomplete one is not served", async () => {
    const tiny = join(models, "tiny.gguf");
    copyFileSync(tiny, join(models, "big-00001-of-00002.gguf"));
    copyFileSync(tiny, join(models, "big-00002-of-00002.gguf"));
    await until(() => listed().includes("big"), "the split set", 5000);
    assert.ok(!listed().some((id) => id.startsWith("big-")), "no part is listed on its own");
    const big = s.app.registry.list().find((m) => m.id === "big")!;
    assert.equal(big.sizeBytes, 2 * statSync(tiny).size);
    assert.deepEqual(s.app.registry.files("big").map((f) => f.split("/").pop()), ["big-00001-of-00002.gguf", "big-00002-of-00002.gguf"]);
    const ids = (await s.openai.models.list()).data.map((m) => m.id);
    assert.deepEqual(ids.filter((id) => id.startsWith("big")), ["big"]);

    rmSync(join(models, "big-00002-of-00002.gguf"));
    await until(() => !listed().includes("big"), "the incomplete set to leave the list", 5000);
    assert.match(s.app.registry.unreadable().find((u) => u.id === "big")!.error, /1 of 2 parts/);
  });
});
