import { ERROR_REGISTRY, type ErrorCode, type ErrorSpec } from "./registry.js";

/** One invalid field of a request, as listed in a validation problem. */
export interface FieldError {
  /** Dotted path of the field, e.g. `messages.0.role`. */
  field: string;
  message: string;
}

/**
 * The error type every layer throws. `detail` is shown to clients, so it must never
 * hold prompt text, secrets or internal stack traces.
 */
export class LlmuxError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  /** The request field at fault (OpenAI's `param`). */
  readonly param?: string;
  readonly fieldErrors?: FieldError[];
  /** Extra members added to the problem body (e.g. `timeout_seconds`). */
  readonly extra?: Record<string, unknown>;
  /** Extra response headers (e.g. `Retry-After`). */
  readonly headers?: Record<string, string>;

  constructor(
    code: ErrorCode,
    detail: string,
    options: {
      param?: string;
      fieldErrors?: FieldError[];
      extra?: Record<string, unknown>;
      headers?: Record<string, string>;
      cause?: unknown;
    } = {},
  ) {
    super(detail, { cause: options.cause });
    this.name = "LlmuxError";
    this.code = code;
    this.detail = detail;
    this.param = options.param;
    this.fieldErrors = options.fieldErrors;
    this.extra = options.extra;
    this.headers = options.headers;
  }

  get spec(): ErrorSpec {
    return ERROR_REGISTRY[this.code];
  }

  get status(): number {
    return this.spec.status;
  }
}

export const isLlmuxError = (err: unknown): err is LlmuxError => err instanceof LlmuxError;

/** A `validation_failed` error about one field, listed as the validation problems list fields. */
export const invalidField = (field: string, message: string): LlmuxError =>
  new LlmuxError("validation_failed", `invalid '${field}': ${message}`, { param: field, fieldErrors: [{ field, message }] });
