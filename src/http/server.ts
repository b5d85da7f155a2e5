import websocket from "@fastify/websocket";
import Fastify, { LogController, type FastifyInstance } from "fastify";
import type { AuditWriter } from "../audit/audit-writer.js";
import type { ModelRegistry } from "../engine/model-registry.js";
import { LlmuxError } from "../errors/llmux-error.js";
import type { LifecycleBus } from "../observability/lifecycle.js";
import type { Metrics } from "../observability/metrics.js";
import { installHttpTracing } from "../observability/tracing-http.js";
import type { DownloadManager } from "../hub/downloader.js";
import type { HubClient } from "../hub/hub-client.js";
import type { Router } from "../routing/router.js";
import type { TimeoutSettings } from "../settings/timeouts.js";
import type { AuditRepository } from "../store/audit-repo.js";
import { sendProblem, toLlmuxError } from "./problem.js";
import { requestIdFor } from "./request-id.js";
import { registerAdminAuditRoutes } from "./routes/admin-audit.js";
import { registerAdminTimeoutRoutes } from "./routes/admin-timeouts.js";
import { registerAnthropicRoutes } from "./routes/anthropic-messages.js";
import { registerHubRoutes } from "./routes/hub.js";
import { registerHealthRoutes } from "./routes/health.js";
import { registerMetricsRoutes } from "./routes/metrics.js";
import { registerOpenAIChatRoutes } from "./routes/openai-chat.js";
import { registerOpenAICompletionRoutes } from "./routes/openai-completions.js";
import { registerOpenAIEmbeddingRoutes, type EmbeddingBackend } from "./routes/openai-embeddings.js";
import { registerOpenAIModelRoutes } from "./routes/openai-models.js";
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
}

export interface HttpOptions {
  bodyLimit: number;
  logLevel: string;
  /** A log destination (tests capture it); defaults to stdout. */
  logStream?: NodeJS.WritableStream;
}

/**
 * Builds the HTTP app: request ids, problem+json errors on every route, and the
 * route modules. Routes know codecs and the router, never llama.cpp.
 */
export function buildHttpServer(deps: HttpDeps, options: HttpOptions): FastifyInstance {
  const app = Fastify({
    bodyLimit: options.bodyLimit,
    genReqId: requestIdFor,
    // Our own one-line access log below replaces Fastify's, which logs more than we want.
    logController: new LogController({ requestIdLogLabel: "request_id", disableRequestLogging: true }),
    return503OnClosing: true,
    logger: {
      level: options.logLevel,
      ...(options.logStream ? { stream: options.logStream } : {}),
      // Never log bodies or headers: they hold prompts and keys.
      serializers: { req: (req) => ({ method: req.method, url: req.url.split("?")[0] }) },
    },
  });

  // JSON only: a text/plain body must be refused (415), not handed to a route as a string.
  app.removeContentTypeParser("text/plain");

  // One server span per request (only when tracing is set up; see observability/tracing.ts).
  installHttpTracing(app);

  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });

  app.addHook("onResponse", async (request, reply) => {
    request.log.info({ method: request.method, url: request.url.split("?")[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, "request");
  });

  app.setErrorHandler((err, request, reply) => {
    const e = toLlmuxError(err);
    if (e.code === "internal") request.log.error({ err, request_id: request.id }, "unhandled error");
    request.inference?.fail(e);
    return sendProblem(request, reply, e);
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(request, reply, new LlmuxError("route_not_found", `no route for ${request.method} ${request.url.split("?")[0]}`)),
  );

  registerHealthRoutes(app, deps.version);
  registerOpenAIModelRoutes(app, deps);
  registerOpenAIChatRoutes(app, deps);
  registerAnthropicRoutes(app, deps);
  registerOpenAICompletionRoutes(app, deps);
  registerOpenAIEmbeddingRoutes(app, deps);
  registerAdminTimeoutRoutes(app, deps);
  registerMetricsRoutes(app, deps);
  if (deps.hub && deps.downloads) registerHubRoutes(app, { hub: deps.hub, downloads: deps.downloads });
  // The web UI at `/` (static files, SPA fallback for non-API paths).
  registerWebUiRoutes(app);
  // WebSocket routes must be declared after the plugin has loaded: hence the nested plugin.
  void app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  void app.register(async (scoped) => registerAdminAuditRoutes(scoped, deps));
  return app;
}
