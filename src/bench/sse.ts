/**
 * A minimal server-sent events parser for the measurement loop: frames end at a blank
 * line; `data:` lines (several are joined with "\n") form the payload; `event:` names it;
 * comments (`:`) and other fields are ignored. Accepts \n, \r\n and \r line endings and
 * frames split anywhere across network reads.
 */
export class SseParser {
  private buf = "";

  /**
   * Feeds decoded text; calls `onEvent(data, event)` for every frame completed by it.
   * Frames without a `data:` line are skipped.
   */
  push(text: string, onEvent: (data: string, event: string | undefined) => void): void {
    let buf = this.buf + text;
    if (buf.includes("\r")) {
      // A trailing \r may be the first half of \r\n: keep it for the next read.
      const held = buf.endsWith("\r") ? "\r" : "";
      buf = (held ? buf.slice(0, -1) : buf).replace(/\r\n?/g, "\n") + held;
    }
    let start = 0;
    for (let end = buf.indexOf("\n\n"); end !== -1; end = buf.indexOf("\n\n", start)) {
      this.dispatch(buf.slice(start, end), onEvent);
      start = end + 2;
    }
    this.buf = start === 0 ? buf : buf.slice(start);
  }

  /** At the end of the body: a last frame without its blank line still counts (lenient). */
  flush(onEvent: (data: string, event: string | undefined) => void): void {
    const rest = this.buf.replace(/\r\n?/g, "\n").replace(/\n+$/, "");
    this.buf = "";
    if (rest) this.dispatch(rest, onEvent);
  }

  private dispatch(frame: string, onEvent: (data: string, event: string | undefined) => void): void {
    // Fast path: the usual one-line `data: …` frame.
    if (frame.startsWith("data:") && !frame.includes("\n")) {
      onEvent(frame.charCodeAt(5) === 32 ? frame.slice(6) : frame.slice(5), undefined);
      return;
    }
    let data: string | undefined;
    let event: string | undefined;
    for (const line of frame.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") data = data === undefined ? value : `${data}\n${value}`;
      else if (field === "event") event = value;
    }
    if (data !== undefined) onEvent(data, event);
  }
}
