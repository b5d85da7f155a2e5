import type { FastifyInstance } from "fastify";
import { invalidField } from "../../errors/llmux-error.js";
import type { Router } from "../../routing/router.js";
import { parseRules } from "../../store/routing-rules-repo.js";

/**
 * Routing rules admin API: `GET/PUT /admin/routing/rules` (the whole ordered list, validated:
 * bad patterns, unsafe regexes and unknown providers are 400s naming the field) and
 * `GET /admin/routing/resolve?model=` (which target would serve a name, and why).
 * A change applies to the next request.
 */
export function registerAdminRoutingRoutes(app: FastifyInstance, deps: { router: Router }): void {
  const admin = { config: { auth: "admin" as const } };

  app.get("/admin/routing/rules", admin, async () => ({ rules: deps.router.getRules() }));

  app.put("/admin/routing/rules", admin, async (request) => {
    const rules = parseRules(request.body, deps.router.providers.configuredNames());
    await deps.router.setRules(rules);
    return { rules };
  });

  app.get<{ Querystring: { model?: string } }>("/admin/routing/resolve", admin, async (request) => {
    const model = request.query.model;
    if (typeof model !== "string" || model === "") throw invalidField("model", "give the model name to resolve: ?model=NAME");
    return deps.router.explain(model);
  });
}
