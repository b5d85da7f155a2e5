import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { startTestServer, type TestServer } from "../helpers/server.js";
import type { FakeProvider } from "../providers/fake-provider.js";
import { addProvider, fake, setRules } from "./gateway-fixtures.js";

/** A 429 asking for a wait longer than the request has left. */
const slowDown = (seconds: number) => ({ kind: "status" as const, status: 429, body: { error: { message: "slow down", type: "rate_limit_error" } }, headers: { "retry-after": String(seconds) } });

describe("failover never waits for a retry past the request's deadline", () => {
  let s: TestServer;
  let a: FakeProvider;
  let b: FakeProvider;

  before(async () => {
    s = await startTestServer();
    const fa = await fake("from-a");
    const fb = await fake("from-b");
    a = fa.fp;
    b = fb.fp;
    await addProvider(s, { name: "a", kind: "openai-compatible", base_url: fa.url });
    await addProvider(s, { name: "b", kind: "openai-compatible", base_url: fb.url });
    // Retry-After is honoured up to 10 s; the chat endpoint gets 2 s.
    s.app.router.configure({ retries: 1, baseMs: 1, maxMs: 10_000 });
    const res = await s.admin("/admin/timeouts", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ timeouts: { chat: 2 } }) });
    assert.equal(res.status, 200);
  });

  after(async () => {
    await s.close();
    await a.stop();
    await b.stop();
  });

  it("answers the upstream's 429 at once instead of sleeping into a timeout", async () => {
    await setRules(s, [{ id: "a-only", match: { kind: "exact", pattern: "m" }, targets: [{ backend: "a" }] }]);
    a.received.length = 0;
    a.queue.push(slowDown(5));
    const t0 = Date.now();
    const err = await s.openai.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    const took = Date.now() - t0;
    assert.ok(err instanceof OpenAI.RateLimitError, `got ${String(err)}`);
    assert.ok(took < 1500, `answered after ${took} ms, before the 2 s deadline`);
    assert.equal(a.received.length, 1, "no retry that would end past the deadline");
  });

  it("goes straight to the fallback when the retry would end past the deadline", async () => {
    await setRules(s, [{ id: "a-then-b", match: { kind: "exact", pattern: "m" }, targets: [{ backend: "a" }], fallbacks: [{ backend: "b" }] }]);
    a.received.length = 0;
    b.received.length = 0;
    a.queue.push(slowDown(5));
    const t0 = Date.now();
    const r = await s.openai.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
    assert.equal(r.choices[0]!.message.content, "from-b");
    assert.ok(Date.now() - t0 < 1500);
    assert.deepEqual([a.received.length, b.received.length], [1, 1]);
  });

  it("still waits for a Retry-After that ends before the deadline", async () => {
    await setRules(s, [{ id: "a-only", match: { kind: "exact", pattern: "m" }, targets: [{ backend: "a" }] }]);
    a.received.length = 0;
    a.queue.push(slowDown(1));
    const t0 = Date.now();
    const r = await s.openai.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
    assert.equal(r.choices[0]!.message.content, "from-a");
    assert.ok(Date.now() - t0 >= 950);
    assert.equal(a.received.length, 2);
  });

  it("the request's timeout stops a pass-through call the provider has not answered, and closes it upstream", async () => {
    await setRules(s, [{ id: "a-only", match: { kind: "exact", pattern: "m" }, targets: [{ backend: "a" }] }]);
    a.queue.push({ kind: "slow", delayMs: 30_000, then: { kind: "json", body: {} } });
    const closed = a.nextEarlyClose();
    const err = await s.openai.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.APIError, `got ${String(err)}`);
    assert.equal(err.status, 504);
    assert.match(err.message, /longer than 2s/);
    await closed; // the provider saw its request closed
  });
});
