/**
 * A small client of the Hugging Face hub API: search GGUF repos, list a repo's GGUF
 * files grouped by quantization. The token (if any) goes only in the Authorization
 * header, never in a URL, a log line or an error message.
 */
import { LlmuxError, invalidField } from "../errors/llmux-error.js";
import { groupGgufFiles, type HubFile, type QuantGroup } from "./gguf-files.js";
import { assertRepoId } from "./repo-id.js";

export const DEFAULT_HUB_URL = "https://huggingface.co";

export interface HubClientOptions {
  /** Hub origin, default `https://huggingface.co`. */
  baseUrl?: string;
  /** Access token for gated or private repos, sent as `Authorization: Bearer`; a function is asked at each request (the token can change at run time). */
  token?: TokenOption;
}

export interface HubSearchQuery {
  text?: string;
  author?: string;
  sort?: "downloads" | "lastModified";
  /** 1..100, default 20. */
  limit?: number;
}

/** One repo of a search result. */
export interface HubModelSummary {
  id: string;
  downloads: number;
  likes: number;
  lastModified?: string;
  tags: string[];
}

export interface RepoFiles {
  repo: string;
  groups: QuantGroup[];
}

/** The hub's URL base, without a trailing slash; only http(s). */
export function normalizeHubUrl(baseUrl: string): string {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw invalidField("hubBaseUrl", "must be an absolute http(s) URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw invalidField("hubBaseUrl", "must be an http(s) URL");
  return u.href.replace(/\/+$/, "");
}

/** A fixed token, or a function asked at each request. */
export type TokenOption = string | (() => string | undefined);

export const tokenSource = (t: TokenOption | undefined): (() => string | undefined) =>
  typeof t === "function" ? () => t() || undefined : () => t || undefined;

/** Request headers for the hub; the token never leaves this object except on the wire. */
export function hubHeaders(token: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { "user-agent": "llmux", ...extra };
  if (token) h.authorization = `Bearer ${token}`;
  return h;
}

/** The LlmuxError for a non-OK hub response (no body text, which could echo request data). */
export function hubStatusError(status: number, what: string): LlmuxError {
  if (status === 404) return new LlmuxError("model_not_found", `${what} was not found on the hub`);
  if (status === 401 || status === 403) {
    return new LlmuxError("upstream_error", `the hub refused access to ${what} (HTTP ${status}): the repo may be gated or private; check the hub token`);
  }
  if (status === 429) return new LlmuxError("upstream_error", `the hub rate-limited the request for ${what} (HTTP 429)`);
  return new LlmuxError("upstream_error", `the hub answered HTTP ${status} for ${what}`);
}

export class HubClient {
  readonly baseUrl: string;
  readonly #token: () => string | undefined;

  constructor(opts: HubClientOptions = {}) {
    this.baseUrl = normalizeHubUrl(opts.baseUrl ?? DEFAULT_HUB_URL);
    this.#token = tokenSource(opts.token);
  }

  /** GGUF repos matching the query, most downloaded (or most recently modified) first. */
  async search(q: HubSearchQuery = {}): Promise<HubModelSummary[]> {
    const limit = q.limit ?? 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw invalidField("limit", "must be an integer from 1 to 100");
    const sort = q.sort ?? "downloads";
    if (sort !== "downloads" && sort !== "lastModified") throw invalidField("sort", "must be 'downloads' or 'lastModified'");
    const params = new URLSearchParams();
    if (q.text) params.set("search", q.text);
    if (q.author) params.set("author", q.author);
    params.set("filter", "gguf");
    params.set("sort", sort);
    params.set("direction", "-1");
    params.set("limit", String(limit));
    const body = await this.#getJson(`${this.baseUrl}/api/models?${params}`, "the model search");
    if (!Array.isArray(body)) throw new LlmuxError("upstream_error", "the hub's model search answered an unexpected shape");
    return body.filter((m) => m && typeof m.id === "string").map((m) => ({
      id: m.id,
      downloads: typeof m.downloads === "number" ? m.downloads : 0,
      likes: typeof m.likes === "number" ? m.likes : 0,
      lastModified: typeof m.lastModified === "string" ? m.lastModified : typeof m.createdAt === "string" ? m.createdAt : undefined,
      tags: Array.isArray(m.tags) ? m.tags.filter((t: unknown) => typeof t === "string") : [],
    }));
  }

  /** Every file of the repo's `main` branch (follows the hub's `Link: rel="next"` pages). */
  async listFiles(repo: string): Promise<HubFile[]> {
    assertRepoId(repo);
    const files: HubFile[] = [];
    let url: string | undefined = `${this.baseUrl}/api/models/${repo}/tree/main?recursive=true`;
    for (let page = 0; url && page < 100; page++) {
      const res = await this.#get(url, `repo '${repo}'`);
      const body = await parseJson(res, `repo '${repo}'`);
      if (!Array.isArray(body)) throw new LlmuxError("upstream_error", `the hub's file tree of repo '${repo}' has an unexpected shape`);
      for (const e of body) {
        if (!e || e.type !== "file" || typeof e.path !== "string") continue;
        const lfs = e.lfs && typeof e.lfs === "object" ? e.lfs : undefined;
        const size = typeof lfs?.size === "number" ? lfs.size : typeof e.size === "number" ? e.size : 0;
        const sha256 = typeof lfs?.oid === "string" && /^[0-9a-f]{64}$/i.test(lfs.oid) ? lfs.oid.toLowerCase() : undefined;
        files.push({ path: e.path, size, ...(sha256 ? { sha256 } : {}) });
      }
      url = nextLink(res.headers.get("link"), this.baseUrl);
    }
    return files;
  }

  /** The repo's GGUF files grouped by quantization, split sets as one entry each. */
  async repoFiles(repo: string): Promise<RepoFiles> {
    return { repo, groups: groupGgufFiles(await this.listFiles(repo)) };
  }

  async #get(url: string, what: string): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(url, { headers: hubHeaders(this.#token(), { accept: "application/json" }), signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new LlmuxError("upstream_error", `could not reach the hub at ${new URL(this.baseUrl).host} for ${what}`, { cause: err });
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw hubStatusError(res.status, what);
    }
    return res;
  }

  async #getJson(url: string, what: string): Promise<unknown> {
    return parseJson(await this.#get(url, what), what);
  }
}

async function parseJson(res: Response, what: string): Promise<any> {
  try {
    return await res.json();
  } catch (err) {
    throw new LlmuxError("upstream_error", `the hub answered invalid JSON for ${what}`, { cause: err });
  }
}

/** The `rel="next"` URL of a Link header, only when it stays on the hub's origin (the token goes with it). */
function nextLink(link: string | null, baseUrl: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (!m) continue;
    try {
      const u = new URL(m[1], baseUrl);
      if (u.origin === new URL(baseUrl).origin) return u.href;
    } catch {
      /* ignore a malformed link */
    }
  }
  return undefined;
}
