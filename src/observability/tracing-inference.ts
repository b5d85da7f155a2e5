import { SpanKind, context, trace, type Context, type Span } from "@opentelemetry/api";
import type { FastifyRequest } from "fastify";
import type { ChatEvent } from "../core/chat.js";
import type { InferenceEnd } from "./lifecycle.js";
import { endServerSpan, serverSpanOf } from "./tracing-http.js";
import { failSpan, nowMs, tracer, withSpan } from "./tracing-spans.js";

/** GenAI operation names by API route. */
function operationOf(route: string): "chat" | "text_completion" | "embeddings" {
  if (route.endsWith("/completions") && !route.endsWith("/chat/completions")) return "text_completion";
  if (route.endsWith("/embeddings")) return "embeddings";
  return "chat";
}

/**
 * The spans of one inference request, carried by its InferenceTracker: `route`
 * (decoded → routed), the GenAI generation span (`chat <model>`, OTel GenAI
 * conventions) and, through the active context while the backend's events are
 * pulled, the engine's `model.load`, `queue.wait`, `prefill` and `decode` beneath it.
 * Metadata only: never prompt, completion or tool-argument text.
 */
export class InferenceSpans {
  private readonly server: Span | undefined;
  private readonly operation: ReturnType<typeof operationOf>;
  private route: Span | null = null;
  private generation: Span | null = null;
  private genContext: Context | null = null;
  private describedAt: number | null = null;
  private readonly finishReasons: string[] = [];

  constructor(private readonly request: FastifyRequest, routePath: string) {
    this.server = serverSpanOf(request);
    this.operation = operationOf(routePath);
  }

  private serverContext(): Context {
    return trace.setSpan(context.active(), this.server!);
  }

  described(): void {
    if (!this.server) return;
    this.describedAt = nowMs();
    // Embeddings are routed inside the embedding service: their span starts here.
    if (this.operation !== "embeddings") this.route = tracer().startSpan("route", {}, this.serverContext());
  }

  routed(backend: string, model: string, requested: string | null): void {
    if (!this.server || this.generation) return;
    this.route?.setAttributes({ "llmux.backend": backend, "llmux.model": model }).end();
    const provider = backend === "local" ? "llmux" : backend;
    this.generation = tracer().startSpan(
      `${this.operation} ${requested ?? model}`,
      {
        kind: backend === "local" ? SpanKind.INTERNAL : SpanKind.CLIENT,
        startTime: this.operation === "embeddings" ? (this.describedAt ?? undefined) : undefined,
        attributes: {
          "gen_ai.operation.name": this.operation,
          "gen_ai.system": provider,
          "gen_ai.provider.name": provider,
          ...(requested ? { "gen_ai.request.model": requested } : {}),
          "llmux.backend": backend,
        },
      },
      this.serverContext(),
    );
    this.genContext = trace.setSpan(context.active(), this.generation);
  }

  /** Failover moved the request to another target than the one `routed` named. */
  served(backend: string, model: string): void {
    this.generation?.setAttributes({ "llmux.backend": backend, "gen_ai.provider.name": backend === "local" ? "llmux" : backend, "llmux.model": model });
  }

  /**
   * One attempt on a target, run in the generation span's context: for a provider, inside a
   * `provider.attempt` span of its own (the local engine's spans already say what it did).
   */
  attempt<T>(backend: string, model: string, n: number, fn: () => Promise<T>): Promise<T> {
    const ctx = this.genContext;
    if (!ctx) return fn();
    if (backend === "local") return context.with(ctx, fn);
    return context.with(ctx, () => withSpan("provider.attempt", { "llmux.backend": backend, "llmux.model": model, "llmux.attempt": n }, fn));
  }

  /** The backend's events, pulled inside the generation span's context (so engine spans nest under it). */
  bind<T>(events: AsyncIterable<T>): AsyncIterable<T> {
    const ctx = this.genContext;
    if (!ctx) return events;
    return {
      [Symbol.asyncIterator]() {
        const it = context.with(ctx, () => events[Symbol.asyncIterator]());
        return {
          next: (v?: unknown) => context.with(ctx, () => it.next(v as never)),
          return: (v?: unknown) => context.with(ctx, () => (it.return ? it.return(v as never) : Promise.resolve({ done: true as const, value: v as T }))),
          throw: (e?: unknown) => context.with(ctx, () => (it.throw ? it.throw(e) : Promise.reject(e))),
        };
      },
    };
  }

  event(ev: ChatEvent): void {
    if (ev.type === "finish" && this.generation) this.finishReasons.push(ev.reason);
  }

  /** Ends every span of the request with what the lifecycle `end` event knows. */
  end(e: InferenceEnd): void {
    if (!this.server) return;
    const failed = e.status === "error" || e.status === "timeout";
    const errorType = e.status === "success" ? null : e.errorType;
    if (this.route?.isRecording()) {
      // Never routed: the decision itself failed (e.g. `model_not_found`).
      if (errorType) failSpan(this.route, errorType);
      this.route.end();
    }
    const gen = this.generation;
    if (gen) {
      if (e.modelServed) gen.setAttribute("gen_ai.response.model", e.modelServed);
      if (e.promptTokens !== null) gen.setAttribute("gen_ai.usage.input_tokens", e.promptTokens);
      if (e.completionTokens !== null && this.operation !== "embeddings") gen.setAttribute("gen_ai.usage.output_tokens", e.completionTokens);
      if (this.finishReasons.length > 0) gen.setAttribute("gen_ai.response.finish_reasons", this.finishReasons);
      if (e.ttftMs !== null) {
        gen.setAttribute("llmux.ttft_ms", Math.round(e.ttftMs * 10) / 10);
        gen.setAttribute("gen_ai.server.time_to_first_token", e.ttftMs / 1000);
      }
      gen.setAttribute("llmux.stream", e.stream);
      gen.setAttribute("llmux.status", e.status);
      if (failed) failSpan(gen, errorType ?? "error");
      else if (errorType) gen.setAttribute("error.type", errorType);
      gen.end();
    }
    this.server.setAttribute("llmux.status", e.status);
    endServerSpan(this.request, e.httpStatus, errorType, failed && e.httpStatus < 400);
  }
}
