/** Lines kept waiting before they are sent at once, whatever the turn: bounds the memory a burst can hold. */
const MAX_PENDING_CHARS = 64 * 1024;

/** Destinations with lines waiting, flushed when the process exits (one listener for them all). */
const live = new Set<LogDestination>();
let exitHooked = false;

/**
 * One log destination shared by pino and the access log. Access-log lines (`writeSoon`) wait for
 * the end of the event-loop turn and go out together in one write: one write per request was a
 * system call per request, ~3% of the gateway's CPU at 50 connections, where a busy turn
 * answers many requests. Every other line (`write`, pino's) first sends what waits, so lines
 * keep the order they were written in. What waits is also sent by `flush()` (the server
 * closing) and when the process exits, even on an uncaught exception; only a process killed
 * outright (SIGKILL) loses the lines of its last turn.
 */
export class LogDestination {
  private pending = "";
  private scheduled = false;

  constructor(private readonly out: { write(text: string): unknown }) {
    live.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.on("exit", () => {
        for (const d of live) d.flush();
      });
    }
  }

  /** Writes a line now, after the lines that wait. */
  readonly write = (line: string): boolean => {
    if (this.pending !== "") this.flush();
    this.out.write(line);
    return true;
  };

  /** Writes a line at the end of this event-loop turn, with the other lines of the turn. */
  readonly writeSoon = (line: string): void => {
    this.pending += line;
    if (this.pending.length >= MAX_PENDING_CHARS) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onTurnEnd);
    }
  };

  private readonly onTurnEnd = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /** Sends the lines that wait now; then calls `done` (pino's `logger.flush(cb)` passes one and waits for it). */
  flush(done?: () => void): void {
    if (this.pending !== "") {
      const text = this.pending;
      this.pending = "";
      this.out.write(text);
    }
    done?.();
  }

  /** Sends what waits and stops watching for the process's exit (the server is closing). */
  close(): void {
    this.flush();
    live.delete(this);
  }
}
