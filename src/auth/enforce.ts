import type { FastifyInstance, FastifyRequest } from "fastify";
import { LlmuxError } from "../errors/llmux-error.js";
import { sendProblem } from "../http/problem.js";
import { API_KEY_PREFIX } from "../store/api-keys-repo.js";
import { assertActive, type AuthService, type Principal } from "./auth-service.js";
import { lacksCsrfHeader, sessionCookieOf } from "./cookie.js";

/**
 * Who may call a route (CONTRACTS.md): `public` anyone; `inference` the `/v1` API (open on
 * loopback unless keys are required, an API key or a session otherwise); `user` any approved
 * signed-in user; `admin` an approved admin.
 */
export type AuthPolicy = "public" | "inference" | "user" | "admin";
export const AUTH_POLICIES: readonly AuthPolicy[] = ["public", "inference", "user", "admin"];

/** One route of the route table with its policy, as the enforcement hook (and the matrix test) sees it. */
export interface RoutePolicy {
  method: string;
  url: string;
  auth: AuthPolicy;
  /** `admin` routes that also accept an admin's API key (scrapers of `/metrics`). */
  allowApiKey: boolean;
  websocket: boolean;
}

export interface EnforceOptions {
  /** `/v1` needs an API key (or a session); otherwise it is open to anyone who can reach the port. */
  requireApiKey: boolean;
}

/** The presented API key: OpenAI's `Authorization: Bearer …` or Anthropic's `x-api-key`. */
function apiKeyOf(request: FastifyRequest): string | undefined {
  const xKey = request.headers["x-api-key"];
  const auth = request.headers.authorization;
  const bearer = typeof auth === "string" && /^Bearer\s+/i.test(auth) ? auth.replace(/^Bearer\s+/i, "").trim() : undefined;
  const candidates = [bearer, typeof xKey === "string" ? xKey.trim() : undefined].filter((k): k is string => !!k);
  // Clients often send a placeholder in one header; an llmux-looking key wins.
  return candidates.find((k) => k.startsWith(API_KEY_PREFIX)) ?? candidates[0];
}

/**
 * Access control for the whole server, from the route table, in one place:
 * - `onRoute` records every route's `config.auth` and refuses a route without one, so a
 *   server with an unprotected route does not start;
 * - `onRequest` authenticates (session cookie or API key) and enforces the policy, CSRF included;
 * - `preHandler` applies an API key's model list and requests-per-minute limit (they need the body).
 * Call it before any route is registered.
 */
export function installAuth(app: FastifyInstance, auth: AuthService, options: EnforceOptions): RoutePolicy[] {
  const table: RoutePolicy[] = [];
  app.decorate("routePolicies", table);
  app.decorateRequest("principal", undefined);

  app.addHook("onRoute", (route) => {
    const config = (route.config ?? {}) as { auth?: unknown; allowApiKey?: unknown };
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!AUTH_POLICIES.includes(config.auth as AuthPolicy)) {
      throw new Error(
        `route ${methods.join(",")} ${route.url} declares no access policy: add config: { auth: "public" | "inference" | "user" | "admin" }`,
      );
    }
    for (const method of methods) {
      // Fastify adds a HEAD twin to every GET; the GET's line covers it.
      if (method === "HEAD" && table.some((r) => r.url === route.url && r.method === "GET")) continue;
      table.push({ method, url: route.url, auth: config.auth as AuthPolicy, allowApiKey: config.allowApiKey === true, websocket: (route as { websocket?: boolean }).websocket === true });
    }
  });

  // Callback-style hooks (no promise per request): most requests are open-mode inference
  // with no credentials, which are answered without a turn of the microtask queue.
  app.addHook("onRequest", (request, reply, done) => {
    if (request.is404) return done(); // not found is answered the same to everyone
    const config = request.routeOptions.config as { auth?: AuthPolicy; allowApiKey?: boolean };
    const policy = config.auth;
    if (policy === "public") return done();
    const key = apiKeyOf(request);
    if (policy === "inference" && !options.requireApiKey && !inferenceKeyToCheck(key, options) && sessionCookieOf(request) === undefined) {
      return done(); // open mode, nothing presented that could be checked: what authenticate() would conclude
    }
    authenticate(request, key, auth, policy, options, config.allowApiKey === true).then(
      (principal) => {
        request.principal = principal;
        done();
      },
      (err: unknown) => {
        // Answered here: done() is not called after a reply is sent from a hook.
        if (err instanceof LlmuxError) void sendProblem(request, reply, err);
        else done(err as Error);
      },
    );
  });

  // A refused WebSocket upgrade is answered over HTTP before @fastify/websocket's own hooks see the
  // request, so nobody else closes its socket: without this, each refusal would leak an open socket.
  app.addHook("onResponse", (request, _reply, done) => {
    if (request.headers.upgrade !== undefined && !request.raw.socket?.destroyed) request.raw.socket?.destroy();
    done();
  });

  app.addHook("preHandler", (request, _reply, done) => {
    const key = request.principal?.apiKey;
    if (!key) return done();
    try {
      if (key.allowed_models !== null) {
        const model = requestedModel(request);
        if (model !== undefined && !key.allowed_models.includes(model)) {
          throw new LlmuxError("forbidden", `this API key may not use model '${model.slice(0, 64)}'`, { param: "model" });
        }
      }
      auth.takeRpm(key);
    } catch (err) {
      return done(err as Error);
    }
    done();
  });
  return table;
}

