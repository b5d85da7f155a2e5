import { SpanKind } from "@opentelemetry/api";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { startTestServer, type TestServer } from "../helpers/server.js";
import type { FakeProvider } from "../providers/fake-provider.js";
import { addProvider, fake, setRules } from "./gateway-fixtures.js";

const KEY = "sk-trace-SECRET-00112233445566";

describe("provider attempts in traces and metrics", () => {
  const exporter = new InMemorySpanExporter();
  let s: TestServer;
  let a: FakeProvider;
  let b: FakeProvider;

  before(async () => {
    s = await startTestServer({ tracing: { exporter } });
    const fa = await fake("from-a");
    const fb = await fake("from-b", "anthropic");
    a = fa.fp;
    b = fb.fp;
    const urlA = fa.url;
    const urlB = fb.url;
    await addProvider(s, { name: "a", kind: "openai", base_url: urlA, api_key: KEY });
    await addProvider(s, { name: "b", kind: "anthropic", base_url: urlB });
    await setRules(s, [{ id: "f", match: { kind: "exact", pattern: "f" }, targets: [{ backend: "a" }], fallbacks: [{ backend: "b", model: "claude-x" }] }]);
    s.app.router.configure({ retries: 1, baseMs: 1, maxMs: 20 });
  });

  after(async () => {
    await s.close();
    await a.stop();
    await b.stop();
  });

  it("records one provider.attempt span per attempt under the generation span, and counts the retries", async () => {
    a.queue.push({ kind: "status", status: 500, body: { error: { message: "x" } } }, { kind: "status", status: 502, body: {} });
    const r = await s.openai.chat.completions.create({ model: "f", messages: [{ role: "user", content: "hi" }] });
    assert.equal(r.choices[0]!.message.content, "from-b");

    let attempts: ReadableSpan[] = [];
    for (let i = 0; i < 200 && attempts.length < 3; i++) {
      attempts = exporter.getFinishedSpans().filter((sp) => sp.name === "provider.attempt");
      await new Promise((res) => setTimeout(res, 10));
    }
    attempts.sort((x, y) => Number(x.attributes["llmux.attempt"]) - Number(y.attributes["llmux.attempt"]));
    assert.deepEqual(
      attempts.map((sp) => [sp.attributes["llmux.backend"], sp.attributes["llmux.model"], sp.attributes["error.type"] ?? null]),
      [
        ["a", "f", "upstream_error"],
        ["a", "f", "upstream_error"],
        ["b", "claude-x", null],
      ],
    );
    let gen: ReadableSpan | undefined;
    for (let i = 0; i < 200 && !gen; i++) {
      gen = exporter.getFinishedSpans().find((sp) => sp.name === "chat f");
      if (!gen) await new Promise((res) => setTimeout(res, 10));
    }
    assert.ok(gen, "the generation span");
    for (const sp of attempts) assert.equal(sp.parentSpanContext?.spanId, gen.spanContext().spanId, "attempts sit under the generation span");
    assert.equal(gen.attributes["llmux.backend"], "b", "the generation span names the target that served");
    // GenAI conventions on the routed generation span, as on a local one (test/hardening/tracing.test.ts).
    assert.equal(gen.attributes["gen_ai.operation.name"], "chat");
    assert.equal(gen.attributes["gen_ai.request.model"], "f");
    // The model llmux served the request with (after the rule's rename), as in the audit row's model_served.
    assert.equal(gen.attributes["gen_ai.response.model"], "claude-x");
    assert.equal(gen.attributes["gen_ai.usage.input_tokens"], r.usage!.prompt_tokens);
    assert.equal(gen.attributes["gen_ai.usage.output_tokens"], r.usage!.completion_tokens);
    assert.deepEqual(gen.attributes["gen_ai.response.finish_reasons"], ["stop"]);
    // The tree: server span (root) → generation span → attempts.
    let root: ReadableSpan | undefined;
    for (let i = 0; i < 200 && !root; i++) {
      root = exporter.getFinishedSpans().find((sp) => sp.spanContext().spanId === gen!.parentSpanContext?.spanId);
      if (!root) await new Promise((res) => setTimeout(res, 10));
    }
    // The server span may continue a caller's trace (here the test client's own instrumented fetch).
    assert.ok(root && (root.parentSpanContext === undefined || root.parentSpanContext.isRemote), "the generation span sits under the request's server span");
    assert.equal(root.name, "POST /v1/chat/completions");
    assert.equal(root.kind, SpanKind.SERVER);
    // Each attempt's outgoing HTTP request is instrumented (undici) under its attempt span.
    for (const attempt of attempts) {
      assert.ok(
        exporter.getFinishedSpans().some((sp) => sp.kind === SpanKind.CLIENT && sp.name === "POST" && sp.parentSpanContext?.spanId === attempt.spanContext().spanId),
        "an outgoing HTTP span under each attempt",
      );
    }
    const all = JSON.stringify(exporter.getFinishedSpans().map((sp) => sp.attributes));
    assert.ok(!all.includes(KEY), "no key in any span");

    const metrics = await (await s.admin("/metrics")).text();
    assert.match(metrics, /llmux_provider_retries_total\{provider="a"\} 2/);
    assert.match(metrics, /llmux_provider_breaker_state\{provider="a"\} 0/);
    assert.match(metrics, /llmux_provider_breaker_state\{provider="b"\} 0/);
  });
});
