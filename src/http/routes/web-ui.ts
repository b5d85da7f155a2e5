import type { FastifyInstance, FastifyReply } from "fastify";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { LlmuxError } from "../../errors/llmux-error.js";
import { sendNoRoute } from "../no-route.js";
import { sendProblem } from "../problem.js";

/** Where `npm run build` writes the web UI (the same path from src/ under tsx and from dist/). */
export const WEB_BUILD_DIR = fileURLToPath(new URL("../../../web/build/", import.meta.url));

/** Paths that belong to the APIs: never answered with the UI's index.html. */
const API_PREFIXES = ["/v1", "/admin", "/api", "/metrics", "/health"];

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

const MISSING_BUILD_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>llmux</title></head>
<body><h1>llmux</h1><p>The web UI is not built. Run <code>npm run build</code> in the llmux folder, then reload.</p>
<p>The APIs are served: <code>/v1</code>, <code>/admin</code>, <code>/health</code>.</p></body></html>`;

const isApiPath = (path: string): boolean => API_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`));

/**
 * The page's CSP: scripts only from this origin plus the exact inline bootstrap scripts of
 * index.html (SvelteKit starts the app from one inline script), hashed when the server starts.
 * Inline styles stay allowed: Svelte sets style attributes for widths of bars and charts.
 */
export function contentSecurityPolicy(indexHtml: string): string {
  const hashes = [...indexHtml.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map(
    (m) => `'sha256-${createHash("sha256").update(m[1]).digest("base64")}'`,
  );
  return [
    "default-src 'self'",
    `script-src 'self' ${hashes.join(" ")}`.trim(),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function securityHeaders(reply: FastifyReply, csp: string): void {
  reply.header("content-security-policy", csp);
  reply.header("x-content-type-options", "nosniff");
  reply.header("x-frame-options", "DENY");
  reply.header("referrer-policy", "no-referrer");
  reply.header("cross-origin-opener-policy", "same-origin");
  reply.header("permissions-policy", "camera=(), microphone=(), geolocation=()");
}

/**
 * Serves the built web UI at `/` from the same process and port: static files with their
 * content types, hashed assets cached forever, index.html never cached, and index.html for
 * any other non-API path (the SPA routes in the browser). API paths keep their 404 problem.
 */
export function registerWebUiRoutes(app: FastifyInstance, options: { dir?: string } = {}): void {
  const dir = options.dir ?? WEB_BUILD_DIR;
  const indexFile = join(dir, "index.html");
  // Read once: the build does not change under a running server (rebuild → restart).
  const index = existsSync(indexFile) ? readFileSync(indexFile, "utf8") : undefined;
  const csp = index ? contentSecurityPolicy(index) : "default-src 'none'; style-src 'unsafe-inline'";

  const sendIndex = (reply: FastifyReply) => {
    securityHeaders(reply, csp);
    reply.header("cache-control", "no-cache");
    if (!index) return reply.code(200).type("text/html; charset=utf-8").send(MISSING_BUILD_PAGE);
    return reply.type("text/html; charset=utf-8").send(index);
  };

  app.get("/", { config: { auth: "public" } }, async (_request, reply) => sendIndex(reply));

  app.get("/*", { config: { auth: "public" } }, async (request, reply) => {
    let path: string;
    try {
      path = decodeURIComponent(request.url.split("?")[0]);
    } catch {
      return sendProblem(request, reply, new LlmuxError("route_not_found", "malformed path"));
    }
    if (isApiPath(path)) return sendNoRoute(app, request, reply);
    if (index && !path.includes("\0")) {
      const file = normalize(join(dir, path));
      // Never outside the build folder (normalize resolves `..`).
      if (file.startsWith(dir.endsWith(sep) ? dir : dir + sep)) {
        const info = await stat(file).catch(() => undefined);
        if (info?.isFile()) {
          securityHeaders(reply, csp);
          const immutable = path.startsWith("/_app/immutable/");
          reply.header("cache-control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
          reply.type(CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream");
          return reply.send(await readFile(file));
        }
      }
      // A missing hashed asset is a real 404 (an old tab after an upgrade), not the app.
      if (path.startsWith("/_app/")) return sendProblem(request, reply, new LlmuxError("route_not_found", `no file ${path}`));
    }
    return sendIndex(reply);
  });
}
