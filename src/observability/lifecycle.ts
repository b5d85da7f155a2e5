import { EventEmitter } from "node:events";

export type InferenceProtocol = "openai" | "anthropic";
export type InferenceStatus = "success" | "error" | "timeout" | "cancelled";

/** What is known when an inference request arrives. Never prompt or completion text. */
export interface InferenceStart {
  requestId: string;
  /** The API route, e.g. `/v1/chat/completions`. */
  route: string;
  protocol: InferenceProtocol;
  /** Epoch milliseconds. */
  startedAt: number;
}

/** One finished inference request, as audit, metrics and tracing see it. */
export interface InferenceEnd extends InferenceStart {
  modelRequested: string | null;
  modelServed: string | null;
  /** `local` or a provider's name. */
  backend: string | null;
  stream: boolean;
  status: InferenceStatus;
  httpStatus: number;
  durationMs: number;
  /** Time to the first generated token (text, reasoning or tool call). */
  ttftMs: number | null;
  promptTokens: number | null;
  completionTokens: number | null;
  /** The error code (`timeout`, `model_not_found`, …), when the request failed. */
  errorType: string | null;
  /** A short client-safe message; never prompt text. */
  errorMessage: string | null;
  /** Gaps between generated tokens, in milliseconds (metrics only; not stored). */
  interTokenMs: number[];
  apiKeyId: string | null;
  userId: string | null;
}

/** An attempt on a routing target failed and another follows (a retry or a fallback). */
export interface InferenceRetry {
  requestId: string;
  /** `local` or the provider's name whose attempt failed. */
  backend: string;
  /** The error code of the failed attempt. */
  errorType: string;
}

interface LifecycleEvents {
  start: [InferenceStart];
  end: [InferenceEnd];
  retry: [InferenceRetry];
}

/**
 * Request lifecycle events. Observability and audit subscribe here instead of
 * being called from handlers; a subscriber that throws never breaks a request.
 */
export class LifecycleBus extends EventEmitter<LifecycleEvents> {
  constructor() {
    super({ captureRejections: false });
    this.setMaxListeners(32);
  }

  /** Emits to every listener, isolating failures (logged by the caller's `onError`). */
  publish<K extends keyof LifecycleEvents>(event: K, payload: LifecycleEvents[K][0], onError?: (err: unknown) => void): void {
    for (const listener of this.listeners(event) as ((p: LifecycleEvents[K][0]) => void)[]) {
      try {
        listener(payload);
      } catch (err) {
        onError?.(err);
      }
    }
  }
}
