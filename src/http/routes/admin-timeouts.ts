import type { FastifyInstance } from "fastify";
import { invalidField } from "../../errors/llmux-error.js";
import { TIMEOUT_BOUNDS, type TimeoutSettings } from "../../settings/timeouts.js";

/** `GET/PUT /admin/timeouts`: per-endpoint timeouts in seconds, applied to the next request. */
export function registerAdminTimeoutRoutes(app: FastifyInstance, deps: { timeouts: TimeoutSettings }): void {
  app.get("/admin/timeouts", { config: { auth: "admin" } }, async () => ({ timeouts: deps.timeouts.all(), bounds: TIMEOUT_BOUNDS }));

  app.put("/admin/timeouts", { config: { auth: "admin" } }, async (request) => {
    const body = request.body as { timeouts?: unknown } | null;
    const patch = body && typeof body === "object" && !Array.isArray(body) ? body.timeouts : undefined;
    if (!patch || typeof patch !== "object" || Array.isArray(patch)) throw invalidField("timeouts", "expected an object of endpoint → seconds");
    return { timeouts: await deps.timeouts.update(patch as Record<string, unknown>), bounds: TIMEOUT_BOUNDS };
  });
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Who may call the route; enforced once users and sessions exist. */
    auth?: "admin" | "user" | "inference" | "public";
  }
}
