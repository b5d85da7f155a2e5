import { LlmuxError } from "./llmux-error.js";

/** Which SDK envelope to add to the RFC 7807 body. */
export type ErrorSurface = "plain" | "openai" | "anthropic";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** A stable URI for each problem type (RFC 7807 `type`). */
export const problemTypeUri = (code: string): string => `urn:llmux:problem:${code}`;

/**
 * Renders an error as an RFC 7807 problem body. On `/v1` the same body also carries
 * the envelope the official SDKs parse, so `openai` and `@anthropic-ai/sdk` raise the
 * right error class with a readable message.
 */
export function renderProblem(
  err: LlmuxError,
  ctx: { requestId: string; instance: string; surface: ErrorSurface },
): Record<string, unknown> {
  const spec = err.spec;
  const body: Record<string, unknown> = {
    type: problemTypeUri(err.code),
    title: spec.title,
    status: spec.status,
    detail: err.detail,
    instance: ctx.instance,
    request_id: ctx.requestId,
    code: err.code,
    ...(err.fieldErrors ? { errors: err.fieldErrors } : {}),
    ...(err.extra ?? {}),
  };
  if (ctx.surface === "openai") {
    body.error = { message: err.detail, type: spec.openaiType, param: err.param ?? null, code: err.code };
  } else if (ctx.surface === "anthropic") {
    // Anthropic's envelope needs `type: "error"`; the problem type URI moves to `problem_type`.
    body.problem_type = body.type;
    body.type = "error";
    body.error = { type: spec.anthropicType, message: err.detail };
  }
  return body;
}
