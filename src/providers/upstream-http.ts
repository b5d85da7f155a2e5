import { isLlmuxError } from "../errors/llmux-error.js";
import { SseLineReader, type SseEvent } from "./sse-reader.js";
import { connectionError, httpError, timeoutError, type UpstreamContext } from "./upstream-errors.js";

export interface UpstreamRequest {
  url: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: unknown;
  /** The client's signal: when it aborts, the upstream request is aborted and iteration ends quietly. */
  signal: AbortSignal;
  timeoutMs: number;
  ctx: UpstreamContext;
}

const MAX_ERROR_BODY = 64 * 1024;

/**
 * Why our own controller aborted the fetch. An Error, not a Symbol: undici stringifies
 * abort reasons in places, and a Symbol reason threw an uncaught TypeError there.
 */
class UpstreamTimedOut extends Error {}

/**
 * One upstream HTTP exchange with a timer for the response headers and between body chunks,
 * tied to the client's signal. `close()` aborts the connection if the body was not read to
 * its end (a consumer that stops early, or an error), so the provider stops generating.
 */
class Exchange {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onClientAbort = () => this.controller.abort(this.req.signal.reason);

  constructor(private readonly req: UpstreamRequest) {
    if (req.signal.aborted) this.controller.abort(req.signal.reason);
    else req.signal.addEventListener("abort", this.onClientAbort, { once: true });
  }

  get clientAborted(): boolean {
    return this.req.signal.aborted;
  }

  get timedOut(): boolean {
    return this.controller.signal.aborted && this.controller.signal.reason instanceof UpstreamTimedOut;
  }

  arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.controller.abort(new UpstreamTimedOut("upstream timed out")), this.req.timeoutMs);
  }

  close(): void {
    clearTimeout(this.timer);
    this.req.signal.removeEventListener("abort", this.onClientAbort);
    if (!this.controller.signal.aborted) this.controller.abort();
  }

  /** Maps a thrown fetch/read failure; undefined when the client aborted (end quietly). */
  failure(err: unknown, midStream: boolean): Error | undefined {
    if (this.clientAborted) return undefined;
    if (isLlmuxError(err)) return err;
    if (this.timedOut) return timeoutError(this.req.ctx, this.req.timeoutMs, midStream);
    return connectionError(err, this.req.ctx, midStream);
  }
}

async function open(req: UpstreamRequest, ex: Exchange): Promise<Response | undefined> {
  ex.arm();
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: req.method,
      headers: req.body === undefined ? req.headers : { "content-type": "application/json", ...req.headers },
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      signal: ex.controller.signal,
    });
  } catch (err) {
    const e = ex.failure(err, false);
    if (e) throw e;
    return undefined;
  }
  if (!res.ok) {
    let text = "";
    try {
      text = (await res.text()).slice(0, MAX_ERROR_BODY);
    } catch {
      // The status alone says enough.
    }
    throw httpError(res.status, res.headers, text, req.ctx);
  }
  return res;
}

/**
 * POSTs `req` and yields the server-sent events of the response. HTTP and connection
 * errors are thrown before the first event; a connection lost after it throws an
 * `upstream_error` from the iterator. Ends quietly when the client's signal aborts.
 */
export async function* upstreamSse(req: UpstreamRequest): AsyncGenerator<SseEvent> {
  const ex = new Exchange(req);
  try {
    const res = await open(req, ex);
    if (!res) return;
    if (!res.body) throw connectionError(new Error("empty body"), req.ctx, false);
    const reader = res.body.getReader();
    const sse = new SseLineReader();
    let yielded = false;
    try {
      for (;;) {
        ex.arm();
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (err) {
          const e = ex.failure(err, yielded);
          if (e) throw e;
          return;
        }
        if (chunk.done) break;
        for (const ev of sse.push(chunk.value)) {
          yielded = true;
          yield ev;
        }
      }
      for (const ev of sse.end()) yield ev;
    } finally {
      reader.cancel().catch(() => undefined);
    }
  } finally {
    ex.close();
  }
}

/** Sends `req` and returns the parsed JSON body, with the same error mapping as {@link upstreamSse}. */
export async function upstreamJson(req: UpstreamRequest): Promise<unknown> {
  const ex = new Exchange(req);
  try {
    const res = await open(req, ex);
    if (!res) throw connectionError(new Error("aborted"), req.ctx, false);
    try {
      return await res.json();
    } catch (err) {
      throw ex.failure(err, false) ?? connectionError(err, req.ctx, false);
    }
  } finally {
    ex.close();
  }
}
