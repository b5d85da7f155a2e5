/** One Server-Sent Events frame. */
export interface SseFrame {
  event?: string;
  data: string;
}

/**
 * An incremental SSE parser: feed it text chunks as they arrive (split anywhere, even
 * inside a line or a CRLF), get the complete frames back.
 */
export class SseParser {
  #buf = "";
  #event: string | undefined;
  #data: string[] = [];

  push(chunk: string): SseFrame[] {
    this.#buf += chunk;
    const out: SseFrame[] = [];
    for (;;) {
      const nl = this.#buf.search(/\r\n|\n|\r/);
      if (nl < 0) break;
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (this.#buf[nl] === "\r" && nl === this.#buf.length - 1) break;
      const line = this.#buf.slice(0, nl);
      this.#buf = this.#buf.slice(nl + (this.#buf.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        if (this.#data.length > 0 || this.#event) out.push({ event: this.#event, data: this.#data.join("\n") });
        this.#event = undefined;
        this.#data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.#data.push(value);
      else if (field === "event") this.#event = value;
    }
    return out;
  }
}

/** Reads a fetch body as SSE frames. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    yield* parser.push(decoder.decode() + "\n\n");
  } finally {
    reader.releaseLock();
  }
}
