import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sessionCookieFrom, signIn, startTestServer, TEST_ADMIN, type TestServer } from "../helpers/server.js";
import { JSON_HEADERS, userWithStatus } from "./helpers.js";

const post = (s: TestServer, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${s.url}${path}`, { method: "POST", headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) });
const codeOf = async (res: Response) => ((await res.json()) as { code?: string }).code;
const me = (s: TestServer, cookie: string) => fetch(`${s.url}/api/auth/me`, { headers: { cookie } });

describe("users and sessions", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ loginLimits: { perAccount: 5, perAddress: 12, windowMs: 60_000 } });
  });
  after(() => s.close());

  it("the first user became an approved admin and was signed in with a strict cookie", async () => {
    const res = await post(s, "/api/auth/login", TEST_ADMIN);
    assert.equal(res.status, 200);
    const { user } = (await res.json()) as { user: Record<string, unknown> };
    assert.deepEqual([user.email, user.role, user.status], [TEST_ADMIN.email, "admin", "approved"]);
    assert.equal(typeof user.created_at, "number");
    assert.ok(!("password_hash" in user) && !("passwordHash" in user));
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("llmux_session="))!;
    const attrs = cookie.split(";").map((a) => a.trim().toLowerCase());
    assert.ok(attrs.includes("httponly"));
    assert.ok(attrs.includes("samesite=strict"));
    assert.ok(attrs.includes("path=/"));
    assert.ok(attrs.some((a) => /^max-age=\d+$/.test(a) && Number(a.slice(8)) > 3600));
    // A signed JWT (three base64url parts), never a bare user id.
    assert.match(cookie.split(";")[0]!.slice("llmux_session=".length), /^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it("later users wait for approval; duplicate emails and short passwords are refused", async () => {
    const reg = await post(s, "/api/auth/register", { email: "Later@LLMUX.test", password: "later-password" });
    assert.equal(reg.status, 201);
    const body = (await reg.json()) as { user: { id: string; role: string; status: string; email: string }; signed_in: boolean };
    assert.deepEqual([body.user.role, body.user.status, body.signed_in, body.user.email], ["user", "pending", false, "later@llmux.test"]);
    assert.equal(reg.headers.getSetCookie().length, 0);
    const dup = await post(s, "/api/auth/register", { email: "later@llmux.test", password: "another-password" });
    assert.equal(dup.status, 409);
    assert.equal(await codeOf(dup), "email_taken");
    const short = await post(s, "/api/auth/register", { email: "short@llmux.test", password: "1234567" });
    assert.equal(short.status, 400);
    assert.equal(((await short.json()) as { errors: { field: string }[] }).errors[0]!.field, "password");
    const pending = await post(s, "/api/auth/login", { email: "later@llmux.test", password: "later-password" });
    assert.equal(pending.status, 403);
    assert.equal(await codeOf(pending), "account_pending");
    // Approved by an admin: now the user can sign in, and is a user, not an admin.
    await s.admin(`/admin/users/${body.user.id}`, { method: "PATCH", headers: JSON_HEADERS, body: JSON.stringify({ status: "approved" }) });
    const cookie = await signIn(s.url, { email: "later@llmux.test", password: "later-password" });
    assert.equal(((await (await me(s, cookie)).json()) as { user: { role: string } }).user.role, "user");
    assert.equal((await fetch(`${s.url}/admin/users`, { headers: { cookie } })).status, 403);
    // Disabled: the live session stops working and login says why.
    await s.admin(`/admin/users/${body.user.id}`, { method: "PATCH", headers: JSON_HEADERS, body: JSON.stringify({ status: "disabled" }) });
    const disabled = await fetch(`${s.url}/api/keys`, { headers: { cookie } });
    assert.equal(await codeOf(disabled), "account_disabled");
    assert.equal(await codeOf(await post(s, "/api/auth/login", { email: "later@llmux.test", password: "later-password" })), "account_disabled");
  });

  it("logout ends the session on the server: the old cookie no longer works", async () => {
    const cookie = await signIn(s.url, TEST_ADMIN);
    assert.equal((await me(s, cookie)).status, 200);
    const noCsrf = await fetch(`${s.url}/api/auth/logout`, { method: "POST", headers: { cookie } });
    assert.equal(noCsrf.status, 403);
    assert.equal(await codeOf(noCsrf), "csrf_required");
    const out = await fetch(`${s.url}/api/auth/logout`, { method: "POST", headers: { cookie, "x-llmux-csrf": "1" } });
    assert.equal(out.status, 204);
    assert.match(out.headers.getSetCookie()[0]!, /^llmux_session=;.*Max-Age=0/);
    assert.equal((await me(s, cookie)).status, 401, "a copy of the cookie kept after logout is dead");
    assert.equal((await fetch(`${s.url}/admin/users`, { headers: { cookie } })).status, 401);
  });

  it("a forged or tampered cookie is refused", async () => {
    const cookie = await signIn(s.url, TEST_ADMIN);
    const [name, token] = cookie.split("=") as [string, string];
    const [h, p, sig] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    const forged = `${name}=${h}.${Buffer.from(JSON.stringify({ ...claims, sub: "usr_someone_else" })).toString("base64url")}.${sig}`;
    assert.equal((await me(s, forged)).status, 401);
    assert.equal((await me(s, `${name}=${h}.${p}.${sig.slice(0, -2)}AA`)).status, 401);
    assert.equal((await me(s, `${name}=eyJhbGciOiJub25lIn0.${p}.`)).status, 401, "alg none is refused");
  });

  it("the last admin can never be demoted, disabled, set pending or deleted; with a second admin it can", async () => {
    const users = ((await (await s.admin("/admin/users")).json()) as { users: { id: string; email: string }[] }).users;
    const first = users.find((u) => u.email === TEST_ADMIN.email)!;
    for (const patch of [{ role: "user" }, { status: "disabled" }, { status: "pending" }]) {
      const res = await s.admin(`/admin/users/${first.id}`, { method: "PATCH", headers: JSON_HEADERS, body: JSON.stringify(patch) });
      assert.equal(res.status, 409, JSON.stringify(patch));
      assert.equal(await codeOf(res), "last_admin");
    }
    const del = await s.admin(`/admin/users/${first.id}`, { method: "DELETE" });
    assert.equal(del.status, 409);
    assert.equal(await codeOf(del), "last_admin");
    // A second admin: now the first may step down.
    const second = await userWithStatus(s, "second-admin@llmux.test", "approved");
    const promote = await s.admin(`/admin/users/${second.id}`, { method: "PATCH", headers: JSON_HEADERS, body: JSON.stringify({ role: "admin" }) });
    assert.equal(((await promote.json()) as { user: { role: string } }).user.role, "admin");
    const secondHeaders = { ...JSON_HEADERS, cookie: second.cookie, "x-llmux-csrf": "1" };
    const demote = await fetch(`${s.url}/admin/users/${first.id}`, { method: "PATCH", headers: secondHeaders, body: JSON.stringify({ role: "user" }) });
    assert.equal(demote.status, 200);
    // The second is now the last: it cannot delete itself.
    const self = await fetch(`${s.url}/admin/users/${second.id}`, { method: "DELETE", headers: { cookie: second.cookie, "x-llmux-csrf": "1" } });
    assert.equal(self.status, 409);
    const restore = await fetch(`${s.url}/admin/users/${first.id}`, { method: "PATCH", headers: secondHeaders, body: JSON.stringify({ role: "admin" }) });
    assert.equal(restore.status, 200);
    assert.equal((await s.admin(`/admin/users/${second.id}`, { method: "DELETE" })).status, 204);
    assert.equal((await fetch(`${s.url}/api/auth/me`, { headers: { cookie: second.cookie } })).status, 401, "a deleted user's session is gone");
    assert.equal((await s.admin(`/admin/users/${second.id}`, { method: "DELETE" })).status, 404);
  });

  it("an admin's password reset ends the user's sessions; the new password works", async () => {
    const u = await userWithStatus(s, "reset@llmux.test", "approved");
    const bad = await s.admin(`/admin/users/${u.id}/password`, { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ password: "short" }) });
    assert.equal(bad.status, 400);
    const ok = await s.admin(`/admin/users/${u.id}/password`, { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ password: "brand-new-password" }) });
    assert.equal(ok.status, 204);
    assert.equal((await me(s, u.cookie)).status, 401);
    assert.equal((await post(s, "/api/auth/login", { email: "reset@llmux.test", password: "user-password-1" })).status, 401);
    assert.equal((await post(s, "/api/auth/login", { email: "reset@llmux.test", password: "brand-new-password" })).status, 200);
  });

  it("security headers on every response; CORS closed by default", async () => {
    const res = await fetch(`${s.url}/health`, { headers: { origin: "https://evil.example" } });
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("x-frame-options"), "DENY");
    assert.equal(res.headers.get("referrer-policy"), "no-referrer");
    // An API answer loads nothing and may not be framed; it is no document, so no opener policy.
    assert.equal(res.headers.get("content-security-policy"), "default-src 'none'; frame-ancestors 'none'");
    assert.equal(res.headers.get("cross-origin-resource-policy"), "same-origin");
    assert.equal(res.headers.get("cross-origin-opener-policy"), null);
    assert.equal(res.headers.get("access-control-allow-origin"), null);
    const preflight = await fetch(`${s.url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    assert.equal(preflight.headers.get("access-control-allow-origin"), null);
  });

  it("secrets never reach the log or a problem body", async () => {
    await post(s, "/api/auth/login", { email: TEST_ADMIN.email, password: "canary-password-zq9" });
    const created = (await (await s.admin("/api/keys", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ name: "log check" }) })).json()) as { secret: string };
    await fetch(`${s.url}/v1/models`, { headers: { authorization: `Bearer ${created.secret}` } });
    const log = s.log();
    assert.ok(!log.includes("canary-password-zq9"));
    assert.ok(!log.includes(created.secret));
    assert.ok(!log.includes(sessionCookieFrom(await post(s, "/api/auth/login", TEST_ADMIN)).split("=")[1]!));
  });

  // Last two: they leave this address throttled.
  it("login is rate-limited per account (even the right password waits) and per address, with Retry-After", async () => {
    const victim = await userWithStatus(s, "victim@llmux.test", "approved");
    assert.ok(victim.id);
    for (let i = 0; i < 5; i++) {
      const res = await post(s, "/api/auth/login", { email: "victim@llmux.test", password: `wrong-${i}-password` });
      assert.equal(res.status, 401);
      assert.equal(await codeOf(res), "invalid_credentials");
    }
    const limited = await post(s, "/api/auth/login", { email: "victim@llmux.test", password: "user-password-1" });
    assert.equal(limited.status, 429);
    assert.equal(await codeOf(limited), "rate_limited");
    assert.ok(Number(limited.headers.get("retry-after")) >= 1);
    // Other accounts are not locked by it (until this address has failed too often).
    assert.equal((await post(s, "/api/auth/login", TEST_ADMIN)).status, 200);
    // Per address: failures spread over unknown accounts add up (12 in this server's window; at least 5 above).
    let status = 0;
    let tries = 0;
    while (status !== 429 && tries < 12) {
      status = (await post(s, "/api/auth/login", { email: `nobody${tries++}@llmux.test`, password: "whatever-password" })).status;
    }
    assert.equal(status, 429);
    assert.ok(tries <= 7, `refused after ${tries} more failures`);
  });

  it("registrations are throttled per address", async () => {
    let status = 0;
    let n = 0;
    while (status !== 429 && n < 25) status = (await post(s, "/api/auth/register", { email: `spam${n++}@llmux.test`, password: "spam-password" })).status;
    assert.equal(status, 429);
    assert.ok(n <= 20, `refused after ${n}`);
  });
});

describe("CORS when configured", () => {
  let s: TestServer;
  before(async () => {
    const saved = process.env.LLMUX_CORS_ORIGINS;
    process.env.LLMUX_CORS_ORIGINS = "https://app.example";
    try {
      s = await startTestServer();
    } finally {
      if (saved === undefined) delete process.env.LLMUX_CORS_ORIGINS;
      else process.env.LLMUX_CORS_ORIGINS = saved;
    }
  });
  after(() => s.close());

  it("allows the listed origin (without credentials) and no other", async () => {
    const ok = await fetch(`${s.url}/v1/models`, { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": "GET" } });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example");
    assert.equal(ok.headers.get("access-control-allow-credentials"), null);
    const other = await fetch(`${s.url}/v1/models`, { headers: { origin: "https://evil.example" } });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
  });
});
