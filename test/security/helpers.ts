import assert from "node:assert/strict";
import { signIn, type TestServer } from "../helpers/server.js";

export const JSON_HEADERS = { "content-type": "application/json" };

/** A signed-in user of the given status, made through the HTTP API as a person would be. */
export async function userWithStatus(s: TestServer, email: string, status: "approved" | "pending" | "disabled"): Promise<{ id: string; cookie: string }> {
  const password = "user-password-1";
  const reg = await fetch(`${s.url}/api/auth/register`, { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ email, password }) });
  assert.equal(reg.status, 201, await reg.clone().text());
  const { user } = (await reg.json()) as { user: { id: string } };
  const approve = await s.admin(`/admin/users/${user.id}`, { method: "PATCH", headers: JSON_HEADERS, body: JSON.stringify({ status: "approved" }) });
  assert.equal(approve.status, 200);
  // Signed in while approved; an admin then changes the status under the live session.
  const cookie = await signIn(s.url, { email, password });
  if (status !== "approved") {
    const res = await s.admin(`/admin/users/${user.id}`, { method: "PATCH", headers: JSON_HEADERS, body: JSON.stringify({ status }) });
    assert.equal(res.status, 200);
  }
  return { id: user.id, cookie };
}

/** Creates an API key through `/api/keys` with the given session (admin when omitted). */
export async function createKey(
  s: TestServer,
  body: Record<string, unknown>,
  cookie?: string,
): Promise<{ key: { id: string; prefix: string; allowed_models: string[] | null; rpm: number | null }; secret: string }> {
  const init = { method: "POST", headers: JSON_HEADERS, body: JSON.stringify(body) };
  const res = cookie
    ? await fetch(`${s.url}/api/keys`, { ...init, headers: { ...JSON_HEADERS, cookie, "x-llmux-csrf": "1" } })
    : await s.admin("/api/keys", init);
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as never;
}

/** A concrete path for a route pattern: every `:param` becomes a harmless id that names nothing. */
export const concretePath = (url: string): string => url.replace(/:[A-Za-z_]+/g, "does-not-exist").replace(/\*$/, "x");
