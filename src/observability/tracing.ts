import { trace } from "@opentelemetry/api";
// Types only: the SDK, the exporter and the instrumentation are loaded (dynamic import) only
// when something will export spans, so a server that traces nowhere pays neither their memory
// nor a span per request.
import type { SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

export const LOGFIRE_DEFAULT_BASE_URL = "https://logfire-api.pydantic.dev";

/** Where spans go, as the environment asks. `exporter: null`: exported nowhere, so (unless a test injects an exporter) no provider is registered. */
export type TracingConfig =
  | { enabled: false }
  | { enabled: true; exporter: null | { kind: "logfire" | "otlp"; url: string; headers: Record<string, string> } };

/**
 * Reads the tracing settings: `LLMUX_TELEMETRY=off` disables tracing; `LOGFIRE_TOKEN`
 * exports to Logfire (`LOGFIRE_BASE_URL` overrides its address); otherwise
 * `OTEL_EXPORTER_OTLP_ENDPOINT` exports OTLP/HTTP there; otherwise nothing is exported.
 */
export function resolveTracingConfig(env: NodeJS.ProcessEnv = process.env): TracingConfig {
  if (["off", "0", "false", "disabled"].includes((env.LLMUX_TELEMETRY ?? "").trim().toLowerCase())) return { enabled: false };
  const token = env.LOGFIRE_TOKEN?.trim();
  if (token) {
    const base = (env.LOGFIRE_BASE_URL?.trim() || LOGFIRE_DEFAULT_BASE_URL).replace(/\/+$/, "");
    return { enabled: true, exporter: { kind: "logfire", url: `${base}/v1/traces`, headers: { Authorization: token } } };
  }
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (endpoint) return { enabled: true, exporter: { kind: "otlp", url: `${endpoint.replace(/\/+$/, "")}/v1/traces`, headers: {} } };
  return { enabled: true, exporter: null };
}

export interface TracingOptions {
  serviceVersion: string;
  /** Tests: spans go to this exporter through a SimpleSpanProcessor, whatever the environment says. */
  exporter?: SpanExporter;
  /** Spans for outgoing fetch/undici requests (provider calls); default on. */
  instrumentFetch?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** The process's tracing, as set up; `shutdown` flushes what is pending and unregisters it. */
export interface Tracing {
  enabled: boolean;
  /** `none` when spans are exported nowhere. */
  exporter: "logfire" | "otlp" | "injected" | "none" | null;
  shutdown(): Promise<void>;
}

let active: NodeTracerProvider | null = null;

/** Whether a tracer provider is registered now (HTTP hooks and query spans exist only then). */
export function tracingActive(): boolean {
  return active !== null;
}

const OFF: Tracing = { enabled: false, exporter: null, shutdown: async () => undefined };

/**
 * Registers the global tracer provider (AsyncLocalStorage context, W3C propagation)
 * before the HTTP server is built, only when spans will go somewhere: an exporter named by
 * the environment (Logfire, OTLP) or injected by a test. Otherwise nothing is registered:
 * the OTel API's no-op tracer makes every span call free, no instrumentation patches
 * undici, and the SDK modules are never loaded (`exporter: "none"`).
 */
export async function setupTracing(options: TracingOptions): Promise<Tracing> {
  const config = resolveTracingConfig(options.env);
  if (!config.enabled) return OFF;
  if (!options.exporter && !config.exporter) return { ...OFF, exporter: "none" };
  const [{ BatchSpanProcessor, SimpleSpanProcessor }, { NodeTracerProvider }, { defaultResource, resourceFromAttributes }, semconv] = await Promise.all([
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/sdk-trace-node"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/semantic-conventions"),
  ]);
  const processors: SpanProcessor[] = [];
  let kind: Tracing["exporter"];
  if (options.exporter) {
    processors.push(new SimpleSpanProcessor(options.exporter));
    kind = "injected";
  } else {
    const exporter = config.exporter!;
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: exporter.url, headers: exporter.headers })));
    kind = exporter.kind;
  }
  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({ [semconv.ATTR_SERVICE_NAME]: "llmux", [semconv.ATTR_SERVICE_VERSION]: options.serviceVersion }),
    ),
    spanProcessors: processors,
  });
  // One provider per process: a newer app (tests start several) replaces an older one.
  if (active) trace.disable();
  provider.register();
  active = provider;
  let unregister: () => void = () => undefined;
  if (options.instrumentFetch !== false) {
    const [{ registerInstrumentations }, { UndiciInstrumentation }] = await Promise.all([
      import("@opentelemetry/instrumentation"),
      import("@opentelemetry/instrumentation-undici"),
    ]);
    unregister = registerInstrumentations({ instrumentations: [new UndiciInstrumentation()], tracerProvider: provider });
  }
  let closing: Promise<void> | null = null;
  return {
    enabled: true,
    exporter: kind,
    shutdown: () =>
      (closing ??= (async () => {
        unregister();
        try {
          await provider.shutdown(); // flushes the batch processor
        } finally {
          if (active === provider) {
            trace.disable();
            active = null;
          }
        }
      })()),
  };
}
