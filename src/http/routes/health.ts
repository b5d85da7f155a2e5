import type { FastifyInstance } from "fastify";

/** `GET /health`: liveness only; it touches no model and no database. */
export function registerHealthRoutes(app: FastifyInstance, version: string): void {
  app.get("/health", { config: { auth: "public" } }, async () => ({ status: "ok", version }));
}
