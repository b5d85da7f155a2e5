/**
 * A fake Hugging Face hub on 127.0.0.1: the real API's JSON shapes for search and the
 * model tree, and `resolve/main` downloads with Range support that can on demand drop
 * the connection mid-file, send corrupt bytes, or trickle slowly.
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FileBehaviour {
  /** Drop the connection after sending this many bytes of the body (first `dropTimes` requests). */
  dropAfter?: number;
  dropTimes?: number;
  /** Flip one byte in the middle of the body. */
  corrupt?: boolean;
  /** Send in chunks of this size with `delayMs` between them. */
  chunk?: number;
  delayMs?: number;
}

export interface SeenRequest {
  url: string;
  range?: string;
  authorization?: string;
}

export interface FakeRepo {
  files: Map<string, Buffer>;
  /** Extra tree entries that are not downloadable (README, folders). */
  extraTree?: unknown[];
}

export const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

export class FakeHub {
  readonly requests: SeenRequest[] = [];
  readonly repos = new Map<string, FakeRepo>();
  readonly behaviour = new Map<string, FileBehaviour>();
  readonly models: Array<Record<string, unknown>> = [];
  /** Downloads in flight now, and the most at once. */
  inFlight = 0;
  maxInFlight = 0;
  baseUrl = "";
  /** When set, every request must carry `Authorization: Bearer <it>`, else 401 (a private repo). */
  requiredToken?: string;
  #server: Server = createServer((req, res) => void this.#handle(req, res));

  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, "127.0.0.1", r));
    this.baseUrl = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
  }

  downloadRequests(path: string): SeenRequest[] {
    return this.requests.filter((r) => r.url.includes("/resolve/main/") && decodeURIComponent(r.url).endsWith(`/${path}`));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.baseUrl);
    this.requests.push({ url: req.url ?? "", range: req.headers.range, authorization: req.headers.authorization });
    if (this.requiredToken !== undefined && req.headers.authorization !== `Bearer ${this.requiredToken}`) {
      return json(res, 401, { error: "Invalid credentials in Authorization header" });
    }
    if (url.pathname === "/api/models") return this.#search(url, res);
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/main$/.exec(url.pathname);
    if (tree) {
      const repo = this.repos.get(tree[1]);
      if (!repo) return json(res, 404, { error: "Repository not found" });
      const entries = [...(repo.extraTree ?? [])];
      for (const [path, buf] of repo.files) {
        const oid = sha256(buf);
        entries.push({ type: "file", oid: oid.slice(0, 40), size: buf.length, path, lfs: { oid, size: buf.length, pointerSize: 135 } });
      }
      return json(res, 200, entries);
    }
    const dl = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(url.pathname);
    if (dl) {
      const path = decodeURIComponent(dl[2]);
      const buf = this.repos.get(dl[1])?.files.get(path);
      if (!buf) return json(res, 404, { error: "Entry not found" });
      return this.#download(path, buf, req, res);
    }
    json(res, 404, { error: "not found" });
  }

  #search(url: URL, res: ServerResponse): void {
    const text = url.searchParams.get("search")?.toLowerCase();
    const author = url.searchParams.get("author");
    let out = this.models.filter((m) => (!text || String(m.id).toLowerCase().includes(text)) && (!author || String(m.id).startsWith(`${author}/`)));
    if (url.searchParams.get("filter") === "gguf") out = out.filter((m) => (m.tags as string[]).includes("gguf"));
    const sort = url.searchParams.get("sort") ?? "downloads";
    out = [...out].sort((a, b) => (sort === "downloads" ? Number(b.downloads) - Number(a.downloads) : String(b.lastModified).localeCompare(String(a.lastModified))));
    json(res, 200, out.slice(0, Number(url.searchParams.get("limit") ?? 1000)));
  }

  async #download(path: string, full: Buffer, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const b = this.behaviour.get(path) ?? {};
    let body = full;
    if (b.corrupt) {
      body = Buffer.from(full);
      body[body.length >> 1] ^= 0xff;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    if (m) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { "content-length": body.length - start, "content-range": `bytes ${start}-${body.length - 1}/${body.length}`, "accept-ranges": "bytes" });
    } else {
      res.writeHead(200, { "content-length": body.length, "accept-ranges": "bytes" });
    }
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const drop = b.dropAfter !== undefined && (b.dropTimes ?? 1) > 0;
      if (drop) b.dropTimes = (b.dropTimes ?? 1) - 1;
      const end = drop ? Math.min(body.length, start + b.dropAfter!) : body.length;
      const chunk = b.chunk ?? 64 * 1024;
      for (let pos = start; pos < end && !res.destroyed; pos += chunk) {
        // Delay before (not after) a write, so the response ends right after its last byte.
        if (b.delayMs && pos > start) await new Promise((r) => setTimeout(r, b.delayMs));
        if (res.destroyed) break;
        const slice = body.subarray(pos, Math.min(end, pos + chunk));
        if (!drop && pos + chunk >= end) break; // the last slice goes with end() below
        if (!res.write(slice)) await drainOrClose(res);
      }
      if (drop) {
        await new Promise((r) => setTimeout(r, 20));
        res.destroy();
      } else if (!res.destroyed) {
        const last = body.length - start > 0 ? body.subarray(Math.max(start, start + Math.floor((end - start - 1) / chunk) * chunk), end) : Buffer.alloc(0);
        res.end(last);
      }
    } finally {
      this.inFlight--;
    }
  }
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done).off("close", done);
      resolve();
    };
    res.on("drain", done).on("close", done);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}
