/**
 * One request → its timings. Streams are read with the body's own reader and parsed by
 * `SseParser`; every event of one network read gets that read's arrival time, so the
 * per-token work is a JSON.parse and a few comparisons.
 */
import { endpointUrl, PROTOCOLS } from "./protocols.js";
import { SseParser } from "./sse.js";
import type { BenchTarget, RequestResult } from "./types.js";

/** Characters per token when estimating from text (non-streaming responses without usage). */
const CHARS_PER_TOKEN = 4;

/** An error before any measurement: the bench should stop rather than record it (bad URL, model, key). */
export function isConfigError(result: Pick<RequestResult, "ok" | "error">): boolean {
  // 408 and 429 are the server being busy, which is what a bench may find; other 4xx are our mistake.
  return !result.ok && /^(HTTP 4(?!08|29)\d\d|fetch failed)/.test(result.error ?? "");
}

const describeError = (err: unknown): string => {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError") return "timed out";
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e.message}: ${cause}` : String(e?.message ?? err);
};

/**
 * Sends one request and measures it. Never throws: failures come back as `ok: false`
 * with the reason. The inter-token gaps of a successful stream are appended to `itlSink`
 * (pooled by the caller).
 */
export async function sendRequest(target: BenchTarget, prompt: string, itlSink?: number[]): Promise<RequestResult> {
  const protocol = PROTOCOLS[target.protocol];
  const url = endpointUrl(target.url, protocol.path);
  const init: RequestInit = {
    method: "POST",
    headers: protocol.headers(target.apiKey),
    body: JSON.stringify(protocol.body(target, prompt)),
    signal: AbortSignal.timeout(target.timeoutMs),
  };

  let first = -1;
  let last = -1;
  let deltas = 0;
  let serverOutput: number | undefined;
  let serverPrompt: number | undefined;
  let ended = false;
  let failure: string | undefined;
  const gaps: number[] = [];
  const sink = {
    delta(now: number) {
      if (first < 0) first = now;
      else gaps.push(now - last);
      last = now;
      deltas++;
    },
    usage(output: number | undefined, promptTokens: number | undefined) {
      if (output !== undefined) serverOutput = output;
      if (promptTokens !== undefined) serverPrompt = promptTokens;
    },
    end() {
      ended = true;
    },
    fail(message: string) {
      failure ??= message;
    },
  };

  const t0 = performance.now();
  const failed = (error: string): RequestResult => ({
    ok: false,
    error,
    ttftMs: first < 0 ? null : first - t0,
    e2eMs: performance.now() - t0,
    decodeMs: null,
    outputTokens: 0,
    promptTokens: null,
    usageSource: "server",
    deltas,
  });

  try {
    const res = await fetch(url, init);
    if (!res.ok) {
      const text = await res.text().catch(() => "");
      return failed(`HTTP ${res.status}${text ? `: ${text.replace(/\s+/g, " ").slice(0, 200)}` : ""}`);
    }
    if (!target.stream) {
      const whole = protocol.parseResponse(JSON.parse(await res.text()));
      const end = performance.now();
      const estimated = whole.outputTokens === undefined;
      return {
        ok: true,
        ttftMs: null,
        e2eMs: end - t0,
        decodeMs: null,
        outputTokens: whole.outputTokens ?? Math.round(whole.text.length / CHARS_PER_TOKEN),
        promptTokens: whole.promptTokens ?? null,
        usageSource: estimated ? "estimate" : "server",
        deltas: 0,
      };
    }
    if (!res.body) return failed("response has no body");
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    let now = 0;
    const onEvent = (data: string, event: string | undefined) => protocol.onEvent(data, event, now, sink);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      now = performance.now();
      parser.push(decoder.decode(value, { stream: true }), onEvent);
      if (failure) {
        await reader.cancel().catch(() => {});
        break;
      }
    }
    parser.flush(onEvent);
    const end = performance.now();
    if (failure) return failed(failure);
    if (!ended) return failed(target.protocol === "openai" ? "stream ended before [DONE]" : "stream ended before message_stop");
    if (itlSink) for (const g of gaps) itlSink.push(g);
    return {
      ok: true,
      ttftMs: first < 0 ? null : first - t0,
      e2eMs: end - t0,
      decodeMs: first < 0 ? null : end - first,
      outputTokens: serverOutput ?? deltas,
      promptTokens: serverPrompt ?? null,
      usageSource: serverOutput === undefined ? "deltas" : "server",
      deltas,
    };
  } catch (err) {
    return failed(describeError(err));
  }
}