function requestedModel(request: FastifyRequest): string | undefined {
  const body = request.body as { model?: unknown } | undefined;
  if (body && typeof body === "object" && typeof body.model === "string") return body.model;
  const params = request.params as { id?: unknown } | undefined;
  if (request.routeOptions.url?.startsWith("/v1/models/") && typeof params?.id === "string") return params.id;
  return undefined;
}

/** On an inference route, whether the presented key must be checked: always when keys are required; in open mode only one that looks like ours (SDKs insist on sending a placeholder). */
const inferenceKeyToCheck = (key: string | undefined, options: EnforceOptions): key is string =>
  key !== undefined && (options.requireApiKey || key.startsWith(API_KEY_PREFIX));

async function authenticate(
  request: FastifyRequest,
  key: string | undefined,
  auth: AuthService,
  policy: AuthPolicy | undefined,
  options: EnforceOptions,
  allowApiKey: boolean,
): Promise<Principal | undefined> {
  // Unreachable while onRoute refuses routes without a policy; deny rather than guess.
  if (policy === undefined) throw new LlmuxError("forbidden", "this route has no access policy");
  if (policy === "inference") {
    if (inferenceKeyToCheck(key, options)) return active(await auth.fromApiKey(key));
    const session = await fromCookie(request, auth);
    if (session) return csrfChecked(request, active(session));
    if (options.requireApiKey) {
      throw new LlmuxError("unauthorized", "an API key is required: send 'Authorization: Bearer llmux-sk-…' or 'x-api-key: llmux-sk-…'");
    }
    return undefined;
  }
  let principal: Principal | undefined;
  if (allowApiKey && key !== undefined && key.startsWith(API_KEY_PREFIX)) principal = await auth.fromApiKey(key);
  else {
    const session = await fromCookie(request, auth);
    principal = session && csrfChecked(request, session);
  }
  if (!principal) throw new LlmuxError("unauthorized", "sign in first (POST /api/auth/login)");
  active(principal);
  if (policy === "admin" && principal.user.role !== "admin") throw new LlmuxError("forbidden", "this needs an admin");
  return principal;
}

const active = (p: Principal): Principal => {
  assertActive(p.user);
  return p;
};

async function fromCookie(request: FastifyRequest, auth: AuthService): Promise<Principal | undefined> {
  const token = sessionCookieOf(request);
  if (token === undefined) return undefined;
  // A WebSocket handshake has no CORS preflight, and SameSite=Strict still sends the cookie from
  // another port of the same host (same site): only pages of this origin may open one with the cookie.
  const origin = request.headers.origin;
  if (request.headers.upgrade !== undefined && typeof origin === "string" && hostOf(origin) !== request.headers.host) {
    throw new LlmuxError("forbidden", "a WebSocket signed in by cookie must come from this server's own pages");
  }
  return auth.fromSessionToken(token);
}

const hostOf = (origin: string): string | undefined => {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
};

function csrfChecked(request: FastifyRequest, p: Principal): Principal {
  if (lacksCsrfHeader(request)) {
    throw new LlmuxError("csrf_required", "requests signed in by cookie that change state must send the header 'x-llmux-csrf: 1'");
  }
  return p;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Who may call the route (see AuthPolicy); a route without one stops the server from starting. */
    auth?: AuthPolicy;
    /** For `admin` routes read by machines (`/metrics`): an admin's API key is accepted too. */
    allowApiKey?: boolean;
  }
  interface FastifyInstance {
    /** Every route with its access policy, in registration order. */
    routePolicies: RoutePolicy[];
  }
  interface FastifyRequest {
    /** The authenticated user (and key or session); undefined for public routes and open inference. */
    principal?: Principal;
  }
}
