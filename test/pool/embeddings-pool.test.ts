import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { LONG_GENERATION, startTestServer, type TestServer } from "../helpers/server.js";
import { chat, json, poolStatus, post, put, sampleRunners, until } from "./helpers.js";

/** One embeddings request through the HTTP API (the status and the body). */
async function embed(s: TestServer, input: string | string[]): Promise<{ status: number; body: any }> {
  const res = await fetch(`${s.url}/v1/embeddings`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "emb", input }),
  });
  return { status: res.status, body: await json(res) };
}

const ids = async (s: TestServer) => (await poolStatus(s)).models.map((m: { id: string; kind: string }) => `${m.kind}:${m.id}`).sort();

/**
 * Embedding models share the pool with chat models: one budget, one count, LRU eviction.
 * The budget is set just above the larger of the two models' estimate, so only one fits.
 */
describe("embedding models are held by the pool, under the same budget as chat models", () => {
  let s: TestServer;
  let oneFits: number;
  let embEstimate: number;

  before(async () => {
    s = await startTestServer({ models: { tiny: { preset: "tiny" }, emb: { preset: "tiny-embed" } } });
    const chatEstimate = s.app.pool.estimate(await s.app.registry.get("tiny")).totalBytes;
    embEstimate = s.app.pool.estimate(await s.app.registry.get("emb")).totalBytes;
    oneFits = Math.floor(Math.max(chatEstimate, embEstimate) * 1.15);
    assert.ok(oneFits < chatEstimate + embEstimate, "the budget holds one model, not both");
  });
  after(() => s.close());

  beforeEach(async () => {
    await put(s, "/admin/pool/settings", { budget: "90%", max_models: 4, keep_alive_s: 0, pinned: [] });
    for (const m of (await poolStatus(s)).models) await post(s, `/admin/pool/models/${m.id}/unload?force=true`);
  });

  it("a chat request evicts the idle embedding model and vice versa; the runners' measured RSS never exceeds the budget", async () => {
    assert.equal((await put(s, "/admin/pool/settings", { budget: oneFits })).status, 200);
    const sampler = sampleRunners();
    const steps: [string, () => Promise<{ status: number; body: unknown }>, string][] = [
      ["embed", () => embed(s, ["hello world", "the dog"]), "embedding:emb"],
      ["chat", () => chat(s, "tiny"), "chat:tiny"],
      ["embed", () => embed(s, "again"), "embedding:emb"],
      ["chat", () => chat(s, "tiny"), "chat:tiny"],
    ];
    for (const [what, run, expected] of steps) {
      const r = await run();
      assert.equal(r.status, 200, `${what}: ${JSON.stringify(r.body)}`);
      const st = await poolStatus(s);
      assert.deepEqual(await ids(s), [expected], `after ${what}`);
      assert.ok(st.used_bytes <= oneFits, `pool accounting ${st.used_bytes} over budget ${oneFits}`);
    }
    const seen = sampler.stop();
    assert.ok(seen.samples > 10 && seen.maxRssSum > 0, "runner processes were measured while the pool loaded and evicted");
    assert.ok(seen.maxRssSum <= oneFits, `runners' RSS reached ${seen.maxRssSum} over the budget ${oneFits}`);
    assert.equal(seen.maxCount, 1, "never two runners alive at once");
  });

  it("max_models counts embedding models too", async () => {
    await put(s, "/admin/pool/settings", { max_models: 1 });
    assert.equal((await embed(s, "hi")).status, 200);
    assert.equal((await chat(s, "tiny")).status, 200);
    assert.deepEqual(await ids(s), ["chat:tiny"]);
    assert.equal((await embed(s, "hi")).status, 200);
    assert.deepEqual(await ids(s), ["embedding:emb"]);
  });

  it("an embedding model serving a request is not evicted: the chat request that cannot fit gets 503 pool_exhausted", async () => {
    await put(s, "/admin/pool/settings", { budget: oneFits });
    assert.equal((await embed(s, "warm")).status, 200);
    const pid = s.app.embeddings.list()[0]?.pid;
    // Enough inputs to keep the single-sequence runner busy for seconds.
    const text = "the quick brown fox jumps over the lazy dog ".repeat(8);
    const long = embed(s, Array.from({ length: 2048 }, (_, i) => `${i} ${text}`));
    await until(async () => (await poolStatus(s)).models.find((m: { id: string; slots_busy: number }) => m.id === "emb" && m.slots_busy === 1), "the embedding request to run");
    const refused = await chat(s, "tiny");
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, "pool_exhausted");
    assert.match(refused.body.error.message, /'emb' \(serving 1 request\(s\), .*embedding\)/);
    const done = await long;
    assert.equal(done.status, 200, "the embedding request was not cut short");
    assert.equal(done.body.data.length, 2048);
    assert.equal(s.app.embeddings.list()[0]?.pid, pid, "the busy model's runner was kept");
    // Once it is idle, it may go to make room.
    assert.equal((await chat(s, "tiny")).status, 200);
    assert.deepEqual(await ids(s), ["chat:tiny"]);
  });

  it("a chat model serving a request is not evicted: the embedding request that cannot fit gets 503 pool_exhausted", async () => {
    await put(s, "/admin/pool/settings", { budget: oneFits });
    const controller = new AbortController();
    const stream = await s.openai.chat.completions.create(
      { model: "tiny", messages: [{ role: "user", content: "write" }], stream: true, ...LONG_GENERATION } as never,
      { signal: controller.signal },
    );
    const iter = (stream as unknown as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    await iter.next(); // streaming: tiny is busy
    const refused = await embed(s, "hello");
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, "pool_exhausted");
    assert.match(refused.body.error.message, /cannot load embedding model 'emb'.*'tiny' \(serving 1 request/);
    assert.deepEqual(await ids(s), ["chat:tiny"]);
    controller.abort();
    await iter.return?.();
    const served = await until(async () => {
      const r = await embed(s, "hello");
      return r.status === 200 ? r : undefined;
    }, "emb to load once tiny is released");
    assert.equal(served.body.model, "emb");
    assert.deepEqual(await ids(s), ["embedding:emb"]);
  });

  it("an embedding model larger than the whole budget is refused with pool_exhausted, nothing loaded", async () => {
    await put(s, "/admin/pool/settings", { budget: Math.floor(embEstimate / 2) });
    const r = await embed(s, "hello");
    assert.equal(r.status, 503);
    assert.equal(r.body.error.code, "pool_exhausted");
    assert.match(r.body.error.message, /'emb' needs about .* \(embedding model, context \d+\), more than the whole pool budget/);
    assert.deepEqual(await ids(s), []);
  });

  it("the admin API loads, pins and unloads an embedding model; a pinned one is never evicted", async () => {
    await put(s, "/admin/pool/settings", { budget: oneFits });
    const loaded = await json(await post(s, "/admin/pool/models/emb/load"));
    assert.equal(loaded.model.kind, "embedding");
    assert.equal(loaded.model.state, "ready");
    assert.equal(loaded.model.slots, 1);
    assert.ok(loaded.model.estimated_bytes === embEstimate);

    const pinned = await json(await put(s, "/admin/pool/models/emb/pin", { pinned: true }));
    assert.equal(pinned.model.pinned, true);
    const refused = await chat(s, "tiny");
    assert.equal(refused.status, 503);
    assert.match(refused.body.error.message, /'emb' \(pinned/);

    await put(s, "/admin/pool/models/emb/pin", { pinned: false });
    assert.equal((await post(s, "/admin/pool/models/emb/unload")).status, 204);
    assert.deepEqual(await ids(s), []);
    assert.equal((await embed(s, "back")).status, 200, "loads again on the next request");
  });
});

/** Parses a finished SSE body into its events. */
function parseSse(text: string): { event: string; data: any }[] {
  return text
    .split("\n\n")
    .filter((f) => f.split("\n").some((l) => l.startsWith("data:")))
    .map((f) => {
      const lines = f.split("\n");
      const event = lines.find((l) => l.startsWith("event:"))?.slice(6).trim() ?? "message";
      const data = JSON.parse(lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n"));
      return { event, data };
    });
}

describe("POST /admin/pool/models/:id/load streams its progress with Accept: text/event-stream", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ models: { tiny: { preset: "tiny" }, emb: { preset: "tiny-embed" } } });
  });
  after(() => s.close());

  const load = (id: string, headers: Record<string, string> = s.adminHeaders()) =>
    fetch(`${s.url}/admin/pool/models/${id}/load`, { method: "POST", headers: { ...headers, accept: "text/event-stream" } });

  it("sends state loading, then ready with the pool's row; a model already loaded is ready at once", async () => {
    const res = await load("tiny");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const events = parseSse(await res.text());
    assert.deepEqual(events.map((e) => `${e.event}:${e.data.state}`), ["state:loading", "state:ready"]);
    const ready = events.at(-1)!.data;
    assert.equal(ready.id, "tiny");
    assert.equal(ready.kind, "chat");
    assert.equal(ready.model.state, "ready");
    assert.ok(ready.model.rss_bytes > 0);

    const again = parseSse(await (await load("tiny")).text());
    assert.deepEqual(again.map((e) => `${e.event}:${e.data.state}`), ["state:ready"]);

    const emb = parseSse(await (await load("emb")).text());
    assert.equal(emb.at(-1)!.data.model.kind, "embedding");
    assert.equal(emb.at(-1)!.data.state, "ready");
  });

  it("a load that cannot fit ends with an error event carrying the problem", async () => {
    await put(s, "/admin/pool/settings", { budget: 1000 });
    try {
      await post(s, "/admin/pool/models/tiny/unload?force=true");
      const res = await load("tiny");
      assert.equal(res.status, 200);
      const events = parseSse(await res.text());
      const last = events.at(-1)!;
      assert.equal(last.event, "error");
      assert.equal(last.data.code, "pool_exhausted");
      assert.equal(last.data.status, 503);
      assert.ok(last.data.request_id);
      assert.ok(!events.some((e) => e.data.state === "ready"));
    } finally {
      await put(s, "/admin/pool/settings", { budget: "90%" });
    }
  });

  it("is authenticated like the other admin routes: no session → 401, a session without the CSRF header → 403, an unknown model → 404 before any event", async () => {
    assert.equal((await load("tiny", {})).status, 401);
    const noCsrf = await load("tiny", { cookie: s.adminHeaders().cookie });
    assert.equal(noCsrf.status, 403);
    assert.equal((await json(noCsrf)).code, "csrf_required");
    const missing = await load("nope");
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get("content-type") ?? "", /problem\+json/);
  });
});
