import { SpanStatusCode, context, trace, type Attributes, type Span, type Tracer } from "@opentelemetry/api";
import type { RunnerTimings } from "../engine/runner/protocol.js";

/** llmux's tracer from the global provider (a no-op one when tracing is off). Looked up per use: tests replace the provider. */
export function tracer(): Tracer {
  return trace.getTracer("llmux");
}

/** Epoch milliseconds with sub-millisecond precision, the clock span times use. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Marks a span failed by error code only: messages may quote what a client sent. */
export function failSpan(span: Span, code: string): void {
  span.setAttribute("error.type", code);
  span.setStatus({ code: SpanStatusCode.ERROR });
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code : ((err as Error)?.name ?? "Error");
}

/**
 * Runs `fn` inside a span that is a child of the active one (or a new root),
 * ending it when `fn` settles. Attributes must never hold prompt or completion text.
 */
export async function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, options: { root?: boolean } = {}): Promise<T> {
  return tracer().startActiveSpan(name, { attributes, root: options.root }, context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      failSpan(span, codeOf(err));
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Records a runner's phases (`queue.wait`, `prefill`, `decode`) as children of the
 * active span after the fact. The runner's clock is its own, so the phases are laid
 * back to back ending at `endMs`, when the server received its `done`.
 */
export function recordRunnerPhases(timings: RunnerTimings, endMs = nowMs()): void {
  const parent = trace.getActiveSpan();
  if (!parent?.isRecording()) return;
  const decodeStart = endMs - timings.decodeMs;
  const prefillStart = decodeStart - timings.prefillMs;
  const queueStart = prefillStart - timings.queueMs;
  const t = tracer();
  const ctx = context.active();
  t.startSpan("queue.wait", { startTime: queueStart }, ctx).end(prefillStart);
  t.startSpan("prefill", { startTime: prefillStart }, ctx).end(decodeStart);
  t.startSpan("decode", { startTime: decodeStart }, ctx).end(endMs);
}
