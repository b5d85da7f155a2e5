import type { FastifyReply, FastifyRequest } from "fastify";
import type { OutgoingHttpHeaders } from "node:http";
import { MODEL_NAME_MAX } from "../codecs/validation.js";
import type { ChatBackend, ChatEvent, ChatRequest } from "../core/chat.js";
import type { LlmuxError } from "../errors/llmux-error.js";
import { canPassThrough, openPassthrough, UsageScanner, type PassthroughResponse } from "../routing/passthrough.js";
import type { ProviderProtocol } from "../routing/provider-set.js";
import type { PlannedTarget, Router } from "../routing/router.js";
import type { InferenceTracker } from "./inference.js";
import { toLlmuxError } from "./problem.js";
import { TurnWriter, writeTurn } from "./write-turn.js";

/** What a committed attempt opened: the upstream's own bytes (same protocol) or canonical events. */
export type Routed =
  | { kind: "raw"; upstream: PassthroughResponse }
  | { kind: "events"; events: AsyncIterable<ChatEvent>; backend: ChatBackend; request: ChatRequest };

/**
 * Pulls the first event before committing, so a backend that fails before producing
 * anything (refused, 429, 5xx, timeout) can still be retried or failed over.
 */
async function openEvents(backend: ChatBackend, request: ChatRequest, signal: AbortSignal): Promise<AsyncIterable<ChatEvent>> {
  const it = backend.stream(request, { signal })[Symbol.asyncIterator]();
  let first: IteratorResult<ChatEvent>;
  try {
    first = await it.next();
  } catch (err) {
    await it.return?.();
    throw err;
  }
  return (async function* () {
    try {
      for (let step = first; !step.done; step = await it.next()) yield step.value;
    } finally {
      await it.return?.();
    }
  })();
}

/**
 * The model and streaming flag of a chat body, read without decoding it; null when not plainly
 * there, or when the name is longer than a decoded request may carry (the decoder then refuses it).
 */
export function peekChat(body: unknown): { model: string; stream: boolean } | null {
  if (!body || typeof body !== "object" || Array.isArray(body)) return null;
  const { model, stream } = body as { model?: unknown; stream?: unknown };
  if (typeof model !== "string" || model === "" || model.length > MODEL_NAME_MAX || (stream !== undefined && stream !== null && typeof stream !== "boolean")) return null;
  return { model, stream: stream === true };
}

/**
 * Routes a chat request and runs it with failover until one target commits, then calls
 * `serve` with what it opened. A provider of the client's own protocol gets the body as it
 * came (pass-through: not decoded, so fields llmux does not know reach the provider);
 * anything else goes through the canonical model, decoded (and validated) before any attempt.
 * A request that does not decode (a field llmux cannot translate: `logprobs`, a `file_id`) still
 * goes to the targets that take it as it came, and to them only; with none, it is refused.
 */
export async function routeChat(
  router: Router,
  tracker: InferenceTracker,
  request: FastifyRequest,
  protocol: ProviderProtocol,
  model: string,
  decode: () => ChatRequest,
  serve: (routed: Routed) => Promise<unknown>,
): Promise<unknown> {
  let plan = await router.plan(model);
  const rawBody = request.rawBody;
  const passes = (t: PlannedTarget) => rawBody !== undefined && canPassThrough(protocol, t.provider);
  let refused: unknown;
  if (!plan.targets.every(passes)) {
    try {
      decode();
    } catch (err) {
      const same = plan.targets.filter(passes);
      if (same.length === 0) refused = err;
      else plan = { ...plan, targets: same };
    }
  }
  // Recorded even for a refusal: the audit row says where the request would have gone.
  tracker.routed(plan.targets[0]!.backendName, plan.targets[0]!.model);
  if (refused !== undefined) throw refused;
  const opened = await router.open(plan, tracker, async (t): Promise<Routed> => {
    if (rawBody && canPassThrough(protocol, t.provider)) {
      const upstream = await openPassthrough({
        provider: t.provider,
        model: t.model,
        rawBody,
        body: request.body as Record<string, unknown>,
        clientHeaders: request.headers,
        cancel: tracker,
      });
      return { kind: "raw", upstream };
    }
    const routed = { ...decode(), model: t.model };
    return { kind: "events", events: await openEvents(t.backend, routed, tracker.signal), backend: t.backend, request: routed };
  });
  tracker.served(opened.target.backendName, opened.target.model);
  try {
    return await serve(opened.value);
  } finally {
    if (opened.value.kind === "raw") opened.value.upstream.close();
    opened.done();
  }
}

/**
 * Forwards a pass-through response: a stream chunk by chunk as it arrives (backpressure
 * honoured, usage read from the few lines that carry it), or a JSON answer whole. A failure
 * after the first byte goes in-band, in the client's protocol (`inBandError`).
 */
export async function forwardPassthrough(
  request: FastifyRequest,
  reply: FastifyReply,
  tracker: InferenceTracker,
  upstream: PassthroughResponse,
  stream: boolean,
  extraHeaders: Record<string, string>,
  inBandError: (err: LlmuxError) => string,
): Promise<unknown> {
  const usage = new UsageScanner();
  const res = reply.raw;
  if (!stream) {
    const chunks: Buffer[] = [upstream.first];
    try {
      for (let s = await upstream.rest.next(); !s.done; s = await upstream.rest.next()) chunks.push(s.value);
    } catch (err) {
      throw toLlmuxError(err); // nothing was sent yet: an ordinary problem
    }
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    tracker.token();
    usage.json(body);
    if (usage.usage.promptTokens !== null || usage.usage.completionTokens !== null) tracker.recordUsage(usage.usage.promptTokens ?? 0, usage.usage.completionTokens ?? 0);
    // Fastify's own send: it writes the headers the hooks set (request id, security headers,
    // CORS) as they are, where merging them into a new object for writeHead cost ~3% of the CPU.
    reply.header("content-type", upstream.contentType);
    for (const name in extraHeaders) reply.header(name, extraHeaders[name]);
    await writeTurn(); // written with the loop turn's other answers (write-turn.ts)
    return reply.send(body);
  }
  reply.hijack();
  res.writeHead(200, {
    ...(reply.getHeaders() as OutgoingHttpHeaders),
    "content-type": upstream.contentType,
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
    "x-request-id": request.id,
    ...extraHeaders,
  });
  const out = new TurnWriter(res);
  const write = async (chunk: Buffer) => {
    tracker.token();
    usage.push(chunk);
    out.write(chunk);
    await out.ready();
  };
  try {
    if (upstream.first.length > 0) await write(upstream.first);
    for (let s = await upstream.rest.next(); !s.done && !res.destroyed; s = await upstream.rest.next()) await write(s.value);
    out.end();
  } catch (err) {
    if (res.destroyed) return;
    const e = toLlmuxError(err);
    tracker.fail(e);
    out.end(inBandError(e));
  } finally {
    if (usage.usage.promptTokens !== null || usage.usage.completionTokens !== null) tracker.recordUsage(usage.usage.promptTokens ?? 0, usage.usage.completionTokens ?? 0);
  }
}

declare module "fastify" {
  interface FastifyRequest {
    /** A JSON request body's bytes as received (for pass-through to providers). */
    rawBody?: Buffer;
  }
}
