import websocket from "@fastify/websocket";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { pino } from "pino";
import type { AuditWriter } from "../audit/audit-writer.js";
import type { AuthService } from "../auth/auth-service.js";
import { installAuth } from "../auth/enforce.js";
import type { ModelRegistry } from "../engine/model-registry.js";
import type { LifecycleBus } from "../observability/lifecycle.js";
import type { Metrics } from "../observability/metrics.js";
import { installHttpTracing } from "../observability/tracing-http.js";
import type { DownloadManager } from "../hub/downloader.js";
import type { HubClient } from "../hub/hub-client.js";
import type { HubTokenStore } from "../hub/hub-token.js";
import type { ModelPool } from "../engine/model-pool.js";
import type { ModelSettingsRepository } from "../store/model-settings-repo.js";
import type { Router } from "../routing/router.js";
import type { TimeoutSettings } from "../settings/timeouts.js";
import type { AuditRepository } from "../store/audit-repo.js";
import type { UsageRepository } from "../store/usage-repo.js";
import type { ProvidersRepository } from "../store/providers-repo.js";
import "./gateway.js"; // declares request.rawBody
import { answerClientError } from "./client-error.js";
import { sendNoRoute } from "./no-route.js";
import { frameworkProblem, sendProblem, toLlmuxError } from "./problem.js";
import { requestIdFor } from "./request-id.js";
import { accessLogWriter } from "./access-log.js";
import { lazyChildLogger } from "./lazy-logger.js";
import { LogDestination } from "./log-destination.js";
import { installStrictJson } from "./json-body.js";
import { installSecurityHeaders, securityHeaders } from "./security-headers.js";
import { registerAdminAuditRoutes } from "./routes/admin-audit.js";
import { registerAdminUserRoutes } from "./routes/admin-users.js";
import { registerApiKeyRoutes } from "./routes/api-keys.js";
import { registerAuthRoutes } from "./routes/auth.js";
import { registerAdminProviderRoutes } from "./routes/admin-providers.js";
import { registerAdminRoutingRoutes } from "./routes/admin-routing.js";
import { registerAdminTimeoutRoutes } from "./routes/admin-timeouts.js";
import { registerAnthropicRoutes } from "./routes/anthropic-messages.js";
import { registerHubRoutes, registerHubTokenRoutes } from "./routes/hub.js";
import { registerAdminPoolRoutes } from "./routes/admin-pool.js";
import { registerLocalModelRoutes } from "./routes/local-models.js";
import { registerHealthRoutes } from "./routes/health.js";
import { registerMetricsRoutes } from "./routes/metrics.js";
import { registerOpenAIChatRoutes } from "./routes/openai-chat.js";
import { registerOpenAICompletionRoutes } from "./routes/openai-completions.js";
import { registerOpenAIEmbeddingRoutes, type EmbeddingBackend } from "./routes/openai-embeddings.js";
import { registerModelRoutes } from "./routes/models.js";
import { registerWebUiRoutes } from "./routes/web-ui.js";

export interface HttpDeps {
  registry: ModelRegistry;
  router: Router;
  /** Serves `/v1/embeddings` (absent: that route answers 503). */
  embeddings?: EmbeddingBackend;
  version: string;
  /** Request lifecycle events: audit and observability subscribe to them. */
  bus: LifecycleBus;
  timeouts: TimeoutSettings;
  auditRepo: AuditRepository;
  auditWriter: AuditWriter;
  /** Serves `GET /metrics` (Prometheus). */
  metrics: Metrics;
  /** Hub search and downloads (`/api/hub/*`, `/api/downloads`); absent: those routes are not served. */
  hub?: HubClient;
  downloads?: DownloadManager;
  /** Users, sessions and API keys. */
  auth: AuthService;
  usage: UsageRepository;
  /** Cloud providers (`/admin/providers`); absent: those routes are not served. */
  providersRepo?: ProvidersRepository;
  /** The model pool's admin API and `/api/models`; absent: those routes are not served. */
  pool?: ModelPool;
  modelSettings?: ModelSettingsRepository;
  /** The stored Hugging Face token (`/admin/hub/token`). */
  hubToken?: HubTokenStore;
}

export interface HttpOptions {
  bodyLimit: number;
  logLevel: string;
  /** A log destination (tests capture it); defaults to stdout. */
  logStream?: NodeJS.WritableStream;
  /** `/v1` needs an API key (or a session). */
  requireApiKey: boolean;
  /** Origins allowed by CORS (empty: closed). */
  corsOrigins: readonly string[];
}

/**
 * Builds the HTTP app: request ids, problem+json errors on every route, and the
 * route modules. Routes know codecs and the router, never llama.cpp.
 */
