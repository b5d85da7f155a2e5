/**
 * The web UI's static handler on a bare Fastify with a fixture build folder: content types,
 * caching, SPA fallback (never for API paths), security headers with the inline script's
 * hash in the CSP, no escape from the folder, and the page that says to build when missing.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { registerWebUiRoutes } from "../../src/http/routes/web-ui.js";

const BOOT = "\n\t\t\t\tconsole.log('boot');\n\t\t\t";
const INDEX = `<!doctype html><html><head><link href="/_app/immutable/bundle.abc123.js" rel="modulepreload"></head><body><div><script>${BOOT}</script></div></body></html>`;
let dir: string;
let app: FastifyInstance;
let bare: FastifyInstance;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "llmux-webui-"));
  mkdirSync(join(dir, "_app/immutable"), { recursive: true });
  writeFileSync(join(dir, "index.html"), INDEX);
  writeFileSync(join(dir, "_app/immutable/bundle.abc123.js"), "export const x = 1;");
  writeFileSync(join(dir, "_app/version.json"), '{"version":"1"}');
  writeFileSync(join(dir, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
  writeFileSync(join(tmpdir(), "llmux-webui-outside.txt"), "TOPSECRET-CONTENT");
  app = Fastify();
  registerWebUiRoutes(app, { dir });
  bare = Fastify();
  registerWebUiRoutes(bare, { dir: join(dir, "missing") });
});

after(async () => {
  await app?.close();
  await bare?.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(tmpdir(), "llmux-webui-outside.txt"), { force: true });
});

describe("web UI static files", () => {
  it("serves index.html at / with no-cache and a CSP that admits exactly the inline boot script", async () => {
    const res = await app.inject("/");
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["content-type"], "text/html; charset=utf-8");
    assert.equal(res.headers["cache-control"], "no-cache");
    assert.equal(res.body, INDEX);
    const hash = createHash("sha256").update(BOOT).digest("base64");
    const csp = String(res.headers["content-security-policy"]);
    assert.match(csp, new RegExp(`script-src 'self' 'sha256-${hash.replace(/[+/=]/g, "\\$&")}'(;|$)`));
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/);
    assert.equal(res.headers["x-content-type-options"], "nosniff");
    assert.equal(res.headers["x-frame-options"], "DENY");
    assert.equal(res.headers["referrer-policy"], "no-referrer");
    // Document-only headers come from the page's own set, not from the server-wide one.
    assert.equal(res.headers["cross-origin-opener-policy"], "same-origin");
  });

  it("caches hashed assets forever and other files never, with their content types", async () => {
    const js = await app.inject("/_app/immutable/bundle.abc123.js");
    assert.equal(js.statusCode, 200);
    assert.equal(js.headers["content-type"], "text/javascript; charset=utf-8");
    assert.equal(js.headers["cache-control"], "public, max-age=31536000, immutable");
    const svg = await app.inject("/favicon.svg");
    assert.equal(svg.headers["content-type"], "image/svg+xml");
    assert.equal(svg.headers["cache-control"], "no-cache");
    const json = await app.inject("/_app/version.json");
    assert.equal(json.headers["content-type"], "application/json; charset=utf-8");
    const head = await app.inject({ method: "HEAD", url: "/_app/immutable/bundle.abc123.js" });
    assert.equal(head.statusCode, 200);
  });

  it("answers the app's own routes with index.html, but a missing hashed asset with 404", async () => {
    for (const path of ["/chat", "/settings?tab=pool", "/models/some/deep/path", "/signin"]) {
      const res = await app.inject(path);
      assert.equal(res.statusCode, 200, path);
      assert.equal(res.body, INDEX, path);
    }
    const gone = await app.inject("/_app/immutable/old.js");
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.headers["content-type"], "application/problem+json; charset=utf-8");
  });

  it("never answers API paths with the app", async () => {
    for (const path of ["/v1", "/v1/nothing", "/admin/nothing", "/api/nothing", "/metrics/x", "/health/x"]) {
      const res = await app.inject(path);
      assert.equal(res.statusCode, 404, path);
      assert.equal(res.headers["content-type"], "application/problem+json; charset=utf-8", path);
      assert.equal(res.json().code, "route_not_found", path);
    }
    // Paths that only start like an API prefix are the app's.
    assert.equal((await app.inject("/apiary")).body, INDEX);
  });

  it("never serves a file outside the build folder", async () => {
    for (const path of ["/../llmux-webui-outside.txt", "/%2e%2e/llmux-webui-outside.txt", "/_app/..%2f..%2fllmux-webui-outside.txt", "/%00"]) {
      const res = await app.inject(path);
      assert.doesNotMatch(res.body, /TOPSECRET/, path);
    }
  });

  it("answers a malformed escape with a 4xx, not a 500", async () => {
    const res = await app.inject("/%E0%A4%A");
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, String(res.statusCode));
  });

  it("says to run npm run build when the UI is not built", async () => {
    const res = await bare.inject("/");
    assert.equal(res.statusCode, 200);
    assert.match(res.body, /npm run build/);
    assert.equal((await bare.inject("/chat")).body, res.body);
    assert.equal((await bare.inject("/v1/x")).statusCode, 404);
  });
});
