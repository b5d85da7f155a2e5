import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Fastify from "fastify";
import WebSocket from "ws";
import { AuthService } from "../../src/auth/auth-service.js";
import { installAuth, type RoutePolicy } from "../../src/auth/enforce.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { concretePath, createKey, JSON_HEADERS, userWithStatus } from "./helpers.js";

type Who = "nobody" | "approved user" | "pending user" | "disabled user" | "admin";

/** What each caller must get from a route of each policy (a status, or "served": anything but 401/403). */
function expected(policy: RoutePolicy["auth"], who: Who): { status: number; code: string } | "served" {
  if (who === "nobody") return { status: 401, code: "unauthorized" };
  if (who === "pending user") return { status: 403, code: "account_pending" };
  if (who === "disabled user") return { status: 403, code: "account_disabled" };
  if (who === "approved user" && policy === "admin") return { status: 403, code: "forbidden" };
  return "served";
}

describe("authorisation matrix (generated from the live route table)", () => {
  let s: TestServer;
  const cookies: Partial<Record<Who, string>> = {};

  before(async () => {
    // Keys required: the mode an exposed server runs in, so /v1 is in the matrix too.
    s = await startTestServer({ requireApiKey: true });
    cookies["approved user"] = (await userWithStatus(s, "user@llmux.test", "approved")).cookie;
    cookies["pending user"] = (await userWithStatus(s, "pending@llmux.test", "pending")).cookie;
    cookies["disabled user"] = (await userWithStatus(s, "disabled@llmux.test", "disabled")).cookie;
    cookies.admin = s.adminHeaders().cookie;
  });
  after(() => s.close());

  it("the table lists every route with a policy, the admin and manager routes among them", () => {
    const table = s.app.http.routePolicies;
    const has = (method: string, url: string, auth: string) => table.some((r) => r.method === method && r.url === url && r.auth === auth);
    for (const [m, u, a] of [
      ["GET", "/health", "public"],
      ["POST", "/v1/chat/completions", "inference"],
      ["POST", "/v1/messages", "inference"],
      ["GET", "/metrics", "admin"],
      ["GET", "/admin/audit", "admin"],
      ["GET", "/admin/audit/live", "admin"],
      ["PUT", "/admin/timeouts", "admin"],
      ["GET", "/admin/users", "admin"],
      ["POST", "/api/downloads", "admin"],
      ["GET", "/api/keys", "user"],
      ["POST", "/api/auth/login", "public"],
    ] as const) {
      assert.ok(has(m, u, a), `${m} ${u} is in the table as ${a}`);
    }
    // Every route Fastify serves is in the table (the table is filled by the same onRoute hook).
    for (const r of table) assert.ok(s.app.http.hasRoute({ method: r.method as "GET", url: r.url }), `${r.method} ${r.url} is served`);
  });

  it("every non-public route × (nobody, approved, pending, disabled user, admin) gives the expected status", async () => {
    const routes = s.app.http.routePolicies.filter((r) => r.auth !== "public");
    assert.ok(routes.length >= 20, `found ${routes.length} non-public routes`);
    const failures: string[] = [];
    for (const route of routes) {
      for (const who of ["nobody", "approved user", "pending user", "disabled user", "admin"] as Who[]) {
        const headers: Record<string, string> = { "x-llmux-csrf": "1" };
        if (cookies[who as Exclude<Who, "nobody">]) headers.cookie = cookies[who as Exclude<Who, "nobody">]!;
        const hasBody = ["POST", "PUT", "PATCH"].includes(route.method);
        if (hasBody) headers["content-type"] = "application/json";
        const res = await fetch(`${s.url}${concretePath(route.url)}`, { method: route.method, headers, body: hasBody ? "{}" : undefined });
        const text = await res.text();
        const want = expected(route.auth, who);
        const label = `${route.method} ${route.url} (${route.auth}) as ${who}: got ${res.status}`;
        if (want === "served") {
          if (res.status === 401 || res.status === 403) failures.push(`${label}, expected to be served; ${text.slice(0, 200)}`);
        } else {
          const code = res.headers.get("content-type")?.includes("json") ? (JSON.parse(text) as { code?: string }).code : undefined;
          if (res.status !== want.status || code !== want.code) failures.push(`${label} ${code}, expected ${want.status} ${want.code}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  it("cookie requests that change state need the CSRF header on every route; API keys do not", async () => {
    const changing = s.app.http.routePolicies.filter((r) => r.auth !== "public" && ["POST", "PUT", "PATCH", "DELETE"].includes(r.method));
    assert.ok(changing.length > 5);
    for (const route of changing) {
      const res = await fetch(`${s.url}${concretePath(route.url)}`, {
        method: route.method,
        headers: { cookie: cookies.admin!, ...(route.method === "DELETE" ? {} : JSON_HEADERS) },
        body: route.method === "DELETE" ? undefined : "{}",
      });
      const body = (await res.json()) as { code?: string };
      assert.equal(res.status, 403, `${route.method} ${route.url}`);
      assert.equal(body.code, "csrf_required", `${route.method} ${route.url}`);
    }
    const { secret } = await createKey(s, { name: "no-csrf" });
    const res = await fetch(`${s.url}/v1/chat/completions`, { method: "POST", headers: { ...JSON_HEADERS, authorization: `Bearer ${secret}` }, body: "{}" });
    assert.equal(res.status, 400, "an API key request reaches validation without the CSRF header");
  });

  it("/metrics and the pool's run-time operations take an admin's API key but not a user's; stored settings and other admin routes take no API key", async () => {
    const adminKey = (await createKey(s, { name: "scraper" })).secret;
    const userKey = (await createKey(s, { name: "user key" }, cookies["approved user"])).secret;
    assert.equal((await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } })).status, 200);
    assert.equal((await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${userKey}` } })).status, 403);
    assert.equal((await fetch(`${s.url}/metrics`, { headers: { authorization: "Bearer llmux-sk-wrong" } })).status, 401);
    // Which admin routes a key reaches (the answer past authentication: 404 for an unknown model, 400 for a bad body).
    const policy = s.app.http.routePolicies.filter((r) => r.auth === "admin" && r.allowApiKey).map((r) => `${r.method} ${r.url}`).sort();
    assert.deepEqual(policy, ["DELETE /api/models/:id", "GET /admin/pool", "GET /metrics", "POST /admin/pool/models/:id/load", "POST /admin/pool/models/:id/unload"]);
    const withKey = (key: string, method: string, path: string) => fetch(`${s.url}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
    assert.equal((await withKey(adminKey, "GET", "/admin/pool")).status, 200);
    assert.equal((await withKey(adminKey, "POST", "/admin/pool/models/nope/load")).status, 404);
    assert.equal((await withKey(adminKey, "POST", "/admin/pool/models/nope/unload")).status, 404);
    assert.equal((await withKey(userKey, "POST", "/admin/pool/models/nope/load")).status, 403);
    for (const [method, path] of [["GET", "/admin/users"], ["GET", "/admin/pool/settings"], ["PUT", "/admin/pool/models/nope/pin"], ["GET", "/admin/providers"], ["GET", "/admin/audit"]]) {
      assert.equal((await withKey(adminKey, method!, path!)).status, 401, `${method} ${path}`);
    }
  });

  it("the audit WebSocket authenticates with the session cookie at the upgrade", async () => {
    const wsUrl = `${s.url.replace("http", "ws")}/admin/audit/live`;
    const refused = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(wsUrl, { headers });
        ws.on("unexpected-response", (req, res) => {
          req.destroy(); // ws leaves the refused request to its listener
          resolve(res.statusCode ?? 0);
        });
        ws.on("open", () => {
          ws.close();
          reject(new Error("the upgrade was accepted"));
        });
        ws.on("error", () => {});
      });
    assert.equal(await refused({}), 401);
    assert.equal(await refused({ cookie: cookies["approved user"]! }), 403);
    // Another origin (another port of the same host is the same site, so SameSite sends the cookie).
    assert.equal(await refused({ cookie: cookies.admin!, origin: "http://127.0.0.1:1" }), 403);
    const ws = new WebSocket(wsUrl, { headers: { cookie: cookies.admin! }, origin: new URL(s.url).origin });
    const hello = await new Promise<string>((resolve, reject) => {
      ws.once("message", (d) => resolve(String(d)));
      ws.once("error", reject);
    });
    ws.close();
    assert.equal(JSON.parse(hello).type, "hello");
  });
});

describe("a route without an access policy", () => {
  it("stops the server from starting", async () => {
    const app = Fastify();
    installAuth(app, {} as AuthService, { requireApiKey: false });
    app.get("/with", { config: { auth: "public" } }, async () => "ok");
    assert.throws(() => app.get("/forgotten", async () => "oops"), /GET \/forgotten declares no access policy/);
    // Also when registered inside a plugin: ready() fails.
    const app2 = Fastify();
    installAuth(app2, {} as AuthService, { requireApiKey: false });
    void app2.register(async (scoped) => {
      scoped.post("/admin/new-thing", async () => "oops");
    });
    await assert.rejects(app2.ready(), /POST \/admin\/new-thing declares no access policy/);
  });
});
