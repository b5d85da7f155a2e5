import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, it } from "node:test";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { resolveTracingConfig, setupTracing, tracingActive } from "../../src/observability/tracing.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const CANARY = "CANARY-7f3a9-do-not-export";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the server span of a request has ended (it ends when the response really ends). */
async function serverSpan(exporter: InMemorySpanExporter, requestId: string): Promise<ReadableSpan> {
  for (let i = 0; i < 200; i++) {
    const span = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.attributes["llmux.request_id"] === requestId);
    if (span) return span;
    await sleep(10);
  }
  throw new Error(`no server span for ${requestId}`);
}

/** The spans of one trace, by name (each name once), with the parent checks done by the caller. */
function traceOf(exporter: InMemorySpanExporter, root: ReadableSpan): Map<string, ReadableSpan> {
  const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === root.spanContext().traceId);
  const byName = new Map<string, ReadableSpan>();
  for (const s of spans) {
    assert.ok(!byName.has(s.name), `span '${s.name}' appears once per request`);
    byName.set(s.name, s);
  }
  return byName;
}

const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const idOf = (s: ReadableSpan) => s.spanContext().spanId;

function assertRequestTrace(
  exporter: InMemorySpanExporter,
  root: ReadableSpan,
  expected: { requestId: string; stream: boolean; loaded: boolean; usage: { prompt_tokens: number; completion_tokens: number }; finish: string },
): void {
  assert.equal(root.parentSpanContext, undefined, "the server span is the root");
  assert.equal(root.name, "POST /v1/chat/completions");
  assert.deepEqual(
    { ...root.attributes, "server.port": typeof root.attributes["server.port"] },
    {
      "http.request.method": "POST",
      "url.path": "/v1/chat/completions",
      "url.scheme": "http",
      "http.route": "/v1/chat/completions",
      "server.address": "127.0.0.1",
      "server.port": "number",
      "llmux.request_id": expected.requestId,
      "http.response.status_code": 200,
      "llmux.status": "success",
    },
  );
  assert.notEqual(root.status.code, SpanStatusCode.ERROR);

  const spans = traceOf(exporter, root);
  const names = [...spans.keys()].sort();
  const want = ["POST /v1/chat/completions", "route", "chat tiny", "queue.wait", "prefill", "decode", ...(expected.loaded ? [] : ["model.load"])].sort();
  assert.deepEqual(names, want);

  const route = spans.get("route")!;
  const gen = spans.get("chat tiny")!;
  assert.equal(parentOf(route), idOf(root));
  assert.equal(parentOf(gen), idOf(root));
  assert.deepEqual(route.attributes, { "llmux.backend": "local", "llmux.model": "tiny" });
  for (const name of ["queue.wait", "prefill", "decode", ...(expected.loaded ? [] : ["model.load"])]) {
    assert.equal(parentOf(spans.get(name)!), idOf(gen), `${name} is a child of the generation span`);
  }
  // The engine's phases lie back to back inside the generation span.
  const t = (s: ReadableSpan, which: "startTime" | "endTime") => s[which][0] * 1e3 + s[which][1] / 1e6;
  assert.ok(Math.abs(t(spans.get("queue.wait")!, "endTime") - t(spans.get("prefill")!, "startTime")) < 0.01);
  assert.ok(Math.abs(t(spans.get("prefill")!, "endTime") - t(spans.get("decode")!, "startTime")) < 0.01);
  assert.ok(t(spans.get("queue.wait")!, "startTime") >= t(gen, "startTime") - 5);

  const ttft = gen.attributes["llmux.ttft_ms"];
  assert.equal(typeof ttft, "number");
  assert.ok((ttft as number) > 0);
  assert.ok(Math.abs((gen.attributes["gen_ai.server.time_to_first_token"] as number) * 1000 - (ttft as number)) < 0.1, "TTFT in seconds too");
  const { "llmux.ttft_ms": _t, "gen_ai.server.time_to_first_token": _s, ...rest } = gen.attributes;
  assert.deepEqual(rest, {
    "gen_ai.operation.name": "chat",
    "gen_ai.system": "llmux",
    "gen_ai.provider.name": "llmux",
    "gen_ai.request.model": "tiny",
    "gen_ai.response.model": "tiny",
    "gen_ai.usage.input_tokens": expected.usage.prompt_tokens,
    "gen_ai.usage.output_tokens": expected.usage.completion_tokens,
    "gen_ai.response.finish_reasons": [expected.finish],
    "llmux.backend": "local",
    "llmux.stream": expected.stream,
    "llmux.status": "success",
  });
}

