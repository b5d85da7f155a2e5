import type { FastifyInstance } from "fastify";
import type { Metrics } from "../../observability/metrics.js";

/** `GET /metrics`: Prometheus text exposition format (0.0.4). */
export function registerMetricsRoutes(app: FastifyInstance, deps: { metrics: Metrics }): void {
  app.get("/metrics", { config: { auth: "admin", allowApiKey: true } }, async (_request, reply) => {
    const body = await deps.metrics.text();
    return reply.header("content-type", deps.metrics.contentType).send(body);
  });
}
