import type { FastifyReply, FastifyRequest } from "fastify";
import { MODEL_NAME_MAX } from "../codecs/validation.js";
import type { ChatEvent } from "../core/chat.js";
import { LlmuxError, isLlmuxError } from "../errors/llmux-error.js";
import type { InferenceEnd, InferenceProtocol, LifecycleBus } from "../observability/lifecycle.js";
import { InferenceSpans } from "../observability/tracing-inference.js";
import type { AbortSource } from "../routing/passthrough.js";
import type { TimeoutSettings, TimeoutEndpoint } from "../settings/timeouts.js";

const ERROR_MESSAGE_MAX = 200;

/**
 * One inference request from arrival to its real end: it owns the request's cancellation
 * (client gone, or the endpoint's timeout), offered as an AbortSignal and as an AbortSource,
 * observes the canonical events for time to first token and usage, and publishes `end` on the
 * lifecycle bus when the response is really over: the last byte written, or the client gone.
 * Routes call `begin` first thing, so even a request refused as invalid is counted.
 */
export class InferenceTracker implements AbortSource {
  /** Made when something asks for `signal`: a pass-through request never does (see AbortSource). */
  private controller: AbortController | null = null;
  private abortedWith: { reason: Error } | null = null;
  private abortListeners: (() => void)[] | null = null;
  private readonly startedAt = Date.now();
  private readonly t0 = performance.now();
  private timer: NodeJS.Timeout | null = null;
  private timedOut = false;
  private firstTokenAt: number | null = null;
  private lastTokenAt: number | null = null;
  private readonly gaps: number[] = [];
  private finished = false;
  private error: LlmuxError | null = null;
  /** The request's trace spans (no-ops when tracing is off). */
  private readonly spans: InferenceSpans;
  private readonly info: Pick<InferenceEnd, "modelRequested" | "modelServed" | "backend" | "stream" | "promptTokens" | "completionTokens"> = {
    modelRequested: null,
    modelServed: null,
    backend: null,
    stream: false,
    promptTokens: null,
    completionTokens: null,
  };

