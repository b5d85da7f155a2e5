import type { FastifyReply, FastifyRequest } from "fastify";

export const SESSION_COOKIE = "llmux_session";
/** The header every cookie-authenticated state-changing request must carry (a cross-site form cannot set it). */
export const CSRF_HEADER = "x-llmux-csrf";

/** The session cookie's value, if the request has one. */
export function sessionCookieOf(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return value.length > 0 && value.length <= 4096 ? value : undefined;
    }
  }
  return undefined;
}

/** httpOnly (no script reads it), SameSite=Strict (no cross-site request carries it), Secure over https. */
function attributes(request: FastifyRequest, maxAgeS: number): string {
  return `Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${request.protocol === "https" ? "; Secure" : ""}`;
}

export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, token: string, expiresAt: number): void {
  const maxAge = Math.max(0, Math.floor((expiresAt - Date.now()) / 1000));
  reply.header("set-cookie", `${SESSION_COOKIE}=${token}; ${attributes(request, maxAge)}`);
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.header("set-cookie", `${SESSION_COOKIE}=; ${attributes(request, 0)}`);
}

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** True when a cookie-authenticated request lacks the CSRF header it needs. */
export const lacksCsrfHeader = (request: FastifyRequest): boolean =>
  STATE_CHANGING.has(request.method) && request.headers[CSRF_HEADER] !== "1";
