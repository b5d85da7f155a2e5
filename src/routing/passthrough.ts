import type { IncomingHttpHeaders } from "node:http";
import { StringDecoder } from "node:string_decoder";
import { tokenCount } from "../core/token-count.js";
import { undiciErrors } from "./undici-parts.js";
import { ANTHROPIC_VERSION } from "../providers/anthropic-backend.js";
import { connectionError, httpError, timeoutError, type UpstreamContext } from "../providers/upstream-errors.js";
import type { ProviderEntry, ProviderProtocol } from "./provider-set.js";

const MAX_ERROR_BODY = 64 * 1024;

/** What a pass-through call forwards: the client's own bytes, and what is needed to rename the model. */
export interface PassthroughInput {
  provider: ProviderEntry;
  /** The provider's model name (after a rename). */
  model: string;
  /** The request body exactly as the client sent it. */
  rawBody: Buffer;
  /** The same body parsed (only re-serialised when the model is renamed). */
  body: Record<string, unknown>;
  clientHeaders: IncomingHttpHeaders;
  /** The request's cancellation: the upstream call is aborted with it. */
  cancel: AbortSource;
  /** The provider's endpoint path; its chat endpoint when absent. */
  path?: string;
}

/**
 * Where a call learns that its request was cancelled (the client gone, or its timeout). The
 * same as an AbortSignal's `aborted`, `reason` and abort event, without making an EventTarget
 * per request (the request tracker makes its AbortSignal only when something asks for it).
 */
export interface AbortSource {
  readonly aborted: boolean;
  readonly reason: unknown;
  /** Calls `listener` once, when the request is aborted; returns what stops listening. */
  onAbort(listener: () => void): () => void;
}

/** An upstream response that answered 2xx and sent its first bytes: committed, ready to forward. */
export interface PassthroughResponse {
  contentType: string;
  /** The first body chunk (empty for an empty body). */
  first: Buffer;
  /** The rest of the body. Throws an `upstream_error` if the connection drops. */
  rest: AsyncIterator<Buffer>;
  /** Aborts the upstream request if the body was not read to its end. */
  close(): void;
}

/** Whether a request of `protocol` can be forwarded byte for byte to `provider`. */
export function canPassThrough(protocol: ProviderProtocol, provider: ProviderEntry | undefined): provider is ProviderEntry {
  return provider !== undefined && provider.protocol === protocol;
}

function headersFor(p: ProviderEntry, client: IncomingHttpHeaders, length: number): Record<string, string> {
  const c = p.config;
  const h: Record<string, string> = { "content-type": "application/json", "content-length": String(length), accept: "application/json, text/event-stream" };
  if (p.protocol === "anthropic") {
    h["anthropic-version"] = typeof client["anthropic-version"] === "string" ? client["anthropic-version"] : ANTHROPIC_VERSION;
    if (typeof client["anthropic-beta"] === "string") h["anthropic-beta"] = client["anthropic-beta"];
  }
  Object.assign(h, c.headers);
  if (c.apiKey) {
    if (p.protocol === "anthropic") h["x-api-key"] = c.apiKey;
    else h.authorization = `Bearer ${c.apiKey}`;
  }
  return h;
}

function mapFailure(err: unknown, ctx: UpstreamContext, timeoutMs: number, midStream: boolean): Error {
  const code = (err as { code?: unknown })?.code;
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
    return timeoutError(ctx, timeoutMs, midStream);
  }
  return connectionError(err, ctx, midStream);
}

/** Chunks held before undici is asked to pause reading the upstream socket (backpressure). */
const HIGH_WATER_CHUNKS = 16;

/**
 * One upstream call, as an undici dispatch handler: the response's status, two headers and its
 * body chunks, pulled with `next()`. undici's `request()` API makes a Readable stream, an async
 * resource and an abort listener chain per call; on the gateway benchmark that machinery cost
 * more than the forwarding itself. Backpressure: past {@link HIGH_WATER_CHUNKS} unread chunks
 * undici stops reading the socket until `next()` drains them.
 */
class UpstreamCall {
  status = 0;
  contentType = "application/json";
  retryAfter: string | null = null;
  private abortUpstream: ((reason: Error) => void) | null = null;
  private abortReason: Error | null = null;
  private resumeUpstream: (() => void) | null = null;
  private paused = false;
  private readonly chunks: Buffer[] = [];
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private listening = true;
  private readonly stopListening: () => void;

