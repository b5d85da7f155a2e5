import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { createKey, JSON_HEADERS, userWithStatus } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const openaiWith = (s: TestServer, apiKey: string) => new OpenAI({ baseURL: `${s.url}/v1`, apiKey, maxRetries: 0, timeout: 60_000 });
const anthropicWith = (s: TestServer, apiKey: string) => new Anthropic({ baseURL: s.url, apiKey, maxRetries: 0, timeout: 60_000 });
const chat = (c: OpenAI, model = "tiny") => c.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
const message = (c: Anthropic, model = "tiny") => c.messages.create({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 2 });

/** The error a call rejects with (fails when it resolves). */
async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail("expected the call to fail");
}

describe("API keys with the official SDKs (keys required)", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ requireApiKey: true, models: { tiny: { preset: "tiny" }, other: { preset: "tiny", seed: 2 } } });
  });
  after(() => s.close());

  it("a key is shown once, listed by its prefix, stored only as a hash", async () => {
    const { key, secret } = await createKey(s, { name: "laptop" });
    assert.match(secret, /^llmux-sk-[A-Za-z0-9_-]{43}$/);
    assert.ok(secret.startsWith(key.prefix) && key.prefix.length < 20);
    const list = (await (await s.admin("/api/keys")).json()) as { keys: Record<string, unknown>[] };
    const listed = list.keys.find((k) => k.id === key.id)!;
    assert.equal(listed.prefix, key.prefix);
    assert.ok(!JSON.stringify(list).includes(secret.slice(key.prefix.length)), "the secret is never listed");
    const row = await s.app.db.selectFrom("api_keys").selectAll().where("id", "=", key.id).executeTakeFirstOrThrow();
    assert.ok(!Object.values(row).some((v) => typeof v === "string" && v.includes(secret.slice(key.prefix.length))), "the secret is not stored");
  });

  it("a valid key works with both SDKs, and the audit row records the key and its owner", async () => {
    const { key, secret } = await createKey(s, { name: "both sdks" });
    const res = await chat(openaiWith(s, secret)).withResponse();
    assert.equal(res.data.object, "chat.completion");
    const msg = await message(anthropicWith(s, secret));
    assert.equal(msg.type, "message");
    const me = (await (await s.admin("/api/auth/me")).json()) as { user: { id: string } };
    const requestId = res.response.headers.get("x-request-id")!;
    let row: { api_key_id: string | null; user_id: string | null } | undefined;
    for (let i = 0; i < 100 && !row; i++) {
      await s.app.auditWriter.flush();
      row = (await s.app.auditRepo.list({ requestId }, { limit: 1 }))[0];
      if (!row) await sleep(20);
    }
    assert.ok(row, "the request has an audit row");
    assert.equal(row.api_key_id, key.id);
    assert.equal(row.user_id, me.user.id);
    // The signed-in user's usage counts it (the Anthropic call too).
    const usage = (await (await s.admin("/api/usage")).json()) as { requests: number; by_key: { api_key_id: string; requests: number }[] };
    assert.ok(usage.requests >= 1);
  });

  it("no key, a wrong key, a revoked key and an expired key get 401 in each SDK's AuthenticationError", async () => {
    const raw = await fetch(`${s.url}/v1/models`);
    assert.equal(raw.status, 401);
    assert.equal(((await raw.json()) as { error: { type: string } }).error.type, "authentication_error");

    const revoked = await createKey(s, { name: "to revoke" });
    assert.equal((await s.admin(`/api/keys/${revoked.key.id}`, { method: "DELETE" })).status, 204);
    const expiring = await createKey(s, { name: "short-lived", expires_at: Date.now() + 800 });
    await sleep(900);

    for (const [label, secret] of [
      ["placeholder", "unused"],
      ["wrong", "llmux-sk-0000000000000000000000000000000000000000000"],
      ["revoked", revoked.secret],
      ["expired", expiring.secret],
    ] as const) {
      const o = await errorOf(chat(openaiWith(s, secret)));
      assert.ok(o instanceof OpenAI.AuthenticationError, `${label} key: OpenAI AuthenticationError, got ${String(o)}`);
      assert.equal(o.status, 401);
      const a = await errorOf(message(anthropicWith(s, secret)));
      assert.ok(a instanceof Anthropic.AuthenticationError, `${label} key: Anthropic AuthenticationError, got ${String(a)}`);
      assert.equal(a.status, 401);
    }
  });

  it("a key limited to some models gets 403 (PermissionDeniedError) on the others", async () => {
    const { secret } = await createKey(s, { name: "tiny only", allowed_models: ["tiny"] });
    const ok = await chat(openaiWith(s, secret), "tiny");
    assert.equal(ok.model, "tiny");
    const o = await errorOf(chat(openaiWith(s, secret), "other"));
    assert.ok(o instanceof OpenAI.PermissionDeniedError, `got ${String(o)}`);
    assert.match(o.message, /may not use model 'other'/);
    const a = await errorOf(message(anthropicWith(s, secret), "other"));
    assert.ok(a instanceof Anthropic.PermissionDeniedError, `got ${String(a)}`);
    const retrieve = await errorOf(openaiWith(s, secret).models.retrieve("other"));
    assert.ok(retrieve instanceof OpenAI.PermissionDeniedError);
    // The list shows such a key only what it may use; an unlimited key sees both.
    const listed = [];
    for await (const m of openaiWith(s, secret).models.list()) listed.push(m.id);
    assert.deepEqual(listed, ["tiny"]);
    const all = [];
    for await (const m of s.openai.models.list()) all.push(m.id);
    assert.deepEqual(all.sort(), ["other", "tiny"]);
  });

  it("the requests-per-minute limit gives 429 (RateLimitError) with Retry-After", async () => {
    const { secret } = await createKey(s, { name: "slow", rpm: 2 });
    const o = openaiWith(s, secret);
    await o.models.list();
    await o.models.list();
    const err = await errorOf(o.models.list());
    assert.ok(err instanceof OpenAI.RateLimitError, `got ${String(err)}`);
    const wait = Number(err.headers?.get("retry-after"));
    assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
    const a = await errorOf(message(anthropicWith(s, secret)));
    assert.ok(a instanceof Anthropic.RateLimitError, `got ${String(a)}`);
    assert.ok(Number(a.headers?.get("retry-after")) >= 1);
  });

  it("the test client carries a key; a key of a disabled user stops working", async () => {
    assert.ok((await s.openai.models.list()).data.length >= 2);
    const u = await userWithStatus(s, "keyholder@llmux.test", "approved");
    const { secret } = await createKey(s, { name: "keyholder" }, u.cookie);
    assert.ok((await openaiWith(s, secret).models.list()).data.length >= 2);
    await s.admin(`/admin/users/${u.id}`, { method: "PATCH", headers: JSON_HEADERS, body: JSON.stringify({ status: "disabled" }) });
    const err = await errorOf(openaiWith(s, secret).models.list());
    assert.ok(err instanceof OpenAI.PermissionDeniedError, `got ${String(err)}`);
    assert.match(err.message, /disabled/);
  });

  it("key requests need no CSRF header; a user's keys are their own", async () => {
    const other = await userWithStatus(s, "second@llmux.test", "approved");
    const { key } = await createKey(s, { name: "mine" });
    // Another user neither sees nor revokes it.
    const theirs = (await (await fetch(`${s.url}/api/keys`, { headers: { cookie: other.cookie } })).json()) as { keys: { id: string }[] };
    assert.ok(!theirs.keys.some((k) => k.id === key.id));
    const steal = await fetch(`${s.url}/api/keys/${key.id}`, { method: "DELETE", headers: { cookie: other.cookie, "x-llmux-csrf": "1" } });
    assert.equal(steal.status, 404);
    // Bad input names the field.
    const bad = await s.admin("/api/keys", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ name: "x", rpm: -1 }) });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { errors: { field: string }[] }).errors[0]!.field, "rpm");
    const past = await s.admin("/api/keys", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ name: "x", expires_at: 1000 }) });
    assert.equal(past.status, 400);
    const nul = await s.admin("/api/keys", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ name: "a\u0000b" }) });
    assert.equal(nul.status, 400);
    assert.equal(((await nul.json()) as { errors: { field: string }[] }).errors[0]!.field, "name");
    const nulEmail = await fetch(`${s.url}/api/auth/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "a\u0000b@example.com", password: "long-enough-password" }) });
    assert.equal(nulEmail.status, 400, "control characters in an email are refused");
    assert.equal((await s.admin(`/api/keys/key_000000000000000000000000`, { method: "DELETE" })).status, 404);
    assert.equal((await s.admin(`/api/keys/${key.id}`, { method: "DELETE" })).status, 204);
  });
});

describe("API keys on an open (loopback) server", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  it("keyless requests work, and an llmux key presented is still checked and limited", async () => {
    assert.equal((await chat(openaiWith(s, "unused"))).object, "chat.completion");
    const { secret, key } = await createKey(s, { name: "limited", allowed_models: ["nope"] });
    assert.ok(key.allowed_models);
    assert.ok((await errorOf(chat(openaiWith(s, secret)))) instanceof OpenAI.PermissionDeniedError);
    assert.ok((await errorOf(chat(openaiWith(s, "llmux-sk-wrong")))) instanceof OpenAI.AuthenticationError);
  });
});
