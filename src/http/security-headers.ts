import type { FastifyInstance } from "fastify";

/**
 * The Content-Security-Policy of every response that is not one of the web UI's files: API
 * answers (JSON, problem bodies, SSE) are never documents, so nothing may load from them and
 * nothing may frame them. Should one be opened as a page, it runs nothing. The web UI's pages
 * and files replace it with their own policy (`routes/web-ui.ts`), which allows the app's
 * scripts and styles, and add the document-only headers (opener policy, permissions policy).
 * Short on purpose, as it goes out with every API answer: the web page's 210-character policy
 * and `cross-origin-opener-policy` (which applies to documents only) made every answer's
 * headers 209 bytes longer, where a gateway's JSON answer may be a few hundred bytes in all.
 */
export const CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";

/** The security headers every response carries (the web UI's files add more, and their own policy). */
export function securityHeaders(): Record<string, string> {
  return {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
  };
}

/** `LLMUX_CORS_ORIGINS`: a comma-separated list of origins allowed to call the API from a browser (empty: none). */
export function corsOriginsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.LLMUX_CORS_ORIGINS ?? "")
    .split(",")
    .map((o) => o.trim().replace(/\/+$/, ""))
    .filter((o) => o.length > 0);
}

/**
 * Security headers on every response, and CORS: closed unless origins are listed. Listed
 * origins may call with API keys (`Authorization`, `x-api-key`); cookies never travel
 * cross-origin (no `Access-Control-Allow-Credentials`), so a listed site cannot act as a signed-in user.
 */
export function installSecurityHeaders(app: FastifyInstance, corsOrigins: readonly string[]): void {
  const headers = securityHeaders();
  const allowed = new Set(corsOrigins);
  const allowAll = allowed.has("*");
  // Callback style: no promise per request on the hot path.
  app.addHook("onRequest", (request, reply, done) => {
    reply.headers(headers);
    const origin = request.headers.origin;
    if (typeof origin !== "string" || !(allowAll || allowed.has(origin))) return done();
    reply.header("access-control-allow-origin", allowAll ? "*" : origin).header("vary", "Origin");
    if (request.method === "OPTIONS" && request.headers["access-control-request-method"]) {
      // Answered here: done() is not called after a reply is sent from a hook.
      void reply
        .code(204)
        .header("access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE")
        .header("access-control-allow-headers", "authorization, x-api-key, content-type, anthropic-version, anthropic-beta, x-request-id, x-stainless-os, x-stainless-lang, x-stainless-package-version, x-stainless-runtime, x-stainless-runtime-version, x-stainless-arch, x-stainless-retry-count, x-stainless-timeout")
        .header("access-control-max-age", "600")
        .send();
      return;
    }
    done();
  });
}
