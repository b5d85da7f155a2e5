/** How many tokens may stay pending while they end in an unfinished UTF-8 sequence. */
const MAX_PENDING_TOKENS = 4;
const REPLACEMENT = "\uFFFD";

/**
 * Turns generated tokens into text without ever failing on bytes that are not
 * valid UTF-8. A token whose bytes end mid-character is held until the next
 * tokens finish it; sequences that never become valid come out as U+FFFD,
 * which is what llama.cpp's decoder (through N-API) produces for invalid bytes.
 */
export class TokenTextDecoder {
  private pending: number[] = [];

  constructor(private readonly detokenize: (tokens: number[]) => string) {}

  /** Adds one token; returns the text that is final now (maybe empty). */
  push(token: number): string {
    this.pending.push(token);
    const text = this.detokenize(this.pending);
    if (text.endsWith(REPLACEMENT) && this.pending.length < MAX_PENDING_TOKENS) return "";
    this.pending = [];
    return text;
  }

  /** Whatever is still pending at the end, invalid bytes as U+FFFD. */
  flush(): string {
    if (this.pending.length === 0) return "";
    const text = this.detokenize(this.pending);
    this.pending = [];
    return text;
  }
}
