/** One server-sent event: its `event:` name ("" when absent) and its `data:` lines joined by "\n". */
export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Incremental SSE parser (the subset providers use: `event:`, `data:`, comments, blank-line
 * dispatch). Bytes may be split anywhere, including inside a UTF-8 sequence or between the
 * CR and LF of a CRLF; lines end in LF, CRLF or CR as the SSE spec allows.
 */
export class SseLineReader {
  private readonly decoder = new TextDecoder();
  private buffer = "";
  /** A CR ended the last chunk: a LF starting the next one belongs to it. */
  private pendingCr = false;
  private event = "";
  private data: string[] = [];

  /** Events completed by this chunk of bytes. */
  push(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    if (this.pendingCr && text.startsWith("\n")) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    const out: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer[i];
      if (ch !== "\n" && ch !== "\r") continue;
      this.line(this.buffer.slice(start, i), out);
      if (ch === "\r") {
        if (i + 1 === this.buffer.length) this.pendingCr = true;
        else if (this.buffer[i + 1] === "\n") i++;
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** Events left when the body ends (a last event without its blank line is still dispatched). */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    const rest = this.buffer + this.decoder.decode();
    this.buffer = "";
    if (rest.length > 0) this.line(rest, out);
    this.line("", out);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === "") {
      if (this.data.length > 0 || this.event !== "") out.push({ event: this.event, data: this.data.join("\n") });
      this.event = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
  }
}
