import { SpanKind, SpanStatusCode, ROOT_CONTEXT, propagation, type Span } from "@opentelemetry/api";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { tracingActive } from "./tracing.js";
import { tracer } from "./tracing-spans.js";

const serverSpans = new WeakMap<FastifyRequest, Span>();

/** The server span of a request, when tracing is on. */
export function serverSpanOf(request: FastifyRequest): Span | undefined {
  return serverSpans.get(request);
}

/**
 * One server span per HTTP request (HTTP semantic conventions), started on
 * arrival and ended when the response really ends: the last byte written or the
 * client gone, SSE included. An inference request's span is ended by its
 * InferenceTracker instead, which knows about in-band errors. No query strings,
 * headers or bodies are recorded.
 */
export function installHttpTracing(app: FastifyInstance): void {
  if (!tracingActive()) return;
  app.addHook("onRequest", (request, reply, done) => {
    const route = request.routeOptions.url;
    const span = tracer().startSpan(
      route ? `${request.method} ${route}` : request.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "http.request.method": request.method,
          "url.path": request.url.split("?")[0],
          "url.scheme": request.protocol,
          ...(route ? { "http.route": route } : {}),
          "server.address": request.hostname,
          ...(request.port ? { "server.port": request.port } : {}),
          "llmux.request_id": request.id,
        },
      },
      // Continues a caller's W3C trace context when it sends one.
      propagation.extract(ROOT_CONTEXT, request.headers),
    );
    serverSpans.set(request, span);
    reply.raw.once("close", () => {
      if (!request.inference) endServerSpan(request, reply.statusCode, reply.raw.writableFinished ? null : "cancelled");
    });
    done();
  });
}

/** Ends a request's server span once: ERROR for a 5xx status or an error reported in-band (`errorType`). */
export function endServerSpan(request: FastifyRequest, status: number, errorType: string | null, inBandError = false): void {
  const span = serverSpans.get(request);
  if (!span) return;
  serverSpans.delete(request);
  span.setAttribute("http.response.status_code", status);
  if (errorType) span.setAttribute("error.type", errorType);
  else if (status >= 500) span.setAttribute("error.type", String(status));
  if (status >= 500 || inBandError) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}