describe("tracing", () => {
  const exporter = new InMemorySpanExporter();
  let s: TestServer;
  before(async () => {
    // Outgoing fetch spans are left out here: the test's own SDK calls would join the server's traces.
    s = await startTestServer({ tracing: { exporter, instrumentFetch: false } });
  });
  after(() => s?.close());

  it("traces a non-streaming then a streaming chat request: server span, route, model load once, engine phases, GenAI span", async () => {
    const first = await s.openai.chat.completions
      .create({ model: "tiny", messages: [{ role: "user", content: `say ${CANARY}` }], max_tokens: 8, seed: 1 })
      .withResponse();
    const id1 = first.response.headers.get("x-request-id")!;
    const root1 = await serverSpan(exporter, id1);
    assertRequestTrace(exporter, root1, {
      requestId: id1,
      stream: false,
      loaded: false,
      usage: first.data.usage!,
      finish: first.data.choices[0].finish_reason === "length" ? "length" : "stop",
    });

    const second = await s.openai.chat.completions
      .create({ model: "tiny", messages: [{ role: "user", content: `again ${CANARY}` }], max_tokens: 8, seed: 2, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    let finish: string | undefined;
    for await (const c of second.data) {
      usage = c.usage ?? usage;
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    const id2 = second.response.headers.get("x-request-id")!;
    const root2 = await serverSpan(exporter, id2);
    assert.notEqual(root2.spanContext().traceId, root1.spanContext().traceId);
    assertRequestTrace(exporter, root2, { requestId: id2, stream: true, loaded: true, usage: usage!, finish: finish === "length" ? "length" : "stop" });
  });

  it("traces audit batch writes in their own root span", async () => {
    for (let i = 0; i < 100 && !exporter.getFinishedSpans().some((x) => x.name === "db.audit_write"); i++) await sleep(20);
    const write = exporter.getFinishedSpans().find((x) => x.name === "db.audit_write");
    assert.ok(write, "a db.audit_write span");
    assert.equal(write.parentSpanContext, undefined);
    assert.equal(write.attributes["db.system.name"], "sqlite");
    assert.ok((write.attributes["db.operation.batch.size"] as number) >= 1);
    // The SQL itself is a child span, named by operation and table, without the query's values.
    const query = exporter.getFinishedSpans().find((x) => x.parentSpanContext?.spanId === write.spanContext().spanId);
    assert.ok(query, "a query span under the batch write");
    assert.equal(query.name, "INSERT audit_log");
    assert.equal(query.kind, SpanKind.CLIENT);
    assert.deepEqual(
      { system: query.attributes["db.system.name"], op: query.attributes["db.operation.name"], table: query.attributes["db.collection.name"] },
      { system: "sqlite", op: "INSERT", table: "audit_log" },
    );
    assert.ok(!JSON.stringify(query.attributes).includes(CANARY));
  });

  it("gives a non-inference request a server span too, and marks errors", async () => {
    const res = await fetch(`${s.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "nope", messages: [{ role: "user", content: CANARY }] }) });
    assert.equal(res.status, 404);
    const root = await serverSpan(exporter, res.headers.get("x-request-id")!);
    assert.equal(root.attributes["http.response.status_code"], 404);
    assert.equal(root.attributes["error.type"], "model_not_found");
    assert.notEqual(root.status.code, SpanStatusCode.ERROR, "a 4xx is not a server error");
    const health = await fetch(`${s.url}/health`);
    const h = await serverSpan(exporter, health.headers.get("x-request-id")!);
    assert.equal(h.name, "GET /health");
    assert.equal(h.attributes["http.response.status_code"], 200);
  });

  it("never exports prompt text in span names, attributes or events", () => {
    const spans = exporter.getFinishedSpans();
    assert.ok(spans.length >= 10);
    const text = JSON.stringify(spans.map((x) => ({ name: x.name, attributes: x.attributes, events: x.events, links: x.links })));
    assert.ok(!text.includes("CANARY"), "the prompt canary is not exported");
  });
});

describe("tracing configuration", () => {
  it("exports nowhere unless told; Logfire and OTLP endpoints when told", () => {
    assert.deepEqual(resolveTracingConfig({}), { enabled: true, exporter: null });
    assert.deepEqual(resolveTracingConfig({ LLMUX_TELEMETRY: "off", LOGFIRE_TOKEN: "t" }), { enabled: false });
    assert.deepEqual(resolveTracingConfig({ LOGFIRE_TOKEN: "secret-token" }), {
      enabled: true,
      exporter: { kind: "logfire", url: "https://logfire-api.pydantic.dev/v1/traces", headers: { Authorization: "secret-token" } },
    });
    assert.equal(
      resolveTracingConfig({ LOGFIRE_TOKEN: "t", LOGFIRE_BASE_URL: "https://logfire-eu.example/" }).enabled &&
        (resolveTracingConfig({ LOGFIRE_TOKEN: "t", LOGFIRE_BASE_URL: "https://logfire-eu.example/" }) as { exporter: { url: string } }).exporter.url,
      "https://logfire-eu.example/v1/traces",
    );
    assert.deepEqual(resolveTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }), {
      enabled: true,
      exporter: { kind: "otlp", url: "http://collector:4318/v1/traces", headers: {} },
    });
  });

  it("registers no provider (the API's no-op tracer) when the environment names no exporter", async () => {
    const tracing = await setupTracing({ serviceVersion: "test", env: {} });
    assert.equal(tracing.exporter, "none");
    assert.ok(!tracingActive());
    assert.equal(trace.getTracer("llmux").startSpan("x").isRecording(), false);
    await tracing.shutdown();
    assert.ok(!tracingActive());
  });

  it("registers a provider when the environment names an exporter, and unregisters it on shutdown", async () => {
    const tracing = await setupTracing({ serviceVersion: "test", env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" }, instrumentFetch: false });
    assert.equal(tracing.exporter, "otlp");
    assert.ok(tracingActive());
    await tracing.shutdown();
    assert.ok(!tracingActive());
  });

  it("instruments outgoing fetch calls (for provider calls)", async () => {
    const exporter = new InMemorySpanExporter();
    const upstream = createServer((_req, res) => res.end("ok"));
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const tracing = await setupTracing({ serviceVersion: "test", env: {}, exporter });
    try {
      const { port } = upstream.address() as { port: number };
      const res = await fetch(`http://127.0.0.1:${port}/v1/x`);
      await res.text();
      let client: ReadableSpan | undefined;
      for (let i = 0; i < 100 && !client; i++, await sleep(10)) client = exporter.getFinishedSpans().find((x) => x.kind === SpanKind.CLIENT);
      assert.ok(client, "a client span for fetch");
      assert.equal(client.attributes["http.request.method"], "GET");
      assert.equal(client.attributes["http.response.status_code"], 200);
    } finally {
      await tracing.shutdown();
      upstream.close();
    }
  });

  it("with LLMUX_TELEMETRY=off registers nothing and produces no spans", async () => {
    const exporter = new InMemorySpanExporter();
    const saved = process.env.LLMUX_TELEMETRY;
    process.env.LLMUX_TELEMETRY = "off";
    let s: TestServer | undefined;
    try {
      s = await startTestServer({ tracing: { exporter } });
      assert.ok(!tracingActive());
      const r = await s.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 4, stream: true });
      for await (const _c of r) void _c;
      await s.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 4 });
      await sleep(200);
      assert.equal(exporter.getFinishedSpans().length, 0);
    } finally {
      if (saved === undefined) delete process.env.LLMUX_TELEMETRY;
      else process.env.LLMUX_TELEMETRY = saved;
      await s?.close();
    }
  });
});
