import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "../helpers/server.js";
import type { FakeProvider } from "../providers/fake-provider.js";
import { addProvider, answers, fake, putRules, setRules } from "./gateway-fixtures.js";

const KEY = "sk-routing-SECRET-9f8e7d6c5b4a";

/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const say = async (s: TestServer, model: string, stream = false): Promise<string> => {
  if (!stream) {
    const r = await s.openai.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] });
    return r.choices[0]!.message.content ?? "";
  }
  let text = "";
  const st = await s.openai.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], stream: true });
  for await (const c of st) text += c.choices[0]?.delta?.content ?? "";
  return text;
};

describe("routing rules, balancing and failover through a real llmux", () => {
  let s: TestServer;
  let a: FakeProvider;
  let b: FakeProvider;
  let deadUrl: string;

  before(async () => {
    s = await startTestServer();
    const fa = await fake("from-a");
    const fb = await fake("from-b");
    a = fa.fp;
    b = fb.fp;
    a.models = ["a-one", "a-two", "other"];
    deadUrl = `http://127.0.0.1:${await deadPort()}`;
    await addProvider(s, { name: "a", kind: "openai-compatible", base_url: fa.url, api_key: KEY, timeout_ms: 1000 });
    await addProvider(s, { name: "b", kind: "openai", base_url: `${fb.url}/v1` });
    await addProvider(s, { name: "dead", kind: "openai-compatible", base_url: deadUrl, timeout_ms: 1000 });
    s.app.router.configure({ retries: 1, baseMs: 1, maxMs: 50 });
  });

  after(async () => {
    await s.close();
    await a.stop();
    await b.stop();
  });

  const reset = () => {
    a.received.length = 0;
    b.received.length = 0;
    a.queue.length = 0;
    b.queue.length = 0;
    a.fallback = answers("from-a");
    b.fallback = answers("from-b");
    // Every circuit closed again: earlier tests' failures would otherwise open a's.
    s.app.router.configure({ breakerThreshold: 5 });
  };

  it("routes by exact, prefix, glob and regex, renames, and leaves unmatched names to local models", async () => {
    reset();
    await setRules(s, [
      { id: "exact", match: { kind: "exact", pattern: "gpt-exact" }, targets: [{ backend: "a" }] },
      { id: "prefix", match: { kind: "prefix", pattern: "pre-" }, targets: [{ backend: "b" }] },
      { id: "glob", match: { kind: "glob", pattern: "g*-?x" }, targets: [{ backend: "a", model: "renamed" }] },
      { id: "regex", match: { kind: "regex", pattern: "re-[0-9]+" }, targets: [{ backend: "b" }] },
      { id: "a-models", match: { kind: "prefix", pattern: "a-" }, targets: [{ backend: "a" }] },
    ]);
    assert.equal(await say(s, "gpt-exact"), "from-a");
    assert.equal((a.received.at(-1)!.body as { model: string }).model, "gpt-exact");
    assert.equal(await say(s, "pre-anything", true), "from-b");
    assert.equal((b.received.at(-1)!.body as { model: string }).model, "pre-anything");
    assert.equal(await say(s, "glob-1x"), "from-a");
    assert.equal((a.received.at(-1)!.body as { model: string }).model, "renamed", "the rule's rename reaches the provider");
    assert.equal(await say(s, "re-42"), "from-b");
    // regex and glob match the whole name
    await assert.rejects(say(s, "re-42b"), (e: { status?: number }) => e.status === 404);
    await assert.rejects(say(s, "glob-1xy"), (e: { status?: number }) => e.status === 404);
    // the provider got its key, the client's was not forwarded
    assert.equal(a.received.at(-1)!.headers.authorization, `Bearer ${KEY}`);

    const local = (await (await s.admin("/admin/routing/resolve?model=tiny")).json()) as Record<string, unknown>;
    assert.deepEqual(local.target, { backend: "local", model: "tiny" });
    assert.equal(local.rule_id, null);
    const routed = (await (await s.admin("/admin/routing/resolve?model=glob-1x")).json()) as Record<string, unknown>;
    assert.equal(routed.rule_id, "glob");
    assert.deepEqual(routed.target, { backend: "a", model: "renamed" });
    assert.match(String(routed.explanation), /glob 'g\*-\?x'/);

    const models = (await s.openai.models.list()).data.map((m) => [m.id, m.owned_by]);
    assert.deepEqual(
      models.filter(([id]) => ["tiny", "gpt-exact", "a-one", "a-two", "other"].includes(id!)),
      [["tiny", "llmux"], ["gpt-exact", "a"], ["a-one", "a"], ["a-two", "a"]],
      "local models, exact rule names and the provider models a rule matches",
    );

    // The Anthropic SDK gets the same list in Anthropic's shape, page by page (it sends anthropic-version).
    const anthropic = new Anthropic({ baseURL: s.url, apiKey: "unused", maxRetries: 0 });
    const everyId = (await s.openai.models.list()).data.map((m) => m.id);
    const paged: string[] = [];
    for await (const m of anthropic.models.list({ limit: 2 })) paged.push(m.id);
    assert.deepEqual(paged, everyId, "after_id pagination walks the whole list once");
    const first = await anthropic.models.list({ limit: 2 });
    assert.equal(first.has_more, everyId.length > 2);
    assert.deepEqual([first.first_id, first.last_id], [everyId[0], everyId[1]]);
    const before = await anthropic.models.list({ before_id: everyId[2]!, limit: 1 });
    assert.deepEqual(before.data.map((m) => m.id), [everyId[1]]);
    for (const id of ["tiny", "gpt-exact"]) {
      const m = await anthropic.models.retrieve(id);
      assert.deepEqual([m.type, m.id, m.display_name], ["model", id, id]);
      assert.ok(!Number.isNaN(Date.parse(m.created_at)), m.created_at);
    }
    await assert.rejects(anthropic.models.retrieve("no-such-model"), (e: unknown) => e instanceof Anthropic.NotFoundError);
    // A name a prefix, glob or regex rule routes is a model a client can retrieve, owned by the rule's first target.
    for (const [id, owner] of [["re-42", "b"], ["glob-1x", "a"], ["pre-anything", "b"]]) {
      const m = await s.openai.models.retrieve(id!);
      assert.deepEqual([m.id, m.owned_by], [id, owner]);
    }
    await assert.rejects(s.openai.models.retrieve("re-42b"), (e: unknown) => e instanceof OpenAI.NotFoundError);
    const bad = await fetch(`${s.url}/v1/models?limit=0`, { headers: { "anthropic-version": "2023-06-01" } });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { type: string }).type, "error", "Anthropic's error envelope");
  });

  it("pass-through answers carry the same security headers and request id as every other response", async () => {
    reset();
    await setRules(s, [{ id: "exact", match: { kind: "exact", pattern: "gpt-exact" }, targets: [{ backend: "a" }] }]);
    for (const stream of [false, true]) {
      const res = await fetch(`${s.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": `hdr-${stream}` },
        body: JSON.stringify({ model: "gpt-exact", stream, messages: [{ role: "user", content: "hi" }] }),
      });
      await res.arrayBuffer();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-request-id"), `hdr-${stream}`);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(res.headers.get("content-security-policy"), "default-src 'none'; frame-ancestors 'none'");
      assert.match(res.headers.get("content-type") ?? "", stream ? /text\/event-stream/ : /application\/json/);
    }
  });

  it("refuses legacy completions for a provider-routed model, naming the model", async () => {
    await setRules(s, [{ id: "x", match: { kind: "exact", pattern: "m" }, targets: [{ backend: "a" }] }]);
    const res = await fetch(`${s.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "m", prompt: "hi" }) });
    assert.equal(res.status, 400);
    const p = (await res.json()) as { error: { param: string; message: string } };
    assert.equal(p.error.param, "model");
    assert.match(p.error.message, /provider 'a'.*local models only/);
  });

  it("applies changed rules to the next request without a restart", async () => {
    reset();
    await setRules(s, [{ id: "x", match: { kind: "exact", pattern: "m" }, targets: [{ backend: "a" }] }]);
    assert.equal(await say(s, "m"), "from-a");
    await setRules(s, [{ id: "x", match: { kind: "exact", pattern: "m" }, targets: [{ backend: "b" }] }]);
    assert.equal(await say(s, "m"), "from-b");
    const got = (await (await s.admin("/admin/routing/rules")).json()) as { rules: { targets: { backend: string }[] }[] };
    assert.equal(got.rules[0]!.targets[0]!.backend, "b");
  });

  it("balances by weight within tolerance over 200 requests", async () => {
    reset();
    await setRules(s, [{ id: "w", match: { kind: "exact", pattern: "w" }, strategy: "weighted", targets: [{ backend: "a", weight: 3 }, { backend: "b", weight: 1 }] }]);
    const n = 200;
    for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: 20 }, () => say(s, "w")));
    const share = a.received.length / n;
    assert.equal(a.received.length + b.received.length, n);
    // 3:1 → 0.75; binomial sd over 200 ≈ 0.031, so ±0.12 is ~4 sd.
    assert.ok(Math.abs(share - 0.75) < 0.12, `share of a was ${share}`);
  });

  it("least_inflight sends to the target with fewer requests in flight", async () => {
    reset();
    await setRules(s, [{ id: "l", match: { kind: "exact", pattern: "l" }, strategy: "least_inflight", targets: [{ backend: "a" }, { backend: "b" }] }]);
    a.queue.push({ kind: "slow", delayMs: 700, then: answers("from-a") });
    const slow = say(s, "l");
    while (a.inFlight < 1) await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 4; i++) assert.equal(await say(s, "l"), "from-b");
    assert.equal(await slow, "from-a");
    assert.equal(a.received.length, 1);
    assert.equal(b.received.length, 4);
  });

  describe("failover", () => {
    before(() => setRules(s, [{ id: "f", match: { kind: "exact", pattern: "f" }, targets: [{ backend: "a" }], fallbacks: [{ backend: "b" }] }]));

    const failures: [string, () => void][] = [
      ["HTTP 500", () => a.queue.push({ kind: "status", status: 500, body: { error: { message: "boom" } } }, { kind: "status", status: 503, body: {} })],
      ["HTTP 429", () => a.queue.push({ kind: "status", status: 429, body: { error: { message: "slow down" } }, headers: { "retry-after": "0" } }, { kind: "status", status: 429, body: {} })],
      ["a slow first byte (timeout)", () => a.queue.push({ kind: "slow", delayMs: 4000, then: answers("late") }, { kind: "slow", delayMs: 4000, then: answers("late") })],
      ["a connection dropped before the first byte", () => a.queue.push({ kind: "drop", body: "", frames: 0 }, { kind: "drop", body: "", frames: 0 })],
    ];
    for (const [what, arrange] of failures) {
      for (const stream of [false, true]) {
        it(`retries then falls back after ${what} (${stream ? "streaming" : "JSON"})`, async () => {
          reset();
          arrange();
          assert.equal(await say(s, "f", stream), "from-b");
          assert.equal(a.received.length, 2, "one try and one retry on the failing provider");
          assert.equal(b.received.length, 1);
        });
      }
    }

    it("falls back when the provider refuses connections", async () => {
      reset();
      await setRules(s, [{ id: "f", match: { kind: "exact", pattern: "f" }, targets: [{ backend: "dead" }], fallbacks: [{ backend: "b" }] }]);
      assert.equal(await say(s, "f", true), "from-b");
      await setRules(s, [{ id: "f", match: { kind: "exact", pattern: "f" }, targets: [{ backend: "a" }], fallbacks: [{ backend: "b" }] }]);
    });

    it("honours Retry-After before retrying the same provider", async () => {
      reset();
      s.app.router.configure({ maxMs: 5000 });
      try {
        a.queue.push({ kind: "status", status: 429, body: { error: { message: "slow down" } }, headers: { "retry-after": "1" } });
        const t0 = Date.now();
        assert.equal(await say(s, "f"), "from-a");
        assert.ok(Date.now() - t0 >= 950, `retried after ${Date.now() - t0} ms`);
        assert.equal(a.received.length, 2);
      } finally {
        s.app.router.configure({ maxMs: 50 });
      }
    });

    it("does not fail over once the stream began: the client gets an in-band error", async () => {
      reset();
      a.queue.push({ kind: "drop", body: (await import("./gateway-fixtures.js")).openaiSse("partial answer here"), frames: 3 });
      let text = "";
      await assert.rejects(async () => {
        const st = await s.openai.chat.completions.create({ model: "f", messages: [{ role: "user", content: "hi" }], stream: true });
        for await (const c of st) text += c.choices[0]?.delta?.content ?? "";
      }, /dropped mid-stream/);
      assert.ok(text.length > 0, "some text arrived before the error");
      assert.equal(b.received.length, 0, "no fallback after the first byte");
      assert.equal(a.received.length, 1, "no retry after the first byte");
    });

    it("does not retry a request the provider rejected (400)", async () => {
      reset();
      a.queue.push({ kind: "status", status: 400, body: { error: { message: "bad field" } } });
      await assert.rejects(say(s, "f"), (e: { status?: number }) => e.status === 400);
      assert.equal(a.received.length, 1);
      assert.equal(b.received.length, 0);
    });

    it("opens the breaker after repeated failures, skips the provider, and recovers by itself", async () => {
      reset();
      s.app.router.configure({ retries: 0, breakerThreshold: 2, breakerCooldownMs: 400 });
      try {
        a.fallback = { kind: "status", status: 500, body: { error: { message: "down" } } };
        assert.equal(await say(s, "f"), "from-b");
        assert.equal(await say(s, "f"), "from-b");
        assert.equal(a.received.length, 2);
        const metrics = await (await s.admin("/metrics")).text();
        assert.match(metrics, /llmux_provider_breaker_state\{provider="a"\} 2/);
        assert.match(metrics, /llmux_provider_retries_total\{provider="a"\} [1-9]/);
        // open: a is not contacted at all
        assert.equal(await say(s, "f"), "from-b");
        assert.equal(a.received.length, 2);
        const r = (await (await s.admin("/admin/routing/resolve?model=f")).json()) as { target: { backend: string }; explanation: string };
        assert.equal(r.target.backend, "b");
        assert.match(r.explanation, /circuit open for a/);
        // after the cooldown a healthy provider is tried again and the circuit closes
        a.fallback = answers("from-a");
        await new Promise((res) => setTimeout(res, 450));
        assert.equal(await say(s, "f"), "from-a");
        assert.match(await (await s.admin("/metrics")).text(), /llmux_provider_breaker_state\{provider="a"\} 0/);
      } finally {
        s.app.router.configure({ retries: 1, breakerThreshold: 5, breakerCooldownMs: 30_000 });
      }
    });
  });

  describe("admin API", () => {
    it("never returns a provider's key or header values", async () => {
      await addProvider(s, { name: "hdr", kind: "anthropic", base_url: "http://127.0.0.1:9", api_key: KEY, headers: { "x-org": "org-secret-value" } });
      const text = await (await s.admin("/admin/providers")).text();
      assert.ok(!text.includes(KEY) && !text.includes("org-secret-value"));
      const hdr = (JSON.parse(text) as { providers: Record<string, unknown>[] }).providers.find((p) => p.name === "hdr")!;
      assert.equal(hdr.has_api_key, true);
      assert.deepEqual(hdr.header_names, ["x-org"]);
      assert.deepEqual(Object.keys(hdr).sort(), ["base_url", "created_at", "has_api_key", "header_names", "id", "kind", "models", "name", "timeout_ms", "updated_at"]);
      const patched = await s.admin(`/admin/providers/${String(hdr.id)}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ api_key: null }) });
      assert.equal(((await patched.json()) as { provider: { has_api_key: boolean } }).provider.has_api_key, false);
      assert.equal((await s.admin(`/admin/providers/${String(hdr.id)}`, { method: "DELETE" })).status, 204);
      assert.ok(!s.log().includes(KEY), "the key is never logged");
    });

    it("refuses bad providers naming the field", async () => {
      const res = await s.admin("/admin/providers", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Bad Name", kind: "nope", base_url: "ftp://x" }) });
      assert.equal(res.status, 400);
      const p = (await res.json()) as { fields?: { field: string }[]; errors?: { field: string }[]; [k: string]: unknown };
      const text = JSON.stringify(p);
      for (const f of ["name", "kind", "base_url"]) assert.ok(text.includes(`"${f}"`), `names ${f}: ${text}`);
    });

    it("refuses unsafe regexes and unknown providers in rules, naming the field", async () => {
      const bad = await putRules(s, [{ id: "r", match: { kind: "regex", pattern: "(a+)+" }, targets: [{ backend: "a" }] }]);
      assert.equal(bad.status, 400);
      const pb = (await bad.json()) as { detail: string; param?: string };
      assert.match(pb.detail, /rules\.0\.match\.pattern.*nested quantifier/);
      const unknown = await putRules(s, [{ id: "r", match: { kind: "exact", pattern: "x" }, targets: [{ backend: "nobody" }] }]);
      assert.equal(unknown.status, 400);
      assert.match(((await unknown.json()) as { detail: string }).detail, /rules\.0\.targets\.0\.backend.*unknown provider 'nobody'/);
      const noTargets = await putRules(s, [{ id: "r", match: { kind: "exact", pattern: "x" }, targets: [] }]);
      assert.equal(noTargets.status, 400);
      const badMatch = await putRules(s, [{ id: "r", match: { kind: "fuzzy", pattern: "x" }, targets: [{ backend: "a" }] }]);
      assert.equal(badMatch.status, 400);
      const empty = await putRules(s, [{ id: "r", match: { kind: "exact", pattern: "" }, targets: [{ backend: "a" }] }]);
      assert.equal(empty.status, 400);
      assert.match(((await empty.json()) as { detail: string }).detail, /rules\.0\.match\.pattern.*matches no model name/);
      const noWeight = await putRules(s, [{ id: "r", match: { kind: "prefix", pattern: "" }, strategy: "weighted", targets: [{ backend: "a", weight: 0 }, { backend: "b", weight: 0 }] }]);
      assert.equal(noWeight.status, 400);
      assert.match(((await noWeight.json()) as { detail: string }).detail, /rules\.0\.targets.*weight above 0/);
      assert.equal((await s.admin("/admin/routing/resolve")).status, 400);
    });

    it("tests a provider: models on success, clear messages on 401, timeout and connection refused", async () => {
      const list = (await (await s.admin("/admin/providers")).json()) as { providers: { id: string; name: string }[] };
      const id = (name: string) => list.providers.find((p) => p.name === name)!.id;
      const test = async (name: string) => (await (await s.admin(`/admin/providers/${id(name)}/test`, { method: "POST" })).json()) as Record<string, unknown>;

      const ok = await test("a");
      assert.equal(ok.ok, true);
      assert.deepEqual(ok.models, ["a-one", "a-two", "other"]);
      assert.equal(typeof ok.latency_ms, "number");

      b.queue.length = 0;
      b.queue.push({ kind: "status", status: 401, body: { error: { message: `invalid key ${KEY}` } } });
      const unauth = await test("b");
      assert.equal(unauth.ok, false);
      assert.equal(unauth.status, 401);
      assert.match(String(unauth.message), /API key/);
      assert.ok(!JSON.stringify(unauth).includes(KEY));

      const refused = await test("dead");
      assert.equal(refused.ok, false);
      assert.match(String(refused.message), /connection refused/);

      const models = a.models;
      a.models = null;
      a.queue.push({ kind: "slow", delayMs: 2500, then: { kind: "json", body: { data: [] } } });
      const slow = await test("a");
      a.models = models;
      assert.equal(slow.ok, false);
      assert.match(String(slow.message), /timed out|did not answer/);
    });
  });
});
