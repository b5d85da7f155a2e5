import type { z } from "zod";
import { LlmuxError, type FieldError } from "../errors/llmux-error.js";

/**
 * The longest model name a request may carry. Names reach audit rows, spans and error
 * messages, so an unbounded one would let any client write megabytes into the audit log
 * with one refused request (and, through its size limit, push real rows out of it).
 */
export const MODEL_NAME_MAX = 256;

/**
 * Parses a body with a zod schema; on failure throws one `validation_failed`
 * error listing every bad field. Unknown keys become `unsupported_parameter`
 * when the codec names them as known-but-unsupported, so nothing a client sends
 * is silently dropped; such a key set to `null` asks for nothing and is let through.
 * With `nullIsAbsent`, any top-level key set to `null` counts as absent: the OpenAI API
 * takes `null` for every optional parameter, and clients send it for "not set".
 */
export function parseBody<S extends z.ZodType>(
  schema: S,
  body: unknown,
  unsupported: Record<string, string> = {},
  options: { nullIsAbsent?: boolean } = {},
): z.infer<S> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new LlmuxError("validation_failed", "the request body must be a JSON object", {
      fieldErrors: [{ field: "(body)", message: "expected a JSON object" }],
    });
  }
  const given = body as Record<string, unknown>;
  const dropped = Object.keys(given).filter((k) => given[k] === null && (options.nullIsAbsent || k in unsupported));
  if (dropped.length > 0) {
    body = { ...given };
    for (const k of dropped) delete (body as Record<string, unknown>)[k];
  }
  // Nulls of unsupported keys were dropped above: what is left asks for something.
  const named = Object.keys(body as object).filter((k) => k in unsupported);
  if (named.length > 0) {
    const k = named[0];
    throw new LlmuxError("unsupported_parameter", `'${k}' is not supported: ${unsupported[k]}`, {
      param: k,
      fieldErrors: named.map((f) => ({ field: f, message: unsupported[f] })),
    });
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const fieldErrors: FieldError[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) fieldErrors.push({ field: path ? `${path}.${key}` : key, message: "unknown parameter" });
    } else {
      fieldErrors.push({ field: path || "(body)", message: issue.message });
    }
  }
  const first = fieldErrors[0];
  throw new LlmuxError("validation_failed", `invalid '${first.field}': ${first.message}`, {
    param: first.field,
    fieldErrors,
  });
}