  constructor(cancel: AbortSource) {
    this.stopListening = cancel.onAbort(() => this.abort(() => (cancel.reason as Error | undefined) ?? new Error("aborted")));
  }

  /**
   * Aborts the upstream request (if it has not ended) and stops listening to the signal. The
   * reason is made only when there is something to abort: an Error captures a stack, and
   * every forwarded answer is closed this way once read (measured: 3% of the CPU).
   */
  abort(reason: () => Error): void {
    this.settle();
    if (this.ended || this.failure) return;
    if (this.abortUpstream) this.abortUpstream(reason());
    else this.abortReason = reason();
  }

  /** Resolves once the status is known (or the call failed: then throws its error). */
  async started(): Promise<void> {
    while (this.status === 0 && !this.failure) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.status === 0) throw this.failure;
  }

  /** The next body chunk, or null at its end; throws the upstream's failure. */
  async next(): Promise<Buffer | null> {
    while (this.chunks.length === 0 && !this.ended && !this.failure) await new Promise<void>((resolve) => (this.wake = resolve));
    const chunk = this.chunks.shift();
    if (chunk) {
      if (this.paused && this.chunks.length < HIGH_WATER_CHUNKS / 2) {
        this.paused = false;
        this.resumeUpstream?.();
      }
      return chunk;
    }
    if (this.failure) throw this.failure;
    return null;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private settle(): void {
    if (!this.listening) return;
    this.listening = false;
    this.stopListening();
  }

  // undici's dispatch handler (its "legacy" shape, which it calls without a wrapper).
  onConnect(abort: (reason: Error) => void): void {
    if (this.abortReason) abort(this.abortReason);
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx: the answer follows
    this.resumeUpstream = resume;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      // Only two headers matter here: compare lengths first, names case-insensitively.
      if (name.length === 12 && name.toString("latin1").toLowerCase() === "content-type") this.contentType = rawHeaders[i + 1]!.toString("latin1");
      else if (name.length === 11 && name.toString("latin1").toLowerCase() === "retry-after") this.retryAfter = rawHeaders[i + 1]!.toString("latin1");
    }
    this.status = statusCode;
    this.notify();
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.notify();
    if (this.chunks.length < HIGH_WATER_CHUNKS) return true;
    this.paused = true;
    return false;
  }

  onComplete(): void {
    this.ended = true;
    this.settle();
    this.notify();
  }

  onError(err: Error): void {
    this.failure = err;
    this.settle();
    this.notify();
  }
}

/**
 * Sends the client's body to a provider of the same protocol, over the provider's keep-alive
 * pool, untouched but for the model name (the bytes are forwarded as they came unless a rule
 * renames the model). Resolves once the upstream answered 2xx and sent its first chunk, so a
 * failure up to then can be retried elsewhere; an HTTP error is mapped like the canonical
 * backends map it (429 keeps `Retry-After`).
 */
export async function openPassthrough(input: PassthroughInput): Promise<PassthroughResponse> {
  const { provider, cancel } = input;
  const c = provider.config;
  const ctx: UpstreamContext = { provider: c.name, model: input.model, apiKey: c.apiKey };
  const body = input.body.model === input.model ? input.rawBody : Buffer.from(JSON.stringify({ ...input.body, model: input.model }));
  if (cancel.aborted) throw cancel.reason;
  const call = new UpstreamCall(cancel);
  provider.pool.dispatch({ path: input.path ?? provider.chatPath, method: "POST", headers: headersFor(provider, input.clientHeaders, body.length), body }, call);
  const failed = (err: unknown, midStream: boolean): unknown => {
    if (!midStream && cancel.aborted) return cancel.reason ?? err;
    return mapFailure(err, ctx, c.timeoutMs, midStream);
  };
  try {
    await call.started();
  } catch (err) {
    throw failed(err, false);
  }
  if (call.status >= 300) {
    const chunks: Buffer[] = [];
    let length = 0;
    try {
      for (let chunk = await call.next(); chunk && length < MAX_ERROR_BODY; chunk = await call.next()) {
        chunks.push(chunk);
        length += chunk.length;
      }
    } catch {
      // The status says enough.
    }
    call.abort(() => new Error("error body read")); // a longer body is not read to its end
    const headers = new Headers();
    if (call.retryAfter !== null) headers.set("retry-after", call.retryAfter);
    throw httpError(call.status, headers, Buffer.concat(chunks).toString("utf8").slice(0, MAX_ERROR_BODY), ctx);
  }
  const close = () => call.abort(() => new Error("pass-through closed"));
  let first: Buffer | null;
  try {
    first = await call.next();
  } catch (err) {
    close();
    throw failed(err, false);
  }
  const rest: AsyncIterator<Buffer> = {
    async next() {
      let chunk: Buffer | null;
      try {
        chunk = await call.next();
      } catch (err) {
        throw failed(err, true);
      }
      return chunk ? { done: false, value: chunk } : { done: true, value: undefined };
    },
  };
  return { contentType: call.contentType, first: first ?? Buffer.alloc(0), rest, close };
}

