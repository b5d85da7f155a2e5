/**
 * Finds stop strings in streamed text. Text that could be the start of a stop
 * string is held back until it is known not to be one, so a client never sees
 * any part of a stop string.
 */
export class StopMatcher {
  private held = "";
  private readonly stops: string[];

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  /**
   * Feeds newly decoded text. Returns the text safe to emit now and, when a stop
   * string completed, which one (everything from it on is dropped).
   */
  push(text: string): { emit: string; stop?: string } {
    if (this.stops.length === 0) return { emit: text };
    const buf = this.held + text;
    let first = -1;
    let which: string | undefined;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i !== -1 && (first === -1 || i < first)) {
        first = i;
        which = s;
      }
    }
    if (which !== undefined) {
      this.held = "";
      return { emit: buf.slice(0, first), stop: which };
    }
    const keep = this.partialSuffixLength(buf);
    this.held = buf.slice(buf.length - keep);
    return { emit: buf.slice(0, buf.length - keep) };
  }

  /** Text held back at the end of generation is not a stop string after all. */
  flush(): string {
    const rest = this.held;
    this.held = "";
    return rest;
  }

  /** Length of the longest suffix of `buf` that is a proper prefix of some stop string. */
  private partialSuffixLength(buf: string): number {
    let best = 0;
    for (const s of this.stops) {
      const max = Math.min(s.length - 1, buf.length);
      for (let n = max; n > best; n--) {
        if (buf.endsWith(s.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
