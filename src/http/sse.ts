import type { FastifyReply, FastifyRequest } from "fastify";
import { once } from "node:events";

/**
 * Writes a server-sent event stream on a hijacked reply, waiting for the socket
 * to drain so a slow client slows the writer instead of growing memory.
 */
export class SseWriter {
  private readonly res;

  constructor(request: FastifyRequest, reply: FastifyReply) {
    reply.hijack();
    this.res = reply.raw;
    this.res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      "x-request-id": request.id,
    });
    this.res.flushHeaders();
  }

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  async write(frame: string): Promise<void> {
    if (!frame || this.closed) return;
    if (!this.res.write(frame)) await Promise.race([once(this.res, "drain"), once(this.res, "close")]);
  }

  end(frame = ""): void {
    if (this.closed) return;
    this.res.end(frame);
  }
}

/**
 * An AbortController that fires when the client goes away before the response
 * is complete, so the backend stops generating and frees its slot at once.
 */
export function abortOnDisconnect(reply: FastifyReply): AbortController {
  const ac = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) ac.abort(new Error("client disconnected"));
  });
  return ac;
}