export function buildHttpServer(deps: HttpDeps, options: HttpOptions): FastifyInstance {
  // One destination for every log line: stdout (synchronous, as Fastify's own default) or the caller's stream.
  // Access-log lines are written together at the end of each event-loop turn (see log-destination.ts).
  const destination = new LogDestination(options.logStream ?? pino.destination({ dest: 1, sync: true }));
  const logger = pino(
    {
      level: options.logLevel,
      // Never log bodies or headers: they hold prompts and keys.
      serializers: { req: (req: { method: string; url: string }) => ({ method: req.method, url: req.url.split("?")[0] }) },
      // Defence in depth: should a secret ever reach a log call, it is censored.
      redact: { paths: ["password", "secret", "token", "apiKey", "api_key", "*.password", "*.secret", "*.token", "*.apiKey", "*.api_key", "headers.authorization", "headers.cookie", 'headers["x-api-key"]'], censor: "[redacted]" },
    },
    destination,
  );
  // The access log: one line per request, to the same destination (see access-log.ts).
  const accessLog = accessLogWriter(logger, { write: destination.writeSoon });
  const app = Fastify({
    bodyLimit: options.bodyLimit,
    genReqId: requestIdFor,
    // Our own one-line access log below replaces Fastify's, which logs more than we want.
    logController: new LogController({ requestIdLogLabel: "request_id", disableRequestLogging: true }),
    return503OnClosing: true,
    // Strict JSON: a body with __proto__ or constructor.prototype keys is refused (400), never merged.
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    loggerInstance: logger as FastifyBaseLogger,
    // A request's child logger is made when something logs through it: most requests never
    // do (the access log below writes its own line), and making one each time cost ~1% of CPU.
    childLoggerFactory: lazyChildLogger,
    // A request Node's parser refuses (oversized headers, bad framing) gets a problem body too.
    clientErrorHandler: answerClientError,
    // A URL the router cannot take apart never reaches the hooks: answered as a problem like
    // any other refusal, with the request id and the security headers the hooks would have set.
    frameworkErrors: (err, request, reply) => {
      reply.header("x-request-id", request.id);
      reply.headers(securityHeaders());
      return sendProblem(request, reply, frameworkProblem(err));
    },
  });

  // JSON only: a text/plain body must be refused (415), not handed to a route as a string.
  app.removeContentTypeParser("text/plain");
  installStrictJson(app);

  // One server span per request (only when tracing is set up; see observability/tracing.ts).
  installHttpTracing(app);

  // Callback-style hooks (here and the access log): no promise per request on the hot path.
  app.addHook("onRequest", (request, reply, done) => {
    reply.header("x-request-id", request.id);
    done();
  });
  installSecurityHeaders(app, options.corsOrigins);
  // Before any route: it records each route's policy and refuses routes without one.
  installAuth(app, deps.auth, { requireApiKey: options.requireApiKey });

  app.addHook("onClose", (_app, done) => {
    destination.close();
    done();
  });
  app.addHook("onResponse", (request, reply, done) => {
    accessLog({ requestId: request.id, method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime });
    done();
  });

  app.setErrorHandler((err, request, reply) => {
    const e = toLlmuxError(err);
    // A client that went away aborts its upstream call with "client disconnected": not a fault of ours.
    if (e.code === "internal" && !reply.raw.destroyed) request.log.error({ err, request_id: request.id }, "unhandled error");
    request.inference?.fail(e);
    return sendProblem(request, reply, e);
  });

  app.setNotFoundHandler((request, reply) => sendNoRoute(app, request, reply));

  registerHealthRoutes(app, deps.version);
  registerModelRoutes(app, deps);
  registerOpenAIChatRoutes(app, deps);
  registerAnthropicRoutes(app, deps);
  registerOpenAICompletionRoutes(app, deps);
  registerOpenAIEmbeddingRoutes(app, deps);
  registerAdminTimeoutRoutes(app, deps);
  registerMetricsRoutes(app, deps);
  registerAuthRoutes(app, deps);
  registerAdminUserRoutes(app, deps);
  registerApiKeyRoutes(app, deps);
  registerAdminRoutingRoutes(app, deps);
  if (deps.providersRepo) registerAdminProviderRoutes(app, { providersRepo: deps.providersRepo, providers: deps.router.providers });
  if (deps.hub && deps.downloads) registerHubRoutes(app, { hub: deps.hub, downloads: deps.downloads, auth: deps.auth });
  if (deps.hubToken) registerHubTokenRoutes(app, { hubToken: deps.hubToken });
  if (deps.pool && deps.modelSettings) {
    registerAdminPoolRoutes(app, { pool: deps.pool, registry: deps.registry, modelSettings: deps.modelSettings });
    registerLocalModelRoutes(app, { pool: deps.pool, registry: deps.registry });
  }
  // The web UI at `/` (static files, SPA fallback for non-API paths).
  registerWebUiRoutes(app);
  // WebSocket routes must be declared after the plugin has loaded: hence the nested plugin. The
  // plugin lives in that scope only: at the root, its two hooks would run on every request.
  void app.register(async (scoped) => {
    await scoped.register(websocket, {
      options: { maxPayload: 64 * 1024 },
      // A frame a client should not have sent (too large, malformed) closes its socket in `ws`:
      // one warning line without a stack, not an error-level trace a client could repeat at will.
      errorHandler: (err, _socket, request) => {
        const code = (err as { code?: unknown }).code;
        if (typeof code === "string" && code.startsWith("WS_ERR_")) request.log.warn({ code, request_id: request.id }, "websocket client sent a frame it may not; closed");
        else request.log.error({ err, request_id: request.id }, "websocket handler failed");
      },
    });
    registerAdminAuditRoutes(scoped, deps);
  });
  return app;
}
