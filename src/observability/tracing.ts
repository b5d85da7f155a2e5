import { trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { UndiciInstrumentation } from "@opentelemetry/instrumentation-undici";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";

export const LOGFIRE_DEFAULT_BASE_URL = "https://logfire-api.pydantic.dev";

/** Where spans go, as the environment asks. `exporter: null`: spans are made but exported nowhere. */
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

/** Whether a tracer provider is registered now (HTTP hooks are installed only then). */
export function tracingActive(): boolean {
  return active !== null;
}

/**
 * Registers the global tracer provider (AsyncLocalStorage context, W3C propagation)
 * before the HTTP server is built. Spans are exported only where the environment
 * (or a test) says; with no exporter configured nothing touches the network or the console.
 */
export function setupTracing(options: TracingOptions): Tracing {
  const config = resolveTracingConfig(options.env);
  if (!config.enabled) return { enabled: false, exporter: null, shutdown: async () => undefined };
  const processors: SpanProcessor[] = [];
  let kind: Tracing["exporter"] = "none";
  if (options.exporter) {
    processors.push(new SimpleSpanProcessor(options.exporter));
    kind = "injected";
  } else if (config.exporter) {
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: config.exporter.url, headers: config.exporter.headers })));
    kind = config.exporter.kind;
  }
  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: "llmux", [ATTR_SERVICE_VERSION]: options.serviceVersion })),
    spanProcessors: processors,
  });
  // One provider per process: a newer app (tests start several) replaces an older one.
  if (active) trace.disable();
  provider.register();
  active = provider;
  const unregister =
    options.instrumentFetch === false ? () => undefined : registerInstrumentations({ instrumentations: [new UndiciInstrumentation()], tracerProvider: provider });
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
