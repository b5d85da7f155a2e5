import assert from "node:assert/strict";
import { copyFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "../helpers/server.js";

describe("the models folder is the registry", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  it("a GGUF copied in by hand is listed and served without a restart; a removed one disappears", async () => {
    const models = join(s.home, "models");
    copyFileSync(join(models, "tiny.gguf"), join(models, "copied.gguf"));
    assert.ok((await s.openai.models.list()).data.some((m) => m.id === "copied"));
    const res = await s.openai.chat.completions.create({ model: "copied", messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
    assert.equal(res.model, "copied");
    rmSync(join(models, "copied.gguf"));
    assert.ok(!(await s.openai.models.list()).data.some((m) => m.id === "copied"));
  });

  it("files that are not models, or whose names are not valid ids, are not listed", async () => {
    const models = join(s.home, "models");
    copyFileSync(join(models, "tiny.gguf"), join(models, "notes.txt"));
    copyFileSync(join(models, "tiny.gguf"), join(models, "bad name!.gguf"));
    const ids = (await s.openai.models.list()).data.map((m) => m.id);
    assert.deepEqual(ids, ["tiny"]);
  });
});
