import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AuthService } from "../../auth/auth-service.js";
import { clearSessionCookie, lacksCsrfHeader, sessionCookieOf, setSessionCookie } from "../../auth/cookie.js";
import { parseBody } from "../../codecs/validation.js";
import { LlmuxError } from "../../errors/llmux-error.js";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../../security/passwords.js";
import { toUserView } from "../../store/users-repo.js";

/** Deliberately loose (one @, no spaces or control characters, a dot in the domain): the address is a login name, not mailed to. */
export const EMAIL_RE = /^[^\s@\p{Cc}]{1,64}@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;
export const emailSchema = z.string().max(254).regex(EMAIL_RE, "must be an email address");
export const passwordSchema = z.string().min(MIN_PASSWORD_LENGTH).max(MAX_PASSWORD_LENGTH);

const registerBody = z.strictObject({ email: emailSchema, password: passwordSchema });
const loginBody = z.strictObject({ email: z.string().max(254), password: z.string().max(MAX_PASSWORD_LENGTH) });

/** Register, sign in, sign out and who-am-I (`/api/auth/*`). */
export function registerAuthRoutes(app: FastifyInstance, deps: { auth: AuthService }): void {
  const pub = { config: { auth: "public" as const } };

  app.post("/api/auth/register", pub, async (request, reply) => {
    const body = parseBody(registerBody, request.body);
    deps.auth.takeRegistration(request.ip);
    const user = await deps.auth.register(body.email, body.password);
    // Only the first user (the admin) is signed in at once; the others wait for approval.
    const signedIn = user.status === "approved";
    if (signedIn) {
      const s = await deps.auth.startSession(user);
      setSessionCookie(request, reply, s.token, s.expiresAt);
    }
    return reply.code(201).send({ user: toUserView(user), signed_in: signedIn });
  });

  app.post("/api/auth/login", pub, async (request, reply) => {
    const body = parseBody(loginBody, request.body);
    const user = await deps.auth.login(body.email, body.password, request.ip);
    const s = await deps.auth.startSession(user);
    setSessionCookie(request, reply, s.token, s.expiresAt);
    return { user: toUserView(user) };
  });

  app.post("/api/auth/logout", pub, async (request, reply) => {
    const token = sessionCookieOf(request);
    const session = token === undefined ? undefined : await deps.auth.fromSessionToken(token);
    if (session?.sessionId) {
      if (lacksCsrfHeader(request)) throw new LlmuxError("csrf_required", "send the header 'x-llmux-csrf: 1' to sign out");
      await deps.auth.sessions.revoke(session.sessionId);
    }
    clearSessionCookie(request, reply);
    return reply.code(204).send();
  });

  app.get("/api/auth/me", pub, async (request) => {
    const token = sessionCookieOf(request);
    const session = token === undefined ? undefined : await deps.auth.fromSessionToken(token);
    if (!session) throw new LlmuxError("unauthorized", "not signed in");
    return { user: toUserView(session.user) };
  });
}
