import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "../helpers/server.js";

describe("audit log under load", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ engine: { parallel: 8 } });
  });
  after(() => s.close());

  it("32 concurrent streams for 5 s: no failure, exactly one row per request", async () => {
    const deadline = Date.now() + 5000;
    let sent = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (Date.now() < deadline) {
          const i = sent++;
          const res = await fetch(`${s.url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: `n${i}` }], max_tokens: 16, stream: true, seed: i }),
          });
          const text = await res.text();
          if (!res.ok || !text.endsWith("data: [DONE]\n\n") || text.includes('"error"')) failed++;
        }
      }),
    );
    await s.app.auditWriter.flush();
    assert.equal(failed, 0);
    assert.ok(sent >= 32);
    assert.equal(await s.app.auditRepo.count(), sent);
    const stats = await s.app.auditRepo.stats({});
    assert.equal(stats.byStatus.success, sent);
  });
});
