/**
 * The one API client of the UI: same-origin cookies, the CSRF header on every state-changing
 * request, RFC 7807 problems turned into `ApiError`, and a 401 sends the user to sign-in.
 */
import type { Problem } from "$api";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem>,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
  get code(): string | undefined {
    return this.problem.code;
  }
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Called on a 401 (set by the layout: go to the sign-in page). */
let onUnauthorized: (() => void) | undefined;
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

/** Headers for a request: JSON body type and the CSRF header the auth layer requires on writes. */
export function requestHeaders(method: string, hasBody: boolean): Record<string, string> {
  const h: Record<string, string> = {};
  if (hasBody) h["content-type"] = "application/json";
  if (UNSAFE.has(method.toUpperCase())) h["x-llmux-csrf"] = "1";
  return h;
}

/** A raw fetch with the UI's conventions (for streams); throws ApiError on a non-2xx answer. */
export async function rawFetch(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal; quiet401?: boolean } = {}): Promise<Response> {
  const method = init.method ?? (init.body === undefined ? "GET" : "POST");
  const res = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: requestHeaders(method, init.body !== undefined),
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
  if (res.ok) return res;
  let problem: Partial<Problem> = { status: res.status };
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text);
    // /v1 errors carry OpenAI's or Anthropic's envelope beside (or instead of) the problem fields.
    problem = { ...problem, ...body, detail: body.detail ?? body.error?.message ?? body.message };
  } catch {
    if (text) problem.detail = text.slice(0, 300);
  }
  if (res.status === 401 && !init.quiet401) onUnauthorized?.();
  throw new ApiError(res.status, problem);
}

/** JSON request; 204 → undefined. */
export async function api<T = unknown>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal; quiet401?: boolean } = {}): Promise<T> {
  const res = await rawFetch(path, init);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T>(path: string) => api<T>(path);
export const post = <T>(path: string, body: unknown = {}) => api<T>(path, { method: "POST", body });
export const put = <T>(path: string, body: unknown) => api<T>(path, { method: "PUT", body });
export const patch = <T>(path: string, body: unknown) => api<T>(path, { method: "PATCH", body });
export const del = <T>(path: string) => api<T>(path, { method: "DELETE" });

/** A query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
