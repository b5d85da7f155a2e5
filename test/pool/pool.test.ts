import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { LONG_GENERATION, makeHome, startTestServer, type TestServer } from "../helpers/server.js";
import { chat, json, poolStatus, post, put, sampleRunners, until } from "./helpers.js";

/**
 * The pool on real runners: three synthetic models of the same size, and budgets set just
 * above one or two models' estimate so that loading another forces an eviction.
 */
describe("the model pool keeps memory within its budget", () => {
  let s: TestServer;
  /** One tiny model's estimate with the test server's context (2048 × 4 slots). */
  let estimate: number;

  before(async () => {
    const home = await makeHome({ a: { preset: "tiny", seed: 1 }, b: { preset: "tiny", seed: 2 }, c: { preset: "tiny", seed: 3 } });
    s = await startTestServer({ home });
    estimate = s.app.pool.estimate(await s.app.registry.get("a")).totalBytes;
  });
  after(() => s.close());

  beforeEach(async () => {
    // Each test starts from an empty pool with no pins and no idle unloading.
    await put(s, "/admin/pool/settings", { budget: "90%", max_models: 4, keep_alive_s: 0, pinned: [] });
    for (const m of (await poolStatus(s)).models) await post(s, `/admin/pool/models/${m.id}/unload?force=true`);
  });

  it("evicts the least recently used model; the runners' measured RSS never exceeds the budget", async () => {
    const budget = Math.floor(estimate * 2.2);
    assert.equal((await put(s, "/admin/pool/settings", { budget })).status, 200);
    const sampler = sampleRunners();
    for (const m of ["a", "b", "c", "a"]) {
      const r = await chat(s, m);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const st = await poolStatus(s);
      assert.ok(st.used_bytes <= budget, `pool accounting ${st.used_bytes} over budget ${budget}`);
      assert.ok(st.models.length <= 2);
    }
    const seen = sampler.stop();
    assert.ok(seen.samples > 10, "sampled while the pool loaded and evicted");
    assert.ok(seen.maxRssSum > 0, "runner processes were measured");
    assert.ok(seen.maxRssSum <= budget, `runners' RSS reached ${seen.maxRssSum} over the budget ${budget}`);
    assert.ok(seen.maxCount <= 2, `${seen.maxCount} runners were alive at once`);
    // After a, b, c, a: c evicted a, then a evicted b (the least recently used); the two most recent remain.
    assert.deepEqual((await poolStatus(s)).models.map((m: { id: string }) => m.id).sort(), ["a", "c"]);
  });

  it("never evicts a model serving a request: the request that cannot fit gets 503 pool_exhausted saying why", async () => {
    await put(s, "/admin/pool/settings", { budget: Math.floor(estimate * 1.5) });
    const controller = new AbortController();
    const stream = await s.openai.chat.completions.create(
      { model: "a", messages: [{ role: "user", content: "write" }], stream: true, ...LONG_GENERATION } as never,
      { signal: controller.signal },
    );
    const it = (stream as unknown as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    await it.next(); // the stream is running: model a is busy
    const pidBefore = s.app.pool.list().find((m) => m.id === "a")!.runner.pid;

    const refused = await chat(s, "b");
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, "pool_exhausted");
    assert.match(refused.body.error.message, /'a' \(serving 1 request/);
    const st = await poolStatus(s);
    assert.deepEqual(st.models.map((m: { id: string }) => m.id), ["a"]);
    assert.equal(st.models[0].slots_busy, 1);
    assert.equal(s.app.pool.list().find((m) => m.id === "a")!.runner.pid, pidBefore, "the busy model's runner was kept");

    controller.abort();
    await it.return?.();
    // Once the stream ended, a may go to make room.
    const served = await until(async () => {
      const r = await chat(s, "b");
      return r.status === 200 ? r : undefined;
    }, "b to load after a is released");
    assert.equal(served.body.model, "b");
    assert.deepEqual((await poolStatus(s)).models.map((m: { id: string }) => m.id), ["b"]);
  });

  it("keeps a pinned model: others are evicted around it, and a model that only fits by evicting it gets 503", async () => {
    await put(s, "/admin/pool/settings", { budget: Math.floor(estimate * 2.2) });
    const pinned = await json(await put(s, "/admin/pool/models/a/pin", { pinned: true }));
    assert.equal(pinned.model.id, "a");
    assert.equal(pinned.model.state, "ready");
    assert.equal(pinned.model.pinned, true);
    const pid = s.app.pool.list().find((m) => m.id === "a")!.runner.pid;
    await s.admin("/admin/pool/settings").then(json).then((v) => assert.deepEqual(v.pinned, ["a"]));
    // Touch b and c after a, so a is the least recently used.
    assert.equal((await chat(s, "b")).status, 200);
    assert.equal((await chat(s, "c")).status, 200);
    const ids = (await poolStatus(s)).models.map((m: { id: string }) => m.id).sort();
    assert.deepEqual(ids, ["a", "c"], "b went, not the pinned a");
    assert.equal(s.app.pool.list().find((m) => m.id === "a")!.runner.pid, pid);

    await put(s, "/admin/pool/settings", { budget: Math.floor(estimate * 1.5) });
    await until(async () => (await poolStatus(s)).models.length === 1, "the smaller budget to evict c");
    const refused = await chat(s, "b");
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, "pool_exhausted");
    assert.match(refused.body.error.message, /'a' \(pinned/);
    assert.equal(refused.body.error.type, "server_error");
  });

  it("a model larger than the whole budget is refused before anything is unloaded", async () => {
    assert.equal((await chat(s, "a")).status, 200);
    await put(s, "/admin/pool/settings", { budget: Math.floor(estimate / 2) });
    const res = await post(s, "/admin/pool/models/b/load");
    assert.equal(res.status, 503);
    const problem = await json(res);
    assert.equal(problem.code, "pool_exhausted");
    assert.match(problem.detail, /more than the whole pool budget/);
    assert.ok(problem.request_id);
  });

  it("holds at most max_models models", async () => {
    await put(s, "/admin/pool/settings", { max_models: 1 });
    assert.equal((await chat(s, "a")).status, 200);
    assert.equal((await chat(s, "b")).status, 200);
    assert.deepEqual((await poolStatus(s)).models.map((m: { id: string }) => m.id), ["b"]);
  });

  it("unloads an idle model after the keep-alive", async () => {
    await put(s, "/admin/pool/settings", { keep_alive_s: 1 });
    assert.equal((await chat(s, "a")).status, 200);
    assert.equal((await poolStatus(s)).models.length, 1);
    await until(async () => (await poolStatus(s)).models.length === 0, "the idle unload", 8000);
  });

  it("shows a model loading, then ready with its estimate, RSS, slots and requests served; unload ends it", async () => {
    const loading = post(s, "/admin/pool/models/a/load");
    const seen = await until(async () => (await poolStatus(s)).models.find((m: { state: string }) => m.state === "loading"), "the loading state", 5000);
    assert.equal(seen.id, "a");
    const loaded = await json(await loading);
    assert.equal(loaded.model.state, "ready");
    await chat(s, "a");
    const st = await poolStatus(s);
    const a = st.models[0];
    assert.equal(a.estimated_bytes, estimate);
    assert.ok(a.rss_bytes > 10 * 2 ** 20, "RSS read from the runner process");
    assert.equal(a.slots, 4);
    assert.equal(a.slots_busy, 0);
    assert.equal(a.requests_served, 1);
    assert.equal(a.pinned, false);
    assert.ok(a.last_used > 0);
    assert.ok(st.used_bytes >= Math.max(a.estimated_bytes, a.rss_bytes));
    assert.equal((await post(s, "/admin/pool/models/a/unload")).status, 204);
    assert.equal((await poolStatus(s)).models.length, 0);
    assert.equal((await post(s, "/admin/pool/models/a/unload")).status, 204, "unloading a model not loaded is a no-op");
  });

  it("a forced unload ends the model's requests saying so (503 model_unloaded, in-band once streaming), not as a crash", async () => {
    const ask = (stream: boolean) =>
      fetch(`${s.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "a", stream, messages: [{ role: "user", content: "go" }], ...LONG_GENERATION }),
      });
    const streamed = await ask(true);
    assert.equal(streamed.status, 200);
    const reader = streamed.body!.getReader();
    await reader.read(); // generating
    const whole = ask(false);
    await until(async () => (await poolStatus(s)).models.find((m: { slots_busy: number }) => m.slots_busy === 2), "both requests generating", 10_000);
    const refused = await post(s, "/admin/pool/models/a/unload");
    assert.equal(refused.status, 409);
    assert.equal((await json(refused)).code, "model_busy");
    assert.equal((await post(s, "/admin/pool/models/a/unload?force=true")).status, 204);
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    assert.match(rest, /"code":"model_unloaded"/);
    assert.match(rest, /model 'a' was unloaded \(a forced unload\) before this request finished/);
    const answer = await whole;
    assert.equal(answer.status, 503);
    const problem = await json(answer);
    assert.equal(problem.code, "model_unloaded");
    assert.doesNotMatch(JSON.stringify(problem), /died|crash/);
  });
});

describe("pool admin API validation", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ models: { tiny: { preset: "tiny" }, emb: { preset: "tiny-embed" } } });
  });
  after(() => s.close());

  const bad = async (res: Response, field: string) => {
    assert.equal(res.status, 400);
    const p = await json(res);
    assert.equal(p.code, "validation_failed");
    assert.equal(p.errors?.[0]?.field, field, JSON.stringify(p));
  };

  it("refuses bad pool settings naming the field, and keeps the old ones", async () => {
    const before = await json(await s.admin("/admin/pool/settings"));
    await bad(await put(s, "/admin/pool/settings", { budget: "lots" }), "budget");
    await bad(await put(s, "/admin/pool/settings", { budget: "150%" }), "budget");
    await bad(await put(s, "/admin/pool/settings", { budget: -5 }), "budget");
    await bad(await put(s, "/admin/pool/settings", { max_models: 0 }), "max_models");
    await bad(await put(s, "/admin/pool/settings", { keep_alive_s: 1.5 }), "keep_alive_s");
    await bad(await put(s, "/admin/pool/settings", { pinned: ["tiny", "../etc"] }), "pinned.1");
    await bad(await put(s, "/admin/pool/settings", { pinned: ["tiny", "not-here"] }), "pinned.1");
    await bad(await put(s, "/admin/pool/settings", { colour: "red" }), "colour");
    assert.deepEqual(await json(await s.admin("/admin/pool/settings")), before);
  });

  it("accepts sizes and percentages, stored and applied at once", async () => {
    const r = await json(await put(s, "/admin/pool/settings", { budget: "8GB", max_models: 3, keep_alive_s: 60 }));
    assert.deepEqual(r, { budget: "8GB", budget_bytes: 8e9, max_models: 3, keep_alive_s: 60, pinned: [] });
    const pct = await json(await put(s, "/admin/pool/settings", { budget: "50%" }));
    assert.ok(pct.budget_bytes > 0);
    assert.equal((await poolStatus(s)).budget_bytes, pct.budget_bytes);
    assert.equal((await poolStatus(s)).max_models, 3);
  });

  it("load, unload and pin: unknown models are 404, bodies and kinds are checked", async () => {
    assert.equal((await post(s, "/admin/pool/models/nope/load")).status, 404);
    assert.equal((await post(s, "/admin/pool/models/nope/unload")).status, 404);
    await bad(await put(s, "/admin/pool/models/tiny/pin", { pinned: "yes" }), "pinned");
    await bad(await post(s, "/admin/pool/models/emb/load?kind=chat"), "kind");
    await bad(await post(s, "/admin/pool/models/tiny/load?kind=embedding"), "kind");
    await bad(await post(s, "/admin/pool/models/tiny/load?kind=vision"), "kind");
    await bad(await post(s, "/admin/pool/models/tiny/unload?kind=vision"), "kind");
  });

  it("refuses bad model settings naming the field; 404 for an unknown model", async () => {
    await bad(await put(s, "/admin/models/tiny/settings", { context_size: "big" }), "context_size");
    await bad(await put(s, "/admin/models/tiny/settings", { sampling: { temperature: 5 } }), "sampling.temperature");
    await bad(await put(s, "/admin/models/tiny/settings", { parallel: 0 }), "parallel");
    await bad(await put(s, "/admin/models/tiny/settings", { mystery: 1 }), "mystery");
    assert.equal((await put(s, "/admin/models/nope/settings", {})).status, 404);
    assert.equal((await s.admin("/admin/models/nope/settings")).status, 404);
  });
});

describe("pinned models load at start", () => {
  it("a model pinned through the settings loads at once, and again when the server restarts", async () => {
    const home = await makeHome({ a: { preset: "tiny" }, b: { preset: "tiny", seed: 2 } });
    let s = await startTestServer({ home });
    try {
      assert.equal((await put(s, "/admin/pool/settings", { pinned: ["b"] })).status, 200);
      await until(async () => (await poolStatus(s)).models.find((m: { id: string; state: string }) => m.id === "b" && m.state === "ready"), "the pinned model to load");
      await s.close();
      s = await startTestServer({ home });
      const b = await until(async () => (await poolStatus(s)).models.find((m: { id: string; state: string }) => m.id === "b" && m.state === "ready"), "the pinned model to load at start");
      assert.equal(b.pinned, true);
      assert.equal(b.requests_served, 0, "loaded with no request asking for it");
    } finally {
      await s.close();
    }
  });
});
