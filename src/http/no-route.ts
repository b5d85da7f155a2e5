import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from "fastify";
import { LlmuxError } from "../errors/llmux-error.js";
import { sendProblem } from "./problem.js";

/** The methods llmux's routes use, in the order an `Allow` header lists them. */
const ROUTE_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/** Whether `method path` has a route of its own (a wildcard match, the web UI's fallback, does not count). */
function routedWithoutWildcard(app: FastifyInstance, method: string, path: string): boolean {
  const found = app.findRoute({ method: method as HTTPMethods, url: path });
  return found !== null && !Object.hasOwn(found.params ?? {}, "*");
}

/**
 * Answers a request no route takes: a 405 naming the methods in `Allow` when the path has
 * routes under other methods, else a 404. The web UI's catch-all `GET /*` does not count as a
 * route of the path (it would make every unknown path "exist"), and it sends API paths here too.
 */
export function sendNoRoute(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split("?")[0]!;
  const allowed = ROUTE_METHODS.filter((m) => m !== request.method && routedWithoutWildcard(app, m, path));
  if (allowed.length > 0) {
    reply.header("allow", allowed.join(", "));
    return sendProblem(request, reply, new LlmuxError("method_not_allowed", `${request.method} is not allowed on ${path}; use ${allowed.join(" or ")}`));
  }
  return sendProblem(request, reply, new LlmuxError("route_not_found", `no route for ${request.method} ${path}`));
}