/** Token usage as the upstream reported it, read from its own words. */
export interface SeenUsage {
  promptTokens: number | null;
  completionTokens: number | null;
}

/**
 * Finds usage in a forwarded body without parsing every chunk: only the SSE `data:` lines
 * that mention `"usage"` are parsed (OpenAI's last chunk with `stream_options.include_usage`,
 * Anthropic's `message_start` and `message_delta`), or the whole body of a JSON answer.
 */
export class UsageScanner {
  readonly usage: SeenUsage = { promptTokens: null, completionTokens: null };
  /** Made on the first SSE chunk: a JSON answer (`json`) never needs one. */
  private decoder: StringDecoder | null = null;
  private carry = "";
  private cacheRead = 0;
  private cacheWrite = 0;

  /** A chunk of an SSE body. */
  push(chunk: Buffer): void {
    this.decoder ??= new StringDecoder("utf8");
    const text = this.carry + this.decoder.write(chunk);
    const lastNl = text.lastIndexOf("\n");
    if (lastNl < 0) {
      this.carry = text.length > 65536 ? "" : text;
      return;
    }
    this.carry = text.slice(lastNl + 1);
    if (!text.includes('"usage"')) return;
    for (const line of text.slice(0, lastNl).split("\n")) {
      if (line.startsWith("data:") && line.includes('"usage"')) this.read(line.slice(5));
    }
  }

  /**
   * A whole JSON body. Only the `usage` object is parsed when it can be cut out (a raw `"usage"`
   * followed by `:` is always a key: inside a string its quotes would be escaped), so a long
   * answer's text is never decoded; anything unusual falls back to parsing the whole body.
   */
  json(body: Buffer): void {
    const at = body.lastIndexOf('"usage"');
    if (at < 0) return;
    const obj = objectAfterKey(body, at + 7);
    if (obj) {
      try {
        this.take(JSON.parse(obj) as Record<string, unknown>);
        return;
      } catch {
        // fall through to the whole body
      }
    }
    this.read(body.toString("utf8"));
  }

  private read(json: string): void {
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(json) as Record<string, unknown>;
    } catch {
      return;
    }
    const msg = v.message as Record<string, unknown> | undefined;
    const u = (v.usage ?? msg?.usage) as Record<string, unknown> | null | undefined;
    if (!u || typeof u !== "object") return;
    this.take(u);
  }

  /**
   * One usage object. Anthropic's `input_tokens` leaves out what was read from or written to its
   * prompt cache (most of an agent's prompt, turn after turn): they are added, as the translated
   * path counts them (`AnthropicStreamDecoder`), so audit rows and metrics agree on either path.
   * A later usage object without the cache fields (a `message_delta`) keeps the ones seen first.
   */
  private take(u: Record<string, unknown>): void {
    this.cacheRead = tokenCount(u.cache_read_input_tokens) ?? this.cacheRead;
    this.cacheWrite = tokenCount(u.cache_creation_input_tokens) ?? this.cacheWrite;
    const input = tokenCount(u.input_tokens);
    const prompt = tokenCount(u.prompt_tokens) ?? (input === null ? null : input + this.cacheRead + this.cacheWrite);
    const completion = tokenCount(u.completion_tokens) ?? tokenCount(u.output_tokens);
    if (prompt !== null) this.usage.promptTokens = prompt;
    if (completion !== null) this.usage.completionTokens = completion;
  }
}

/** The JSON object text that follows `"key"` at `from` (after optional spaces and a colon), or null. */
function objectAfterKey(body: Buffer, from: number): string | null {
  let i = from;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  if (body[i] !== 0x3a /* : */) return null;
  i++;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  if (body[i] !== 0x7b /* { */) return null;
  const start = i;
  let depth = 0;
  let inString = false;
  for (; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b) depth++;
    else if (c === 0x7d && --depth === 0) return body.toString("utf8", start, i + 1);
  }
  return null;
}