  constructor(
    private readonly request: FastifyRequest,
    reply: FastifyReply,
    private readonly route: string,
    private readonly protocol: InferenceProtocol,
    private readonly bus: LifecycleBus,
    private readonly timeoutSeconds: number,
  ) {
    this.spans = new InferenceSpans(request, route);
    reply.raw.once("close", () => {
      if (!reply.raw.writableFinished) this.abort(new Error("client disconnected"));
      this.end(reply);
    });
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.abort(this.timeoutError());
    }, timeoutSeconds * 1000);
    this.timer.unref();
    bus.publish("start", { requestId: request.id, route, protocol, startedAt: this.startedAt }, (err) => this.logSubscriberError(err));
  }

  /** Aborted when the client goes away or the endpoint's timeout fires. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortedWith) this.controller.abort(this.abortedWith.reason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.abortedWith !== null;
  }

  get reason(): unknown {
    return this.abortedWith?.reason;
  }

  onAbort(listener: () => void): () => void {
    (this.abortListeners ??= []).push(listener);
    return () => {
      const i = this.abortListeners?.indexOf(listener) ?? -1;
      if (i >= 0) this.abortListeners!.splice(i, 1);
    };
  }

  private abort(reason: Error): void {
    if (this.abortedWith) return;
    this.abortedWith = { reason };
    this.controller?.abort(reason);
    const listeners = this.abortListeners;
    this.abortListeners = null;
    for (const listener of listeners ?? []) listener();
  }

  /** When this request times out (epoch ms): failover does not wait for a retry past it. */
  get deadline(): number {
    return this.startedAt + this.timeoutSeconds * 1000;
  }

  /**
   * Records what the request asked for, once decoded. The codecs refuse a model name over
   * {@link MODEL_NAME_MAX}; a longer one is cut here as well, since it goes into the audit row.
   */
  describe(model: string, stream: boolean): void {
    this.info.modelRequested = model.length > MODEL_NAME_MAX ? `${model.slice(0, MODEL_NAME_MAX)}…` : model;
    this.info.stream = stream;
    this.spans.described();
  }

  /** Records where routing sent it. */
  routed(backend: string, model: string): void {
    this.info.backend = backend;
    this.info.modelServed = model;
    this.spans.routed(backend, model, this.info.modelRequested);
  }

  /** Records where failover finally sent it (when not the first target). */
  served(backend: string, model: string): void {
    if (this.info.backend === backend && this.info.modelServed === model) return;
    this.info.backend = backend;
    this.info.modelServed = model;
    this.spans.served(backend, model);
  }

  /** Runs one attempt on a routing target inside its own span (`provider.attempt`), under the generation span. */
  attempt<T>(target: { backendName: string; model: string }, n: number, fn: () => Promise<T>): Promise<T> {
    return this.spans.attempt(target.backendName, target.model, n, fn);
  }

  /** An attempt on `backend` failed and another follows: counted as that provider's retry. */
  retried(target: { backendName: string }, err: unknown): void {
    const code = isLlmuxError(err) ? err.code : "error";
    this.bus.publish("retry", { requestId: this.request.id, backend: target.backendName, errorType: code }, (e) => this.logSubscriberError(e));
  }

  /** A pass-through stream sent bytes holding generated output (for time to first token and gaps). */
  token(): void {
    const now = performance.now();
    if (this.firstTokenAt === null) this.firstTokenAt = now;
    else if (this.lastTokenAt !== null && this.gaps.length < 4096) this.gaps.push(now - this.lastTokenAt);
    this.lastTokenAt = now;
  }

  /** Records token usage of a request that has no event stream (embeddings). */
  recordUsage(promptTokens: number, completionTokens: number): void {
    this.info.promptTokens = promptTokens;
    this.info.completionTokens = completionTokens;
  }

  /** The failure the response reports (set by the error handler or the SSE pump). */
  fail(err: unknown): void {
    this.error = isLlmuxError(err) ? err : new LlmuxError("internal", "an internal error occurred");
  }

  /**
   * Passes a backend's events through, noting the first token, token gaps and
   * usage. When the timeout fired the stream ends in a `timeout` error, never in a
   * quiet (partial) success.
   */
  async *observe(events: AsyncIterable<ChatEvent>): AsyncGenerator<ChatEvent> {
    for await (const ev of this.spans.bind(events)) {
      this.spans.event(ev);
      if (ev.type === "start") this.info.modelServed ??= ev.model;
      else if (ev.type === "text" || ev.type === "reasoning" || ev.type === "tool_call_start" || ev.type === "tool_call_delta") {
        const now = performance.now();
        if (this.firstTokenAt === null) this.firstTokenAt = now;
        else if (this.lastTokenAt !== null && this.gaps.length < 4096) this.gaps.push(now - this.lastTokenAt);
        this.lastTokenAt = now;
      } else if (ev.type === "usage") {
        this.info.promptTokens = (this.info.promptTokens ?? 0) + ev.usage.promptTokens;
        this.info.completionTokens = (this.info.completionTokens ?? 0) + ev.usage.completionTokens;
      }
      yield ev;
    }
    if (this.timedOut) throw this.timeoutError();
  }

  private timeoutError(): LlmuxError {
    return new LlmuxError("timeout", `the request took longer than ${this.timeoutSeconds}s and was stopped`, {
      extra: { timeout_seconds: this.timeoutSeconds },
    });
  }

  private end(reply: FastifyReply): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    const complete = reply.raw.writableFinished;
    const err = this.error;
    const status =
      this.timedOut || err?.code === "timeout" ? "timeout" : !complete ? "cancelled" : err || reply.statusCode >= 400 ? "error" : "success";
    const ended: InferenceEnd = {
      requestId: this.request.id,
      route: this.route,
      protocol: this.protocol,
      startedAt: this.startedAt,
      ...this.info,
      status,
      // A client that left before any answer was sent got none: 499 (nginx's "client closed
      // request"), not the 200 Fastify's reply holds by default.
      httpStatus: status === "cancelled" && !reply.raw.headersSent ? CLIENT_CLOSED_REQUEST : reply.statusCode,
      durationMs: performance.now() - this.t0,
      ttftMs: this.firstTokenAt === null ? null : this.firstTokenAt - this.t0,
      errorType: status === "timeout" ? "timeout" : (err?.code ?? (status === "cancelled" ? "cancelled" : null)),
      // Metadata only: a provider's quoted words (which may echo the prompt) stay out of the audit row.
      errorMessage: err ? err.metadataDetail.slice(0, ERROR_MESSAGE_MAX) : null,
      interTokenMs: this.gaps,
      // Who asked (set by the auth hook, src/auth/enforce.ts): the audit row records the key and its owner.
      apiKeyId: this.request.principal?.apiKey?.id ?? null,
      userId: this.request.principal?.user.id ?? null,
    };
    this.spans.end(ended);
    this.bus.publish("end", ended, (e) => this.logSubscriberError(e));
  }

  private logSubscriberError(err: unknown): void {
    this.request.log.error({ err, request_id: this.request.id }, "lifecycle subscriber failed");
  }
}

/** The status recorded for a request whose client left before any answer was sent. */
const CLIENT_CLOSED_REQUEST = 499;

/** What inference routes need to track requests. */
export interface InferenceDeps {
  bus: LifecycleBus;
  timeouts: TimeoutSettings;
}

/** Starts tracking an inference request with its endpoint's current timeout. */
export function beginInference(
  deps: InferenceDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  endpoint: TimeoutEndpoint,
  protocol: InferenceProtocol,
): InferenceTracker {
  const tracker = new InferenceTracker(request, reply, request.routeOptions.url ?? request.url, protocol, deps.bus, deps.timeouts.get(endpoint));
  request.inference = tracker;
  return tracker;
}

declare module "fastify" {
  interface FastifyRequest {
    /** Set on inference routes; the error handler reports failures to it. */
    inference?: InferenceTracker;
  }
}
