import type { ServerResponse } from "node:http";
import { drainedOrClosed } from "./drained.js";

/**
 * Answers that became ready in one turn of the event loop are written to their clients together,
 * at the end of that turn's I/O phase, rather than each as soon as it is ready.
 *
 * Why: on loopback (and in a VM generally) writing to a socket whose reader sleeps in `epoll_wait`
 * wakes that reader from inside the `write` call, and that wake-up is the dearest part of the
 * write. Under load one turn of the loop handles many upstream answers; written as each arrives,
 * they are spread over the turn, and a fast local client (an agent, a load generator) is woken
 * for nearly every one. Written back to back, the first write wakes the client and the rest find
 * it awake. Measured on the gateway benchmark (`bench:gateway:ab`, pass-through answers, 50
 * connections JSON and 20 streaming): ~18% more requests a second and ~15% less main-thread CPU
 * a request, for both (`docs/PERFORMANCE.md`, fourteenth pass).
 *
 * What it costs: an answer waits for the rest of the turn's I/O callbacks (at one connection
 * there are none: the wait is one `setImmediate` hop, a few microseconds).
 */
let turn: Promise<void> | null = null;

/** Resolves in this turn's check phase (`setImmediate`), once for every caller of the turn. */
export function writeTurn(): Promise<void> {
  return (turn ??= new Promise((resolve) =>
    setImmediate(() => {
      turn = null;
      resolve();
    }),
  ));
}

/**
 * A streamed answer's writer on a raw response whose head is set (`writeHead`): what is written
 * in one turn goes out at the turn's end ({@link writeTurn}), in one `writev` with the head when
 * it is the first, and the end of the answer with it. A write never waits; a caller that produces
 * faster than the client reads waits on {@link TurnWriter.ready}.
 */
export class TurnWriter {
  private queued: (string | Buffer)[] = [];
  private ending = false;
  private scheduled = false;
  /** Whether a flush has sent anything yet (`headersSent` is true as soon as the head is set, sent or not). */
  private started = false;

  /** Schedules the first flush at once, so the head goes out this turn even before any body. */
  constructor(private readonly res: ServerResponse) {
    this.schedule();
  }

  /** Whether nothing more may be written: the client is gone, or the end was written or queued. */
  get closed(): boolean {
    return this.ending || this.res.destroyed || this.res.writableEnded;
  }

  write(chunk: string | Buffer): void {
    if (this.closed || chunk.length === 0) return;
    this.queued.push(chunk);
    this.schedule();
  }

  /** Ends the answer (after what is queued), with a last chunk when given. */
  end(chunk?: string | Buffer): void {
    if (this.closed) return;
    if (chunk && chunk.length > 0) this.queued.push(chunk);
    this.ending = true;
    this.schedule();
  }

  /** Resolves once the client has taken what was written (at once unless its buffer is full), or is gone. */
  async ready(): Promise<void> {
    if (this.res.writableNeedDrain && !this.res.destroyed) await drainedOrClosed(this.res);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // A write that throws ends this answer, not the process (an unhandled rejection would).
    void writeTurn()
      .then(this.flush)
      .catch(() => this.res.destroy());
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const queued = this.queued;
    this.queued = [];
    const res = this.res;
    if (res.destroyed || res.writableEnded) return;
    // Writes made in one tick leave as one writev (Node corks the socket until the next tick).
    for (const chunk of queued) res.write(chunk);
    if (this.ending) res.end();
    else if (!this.started && queued.length === 0) res.flushHeaders();
    this.started = true;
  };
}
