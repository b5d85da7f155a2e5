/**
 * The CLI's one way to talk to a running llmux: JSON over its admin API, with an API key
 * or session token from `--api-key` or `LLMUX_API_KEY` sent as `Authorization: Bearer`.
 */
import { DEFAULT_PORT } from "../config.js";

export interface ServerClientOptions {
  /** Base URL; default `LLMUX_URL` or `http://127.0.0.1:11435`. */
  url?: string;
  apiKey?: string;
}

/** The server answered with an error (its problem detail is the message). */
export class ServerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** No server is listening at the URL. */
export class ServerUnreachable extends Error {}

export class ServerClient {
  readonly url: string;
  readonly #apiKey?: string;

  constructor(opts: ServerClientOptions = {}) {
    this.url = (opts.url || process.env.LLMUX_URL || `http://127.0.0.1:${DEFAULT_PORT}`).replace(/\/+$/, "");
    this.#apiKey = opts.apiKey || process.env.LLMUX_API_KEY || undefined;
  }

  /** Sends a request; resolves the parsed JSON body (undefined for 204), throws ServerError or ServerUnreachable. */
  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
    } catch (err) {
      throw new ServerUnreachable(`no llmux server at ${this.url} (${(err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`);
    }
    const text = await res.text();
    const parsed = text ? safeJson(text) : undefined;
    if (!res.ok) {
      const p = parsed as { detail?: string; code?: string; error?: { message?: string; code?: string } } | undefined;
      const detail = p?.detail ?? p?.error?.message ?? `HTTP ${res.status}`;
      const hint = res.status === 401 || res.status === 403 ? " (set LLMUX_API_KEY or pass --api-key)" : "";
      throw new ServerError(res.status, p?.code ?? p?.error?.code, `${detail}${hint}`);
    }
    // Something else on the port (another server, a proxy's page): say so instead of failing on its shape later.
    if (text && (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))) {
      throw new ServerError(res.status, "not_llmux", `${this.url} answered ${method} ${path} with something other than llmux's JSON: is it an llmux server?`);
    }
    return parsed as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
