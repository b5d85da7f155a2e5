import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** What the fake does with the next request. */
export type Behaviour =
  | { kind: "sse"; body: string; /** Bytes per write, to split events anywhere. */ chunkSize?: number }
  | { kind: "json"; body: unknown }
  | { kind: "status"; status: number; body: unknown; headers?: Record<string, string> }
  /** Waits before sending anything. */
  | { kind: "slow"; delayMs: number; then: Behaviour }
  /** Sends the first `frames` SSE frames of `body`, then destroys the socket. */
  | { kind: "drop"; body: string; frames: number }
  /** Sends the first `frames` SSE frames of `body`, then keeps the connection open. */
  | { kind: "hang"; body: string; frames: number }
  /** Decides from the request (e.g. JSON or SSE by its `stream` field). */
  | { kind: "fn"; fn: (r: Received) => Behaviour };

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** The body's bytes as received (for pass-through identity). */
  raw: Buffer;
}

/** A fake cloud provider on 127.0.0.1: a real HTTP server speaking SSE, recording what it receives. */
export class FakeProvider {
  readonly received: Received[] = [];
  /** Behaviours for the next requests, first first; `fallback` when empty. */
  readonly queue: Behaviour[] = [];
  fallback: Behaviour = { kind: "status", status: 500, body: { error: { message: "no behaviour" } } };
  /** Resolves each time a request's connection closes before its response finished. */
  closedEarly = 0;
  /** When set, `GET …/models` lists these ids (without taking a queued behaviour). */
  models: string[] | null = null;
  /** Requests whose response has not ended yet. */
  inFlight = 0;
  private closeWaiters: (() => void)[] = [];
  private server: Server;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks);
        const text = raw.toString("utf8");
        if (req.method === "GET" && /\/models(\?|$)/.test(req.url ?? "") && this.models) {
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ object: "list", data: this.models.map((id) => ({ id, object: "model", owned_by: "fake" })) }));
          return;
        }
        const received: Received = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: text ? JSON.parse(text) : undefined, raw };
        this.received.push(received);
        this.inFlight++;
        res.on("close", () => {
          this.inFlight--;
          if (!res.writableFinished) {
            this.closedEarly++;
            for (const w of this.closeWaiters.splice(0)) w();
          }
        });
        this.respond(res, this.queue.shift() ?? this.fallback, received);
      });
    });
  }

  async start(): Promise<string> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves when a response's connection is closed by the client before it finished. */
  nextEarlyClose(): Promise<void> {
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close");
  }

  private respond(res: ServerResponse, b: Behaviour, r: Received): void {
    switch (b.kind) {
      case "fn":
        this.respond(res, b.fn(r), r);
        return;
      case "sse": {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        const size = b.chunkSize ?? b.body.length;
        const bytes = Buffer.from(b.body, "utf8");
        for (let i = 0; i < bytes.length; i += size) res.write(bytes.subarray(i, i + size));
        res.end();
        return;
      }
      case "json":
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(b.body));
        return;
      case "status":
        res.writeHead(b.status, { "content-type": "application/json", ...b.headers }).end(JSON.stringify(b.body));
        return;
      case "slow": {
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (!res.destroyed) this.respond(res, b.then, r);
        }, b.delayMs);
        this.timers.add(t);
        return;
      }
      case "drop":
      case "hang": {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(firstFrames(b.body, b.frames));
        if (b.kind === "drop") {
          // Let the frames leave before the reset.
          const t = setTimeout(() => res.socket?.destroy(), 50);
          this.timers.add(t);
        }
        return;
      }
    }
  }
}

/** The first `n` frames of an SSE body, each with its blank line. */
export function firstFrames(body: string, n: number): string {
  return body
    .split(/\n\n/)
    .filter((f) => f.trim() !== "")
    .slice(0, n)
    .map((f) => `${f}\n\n`)
    .join("");
}

/** Collects a backend's events, or the error it threw with the events before it. */
export async function collect<T>(it: AsyncIterable<T>): Promise<{ events: T[]; error?: unknown }> {
  const events: T[] = [];
  try {
    for await (const e of it) events.push(e);
  } catch (error) {
    return { events, error };
  }
  return { events };
}
