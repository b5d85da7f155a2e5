import type { FastifyReply, FastifyRequest } from "fastify";
import type { LlmuxError } from "../errors/llmux-error.js";
import { toLlmuxError } from "./problem.js";
import { TurnWriter } from "./write-turn.js";

/**
 * Writes a server-sent event stream on a hijacked reply: the frames made in one turn of the event
 * loop go out together at its end (`TurnWriter`), and a slow client slows the writer (it waits
 * for the socket to drain) instead of growing memory.
 */
export class SseWriter {
  private readonly out;

  constructor(request: FastifyRequest, reply: FastifyReply) {
    reply.hijack();
    reply.raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      "x-request-id": request.id,
    });
    this.out = new TurnWriter(reply.raw); // the head goes out this turn, with the frames made in it
  }

  get closed(): boolean {
    return this.out.closed;
  }

  async write(frame: string): Promise<void> {
    if (!frame || this.closed) return;
    this.out.write(frame);
    await this.out.ready();
  }

  end(frame = ""): void {
    this.out.end(frame);
  }
}

/** What a protocol's stream encoder offers the SSE pump. One encoder per response. */
export interface StreamEncoder<E> {
  encode(event: E): string;
  /** Closing frames after the last event. */
  end(): string;
  /** An in-band error frame (headers are already sent). */
  error(err: LlmuxError, requestId: string): string;
}

/**
 * Streams events as SSE. The first event is pulled before any header is sent, so
 * errors until then (unknown model, load failure, prompt too long) are ordinary
 * HTTP problems; after that they go in-band in the protocol's own format.
 */
export async function pumpSse<E>(
  request: FastifyRequest,
  reply: FastifyReply,
  events: AsyncIterable<E>,
  makeEncoder: () => StreamEncoder<E>,
): Promise<void> {
  const it = events[Symbol.asyncIterator]();
  try {
    let step = await it.next();
    const encoder = makeEncoder();
    const sse = new SseWriter(request, reply);
    try {
      while (!step.done) {
        await sse.write(encoder.encode(step.value));
        if (sse.closed) break;
        step = await it.next();
      }
      sse.end(encoder.end());
    } catch (err) {
      const e = toLlmuxError(err);
      if (e.code === "internal") request.log.error({ err, request_id: request.id }, "stream failed");
      request.inference?.fail(e);
      sse.end(encoder.error(e, request.id));
    }
  } finally {
    await it.return?.();
  }
}
