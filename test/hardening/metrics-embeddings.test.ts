import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "../helpers/server.js";

/** The value of one series in Prometheus text (0 when absent). */
function series(text: string, name: string, labels = ""): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `) || (labels === "" && l.startsWith(`${name} `)));
  return line ? Number(line.split(" ").pop()) : 0;
}

describe("GET /metrics counts embedding runners with the chat ones", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ models: { tiny: { preset: "tiny" }, emb: { preset: "tiny-embed" } } });
  });
  after(() => s.close());

  it("reports loaded embedding models and their runner memory", async () => {
    const before = await (await s.admin("/metrics")).text();
    assert.equal(series(before, "llmux_models_loaded"), 0);
    const res = await s.openai.embeddings.create({ model: "emb", input: ["one", "two"] });
    assert.equal(res.data.length, 2);
    await s.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
    const text = await (await s.admin("/metrics")).text();
    assert.equal(series(text, "llmux_models_loaded"), 2);
    assert.ok(series(text, "llmux_runner_memory_rss_bytes", '{model="emb"}') > 1024 * 1024, "the embedding runner's RSS");
    assert.ok(series(text, "llmux_runner_memory_rss_bytes", '{model="tiny"}') > 1024 * 1024, "the chat runner's RSS");
  });
});
