/**
 * The one registry of coded errors. Each code fixes the HTTP status, whether a
 * retry on another backend may help, and the error types the OpenAI and Anthropic
 * SDKs expect; every surface renders from here (see `render.ts`).
 */
export interface ErrorSpec {
  status: number;
  title: string;
  retryable: boolean;
  openaiType: string;
  anthropicType: string;
}

const spec = (status: number, title: string, openaiType: string, anthropicType: string, retryable = false): ErrorSpec => ({
  status,
  title,
  retryable,
  openaiType,
  anthropicType,
});

export const ERROR_REGISTRY = {
  invalid_json: spec(400, "Malformed JSON body", "invalid_request_error", "invalid_request_error"),
  validation_failed: spec(400, "Invalid request", "invalid_request_error", "invalid_request_error"),
  unsupported_parameter: spec(400, "Unsupported parameter", "invalid_request_error", "invalid_request_error"),
  context_length_exceeded: spec(400, "Prompt too long for the context", "invalid_request_error", "invalid_request_error"),
  unauthorized: spec(401, "Authentication required", "authentication_error", "authentication_error"),
  forbidden: spec(403, "Forbidden", "permission_error", "permission_error"),
  invalid_credentials: spec(401, "Wrong email or password", "authentication_error", "authentication_error"),
  account_pending: spec(403, "Account awaiting approval", "permission_error", "permission_error"),
  account_disabled: spec(403, "Account disabled", "permission_error", "permission_error"),
  csrf_required: spec(403, "CSRF header required", "permission_error", "permission_error"),
  user_not_found: spec(404, "User not found", "invalid_request_error", "not_found_error"),
  key_not_found: spec(404, "API key not found", "invalid_request_error", "not_found_error"),
  email_taken: spec(409, "Email already registered", "invalid_request_error", "invalid_request_error"),
  last_admin: spec(409, "The last admin cannot be removed", "invalid_request_error", "invalid_request_error"),
  model_not_found: spec(404, "Model not found", "invalid_request_error", "not_found_error"),
  download_not_found: spec(404, "Download not found", "invalid_request_error", "not_found_error"),
  route_not_found: spec(404, "Not found", "invalid_request_error", "not_found_error"),
  method_not_allowed: spec(405, "Method not allowed", "invalid_request_error", "invalid_request_error"),
  model_busy: spec(409, "Model is serving requests", "invalid_request_error", "invalid_request_error"),
  payload_too_large: spec(413, "Request body too large", "invalid_request_error", "request_too_large"),
  request_timeout: spec(408, "Request not received in time", "invalid_request_error", "invalid_request_error"),
  uri_too_long: spec(414, "URI too long", "invalid_request_error", "invalid_request_error"),
  headers_too_large: spec(431, "Request headers too large", "invalid_request_error", "invalid_request_error"),
  bad_http: spec(400, "Malformed HTTP request", "invalid_request_error", "invalid_request_error"),
  unsupported_media_type: spec(415, "Unsupported media type", "invalid_request_error", "invalid_request_error"),
  rate_limited: spec(429, "Too many requests", "rate_limit_error", "rate_limit_error", true),
  internal: spec(500, "Internal server error", "server_error", "api_error"),
  model_load_failed: spec(500, "Model failed to load", "server_error", "api_error"),
  model_crashed: spec(502, "Model runner crashed", "server_error", "api_error", true),
  // Not retried: whoever unloaded it wanted its requests ended, not the model loaded again for them.
  model_unloaded: spec(503, "Model was unloaded", "server_error", "overloaded_error"),
  upstream_error: spec(502, "Upstream provider error", "server_error", "api_error", true),
  engine_unavailable: spec(503, "Engine unavailable", "server_error", "overloaded_error", true),
  pool_exhausted: spec(503, "Model pool exhausted", "server_error", "overloaded_error", true),
  shutting_down: spec(503, "Server is shutting down", "server_error", "overloaded_error", true),
  timeout: spec(504, "Request timed out", "timeout_error", "api_error"),
} satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_REGISTRY;
