import { ERROR_REGISTRY, type ErrorCode, type ErrorSpec } from "./registry.js";

/** One invalid field of a request, as listed in a validation problem. */
export interface FieldError {
  /** Dotted path of the field, e.g. `messages.0.role`. */
  field: string;
  message: string;
}

/**
 * The error type every layer throws. `detail` is shown to clients, so it must never
 * hold secrets or internal stack traces. Text written by a third party (a provider's own
 * error message, which may echo the prompt) is kept apart as `quoted`: the client sees it
 * at the end of `detail`, and records that must stay metadata-only (the audit log) take
 * {@link LlmuxError.metadataDetail}, which leaves it out.
 */
export class LlmuxError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  /** `detail` without the quoted third-party text: what metadata-only records may keep. */
  readonly metadataDetail: string;
  /** The request field at fault (OpenAI's `param`). */
  readonly param?: string;
  readonly fieldErrors?: FieldError[];
  /** Extra members added to the problem body (e.g. `timeout_seconds`). */
  readonly extra?: Record<string, unknown>;
  /** Extra response headers (e.g. `Retry-After`). */
  readonly headers?: Record<string, string>;
  /** Third-party text quoted at the end of `detail` (a provider's error message), if any. */
  readonly quoted?: string;

  constructor(
    code: ErrorCode,
    detail: string,
    options: {
      param?: string;
      fieldErrors?: FieldError[];
      extra?: Record<string, unknown>;
      headers?: Record<string, string>;
      cause?: unknown;
      /** Appended to `detail` as `: <quoted>` for the client; left out of {@link metadataDetail}. */
      quoted?: string;
    } = {},
  ) {
    const full = options.quoted ? `${detail}: ${options.quoted}` : detail;
    super(full, { cause: options.cause });
    this.name = "LlmuxError";
    this.code = code;
    this.detail = full;
    this.metadataDetail = detail;
    if (options.quoted) this.quoted = options.quoted;
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
