import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { LlmuxError, isLlmuxError } from "../errors/llmux-error.js";
import { PROBLEM_CONTENT_TYPE, renderProblem, type ErrorSurface } from "../errors/render.js";

/** Whether the Anthropic SDK sent the request: it sends `anthropic-version` on every call (to `/v1/models` too); OpenAI's never does. */
export const fromAnthropicClient = (headers: Record<string, unknown>): boolean => typeof headers["anthropic-version"] === "string";

/**
 * Which SDK envelope a request's errors carry: Anthropic's on its Messages paths and wherever
 * the Anthropic SDK calls, OpenAI's elsewhere on `/v1`.
 */
export function surfaceFor(url: string, headers: Record<string, unknown> = {}): ErrorSurface {
  if (url.startsWith("/v1/messages")) return "anthropic";
  if (url.startsWith("/v1/") || url === "/v1") return fromAnthropicClient(headers) ? "anthropic" : "openai";
  return "plain";
}

/** Maps anything thrown in a route (ours, Fastify's, or a bug) to a coded error. */
export function toLlmuxError(err: unknown): LlmuxError {
  if (isLlmuxError(err)) return err;
  const fe = err as Partial<FastifyError> & { status?: number };
  switch (fe.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new LlmuxError("payload_too_large", "the request body is larger than this server accepts");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new LlmuxError("unsupported_media_type", "send the body as application/json");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new LlmuxError("invalid_json", "the body is empty; send a JSON object");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new LlmuxError("validation_failed", "the Content-Length header does not match the body");
  }
  if (err instanceof SyntaxError || fe.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
    return new LlmuxError("invalid_json", "the body is not valid JSON");
  }
  if (fe.statusCode === 413) return new LlmuxError("payload_too_large", "the request body is too large");
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new LlmuxError("validation_failed", "the request is invalid");
  }
  return new LlmuxError("internal", "an internal error occurred; the request id identifies it in the server log", { cause: err });
}

/**
 * The problem for a URL Fastify's router refuses before any route or hook runs: a path that is
 * not valid percent-encoding, or a parameter longer than the router takes (100 characters).
 */
export function frameworkProblem(err: { code?: string }): LlmuxError {
  if (err.code === "FST_ERR_MAX_PARAM_LENGTH") return new LlmuxError("uri_too_long", "a segment of the URL path is longer than 100 characters");
  if (err.code === "FST_ERR_BAD_URL") return new LlmuxError("validation_failed", "the URL path is not valid percent-encoding");
  return toLlmuxError(err);
}

/** Sends an error as `application/problem+json` (with the SDK envelope on `/v1`). */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, err: LlmuxError): FastifyReply {
  const body = renderProblem(err, { requestId: request.id, instance: request.url.split("?")[0], surface: surfaceFor(request.url, request.headers) });
  if (err.headers) reply.headers(err.headers);
  return reply.code(err.status).type(PROBLEM_CONTENT_TYPE).send(body);
}
