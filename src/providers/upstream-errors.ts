import { LlmuxError } from "../errors/llmux-error.js";

/** What was being asked of the provider, to word the error. */
export interface UpstreamContext {
  provider: string;
  /** The provider's model id (chat calls); absent for listing models. */
  model?: string;
  /** Scrubbed from any provider text that is quoted. */
  apiKey?: string;
}

const MAX_QUOTED = 300;

/** The provider's own error message from its JSON body (OpenAI and Anthropic both use `error.message`), scrubbed and bounded. */
export function providerMessage(body: string, apiKey?: string): string {
  let msg = "";
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const e = parsed.error;
    msg = typeof e === "string" ? e : typeof e?.message === "string" ? e.message : typeof parsed.message === "string" ? parsed.message : "";
  } catch {
    msg = "";
  }
  return scrub(msg, apiKey).slice(0, MAX_QUOTED);
}

/** Removes the API key (and bearer-looking tokens) from text a client may see. */
export function scrub(text: string, apiKey?: string): string {
  let out = text;
  if (apiKey) out = out.split(apiKey).join("***");
  return out.replace(/\b(sk|key)-[A-Za-z0-9_\-*]{6,}/g, "$1-***");
}

/**
 * Maps a provider's HTTP error status to the registry: 401/403 → the provider refused the
 * key, 404 → model not found (chat calls), 429 → rate limited (keeping `Retry-After`),
 * 400 → invalid request (context overflow recognised), anything else → upstream error.
 */
export function httpError(status: number, headers: Headers, body: string, ctx: UpstreamContext): LlmuxError {
  const who = `provider '${ctx.provider}'`;
  // The provider's own words may echo the prompt: quoted for the client, kept out of the audit log.
  const quoted = providerMessage(body, ctx.apiKey) || undefined;
  const extra = { upstream_status: status };
  if (status === 401 || status === 403) {
    // The provider's text may echo part of the key: never quote it.
    return new LlmuxError("upstream_error", `${who} refused the configured API key (HTTP ${status}); check the provider's key`, { extra });
  }
  if (status === 404 && ctx.model !== undefined) {
    return new LlmuxError("model_not_found", `${who} does not serve model '${ctx.model}'`, { extra, quoted });
  }
  if (status === 429) {
    const retryAfter = headers.get("retry-after");
    return new LlmuxError("rate_limited", `${who} is rate limiting requests`, {
      extra,
      quoted,
      ...(retryAfter ? { headers: { "Retry-After": retryAfter } } : {}),
    });
  }
  if (status === 400 || status === 422) {
    if (/context.length|prompt is too long|too many tokens|maximum context/i.test(body)) {
      return new LlmuxError("context_length_exceeded", `${who} rejected the prompt as too long`, { extra, quoted });
    }
    return new LlmuxError("validation_failed", `${who} rejected the request`, { extra, quoted });
  }
  if (status === 413) return new LlmuxError("payload_too_large", `${who} rejected the request as too large`, { extra, quoted });
  return new LlmuxError("upstream_error", `${who} answered HTTP ${status}`, { extra, quoted });
}

/** A network failure (refused, reset, DNS, TLS...) before or during the response. */
export function connectionError(err: unknown, ctx: UpstreamContext, midStream: boolean): LlmuxError {
  const code = networkCode(err);
  const what = midStream ? "connection dropped mid-stream" : "could not be reached";
  return new LlmuxError("upstream_error", `provider '${ctx.provider}' ${what}${code ? ` (${code})` : ""}`, { cause: err });
}

export function timeoutError(ctx: UpstreamContext, timeoutMs: number, midStream: boolean): LlmuxError {
  const what = midStream ? "stopped sending for" : "did not answer within";
  return new LlmuxError("upstream_error", `provider '${ctx.provider}' ${what} ${timeoutMs} ms`, { extra: { timeout_ms: timeoutMs } });
}

function networkCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === "object"; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
