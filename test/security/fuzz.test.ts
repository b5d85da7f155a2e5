import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import type { RoutePolicy } from "../../src/auth/enforce.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { concretePath } from "./helpers.js";

/** Field names the JSON routes know, so generated bodies reach the validators with wrong types. */
const FIELDS = [
  "model", "messages", "prompt", "input", "max_tokens", "stream", "tools", "system", "response_format", "name", "email", "password",
  "timeouts", "repo", "quant", "files", "role", "status", "rpm", "allowed_models", "expires_at", "rules", "budget", "pinned", "token",
  "api_key", "base_url", "kind", "headers", "sampling",
];

const deep = (depth: number, kind: "array" | "object") => (kind === "array" ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth));

/** Hostile bodies: wrong types, huge strings, deep nesting, prototype-pollution keys, invalid UTF-8, not JSON at all. */
const hostileBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v) ?? "null"),
  fc.dictionary(fc.constantFrom(...FIELDS), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 6 }).map((o) => JSON.stringify(o)),
  fc
    .record({ field: fc.constantFrom(...FIELDS), size: fc.integer({ min: 1_000, max: 600_000 }), unit: fc.constantFrom("a", "é", "😀", '\\"', "\\u0000", "\\ud800") })
    .map(({ field, size, unit }) => `{"${field}":"${unit.repeat(Math.ceil(size / unit.length))}"}`),
  fc
    .record({ field: fc.constantFrom(...FIELDS), depth: fc.integer({ min: 20, max: 50_000 }), kind: fc.constantFrom("array" as const, "object" as const) })
    .map(({ field, depth, kind }) => `{"${field}":${deep(depth, kind)}}`),
  fc
    .record({ field: fc.constantFrom(...FIELDS), poison: fc.constantFrom('{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}', '{"\\u005f_proto__":{"x":1}}') })
    .chain(({ field, poison }) => fc.constantFrom(poison, `{"${field}":${poison}}`, `{"${field}":[1,${poison}]}`)),
  fc
    .record({ field: fc.constantFrom(...FIELDS), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) })
    .map(({ field, bytes }) => Buffer.concat([Buffer.from(`{"${field}":"`), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(bytes), Buffer.from('"}')])),
  fc.string({ maxLength: 200 }),
);

const FIXED: [string, string | Buffer][] = [
  ["proto key", '{"__proto__":{"isAdmin":true},"model":"tiny"}'],
  ["constructor.prototype", '{"constructor":{"prototype":{"isAdmin":true}}}'],
  ["deep arrays", deep(100_000, "array")],
  ["deep objects", deep(100_000, "object")],
  ["invalid UTF-8", Buffer.from([0x7b, 0x22, 0x6d, 0x22, 0x3a, 0x22, 0xff, 0xc0, 0xaf, 0x22, 0x7d])],
  ["over the body limit", `{"model":"${"x".repeat(33 * 1024 * 1024)}"}`],
  ["empty", ""],
  ["truncated", '{"model":"tiny","messages":[{"role":'],
  ["array", "[1,2,3]"],
  ["null", "null"],
  ["deep schema", JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "x" }], response_format: { type: "json_schema", json_schema: { name: "d", schema: JSON.parse('{"type":"object","properties":{"a":'.repeat(120) + "{}" + "}}".repeat(120)) } } })],
];

describe("fuzzing every JSON route with hostile bodies", () => {
  let s: TestServer;
  let routes: RoutePolicy[];
  before(async () => {
    s = await startTestServer();
    routes = s.app.http.routePolicies.filter((r) => ["POST", "PUT", "PATCH"].includes(r.method));
  });
  after(() => s.close());

  /** Sends a body and checks: no 5xx, and every refusal is a problem body with a code and the request id. */
  async function check(route: RoutePolicy, body: string | Buffer): Promise<void> {
    // Public routes go without the admin's cookie (so logout cannot end it); the others as the admin.
    const headers: Record<string, string> = { "content-type": "application/json", ...(route.auth === "public" ? {} : s.adminHeaders()) };
    const res = await fetch(`${s.url}${concretePath(route.url)}`, { method: route.method, headers, body });
    const text = await res.text();
    const where = `${route.method} ${route.url} → ${res.status} for ${typeof body === "string" ? body.slice(0, 80) : `<${body.length} bytes>`}`;
    assert.ok(res.status < 500, `${where}: ${text.slice(0, 300)}`);
    if (res.status >= 400) {
      assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/, where);
      const problem = JSON.parse(text) as { code?: unknown; request_id?: unknown; status?: unknown };
      assert.equal(typeof problem.code, "string", where);
      assert.equal(problem.request_id, res.headers.get("x-request-id"), where);
      assert.equal(problem.status, res.status, where);
    }
  }

  it("covers the JSON routes of every kind", () => {
    const urls = routes.map((r) => r.url);
    for (const u of ["/v1/chat/completions", "/v1/messages", "/v1/embeddings", "/api/auth/register", "/api/auth/login", "/api/keys", "/admin/users/:id", "/admin/timeouts", "/api/downloads"]) {
      assert.ok(urls.includes(u), u);
    }
  });

  it("known hostile bodies on every JSON route: never a 5xx, always a problem", async () => {
    for (const route of routes) for (const [, body] of FIXED) await check(route, body);
  });

  it("generated hostile bodies (fast-check): never a 5xx, always a problem, the server stays up", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), hostileBody, async (route, body) => check(route, body)),
      { numRuns: 250 },
    );
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
    assert.doesNotMatch(s.log(), /unhandled error/);
  });
});
