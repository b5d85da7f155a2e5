import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { startTestServer, type TestServer } from "../helpers/server.js";

const PROMPT_CANARY = `PROMPT-CANARY-${Math.random().toString(36).slice(2)}`;
const ARGS_CANARY = `ARGS-CANARY-${Math.random().toString(36).slice(2)}`;

describe("privacy: prompt text and tool arguments leave no trace", () => {
  let s: TestServer;
  const exporter = new InMemorySpanExporter();
  before(async () => {
    s = await startTestServer({ tracing: { exporter, instrumentFetch: false } });
  });
  after(() => s.close());

  it("the canaries appear in no database file, log line, span, metric or audit export", async () => {
    const weather = { type: "function" as const, function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };
    // A prompt with the canary, streaming and not; a history whose tool call arguments hold the other canary.
    await s.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: `remember ${PROMPT_CANARY}` }], max_tokens: 4 });
    const stream = await s.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: PROMPT_CANARY }], max_tokens: 4, stream: true });
    for await (const _c of stream) {
      // drain
    }
    await s.openai.chat.completions.create({
      model: "tiny",
      tools: [weather],
      max_tokens: 4,
      messages: [
        { role: "user", content: "weather?" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: JSON.stringify({ city: ARGS_CANARY }) } }] },
        { role: "tool", tool_call_id: "call_1", content: `it rains in ${ARGS_CANARY}` },
      ],
    });
    const anthropic = new Anthropic({ baseURL: s.url, apiKey: "unused", maxRetries: 0 });
    await anthropic.messages.create({ model: "tiny", max_tokens: 4, messages: [{ role: "user", content: PROMPT_CANARY }] });
    // Failures too: a bad field whose value is the canary, and an unknown model (the model name is
    // metadata the audit keeps; the prompt is not).
    await s.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: PROMPT_CANARY }], temperature: PROMPT_CANARY as never }).catch(() => undefined);
    await s.openai.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: PROMPT_CANARY }] }).catch(() => undefined);

    await s.app.auditWriter.flush();
    const found = (text: string) => text.includes(PROMPT_CANARY) || text.includes(ARGS_CANARY);

    for (const f of readdirSync(s.home).filter((f) => f.startsWith("llmux.db"))) {
      assert.ok(!found(readFileSync(join(s.home, f), "latin1")), `canary in ${f}`);
    }
    assert.ok(!found(s.log()), "canary in the log");
    const spans = exporter.getFinishedSpans();
    assert.ok(spans.length > 0);
    assert.ok(!found(JSON.stringify(spans.map((sp) => ({ name: sp.name, attributes: sp.attributes, events: sp.events, status: sp.status })))), "canary in a span");
    assert.ok(!found(await (await s.admin(`/metrics`)).text()), "canary in the metrics");
    for (const format of ["jsonl", "csv"]) {
      assert.ok(!found(await (await s.admin(`/admin/audit/export?format=${format}`)).text()), `canary in the ${format} export`);
    }
    assert.ok((await s.app.auditRepo.count()) >= 6, "the requests were audited");
  });

  it("a model name longer than 256 characters is refused, and no audit row holds it", async () => {
    // A client once filled the audit log with megabyte names that were refused only as unknown models.
    const long = `m${"x".repeat(1024 * 1024)}`;
    const before = await s.app.auditRepo.count();
    for (const [path, body, envelope] of [
      ["/v1/chat/completions", { model: long, messages: [{ role: "user", content: "hi" }] }, "openai"],
      ["/v1/chat/completions", { model: long, stream: true, messages: [{ role: "user", content: "hi" }] }, "openai"],
      ["/v1/messages", { model: long, max_tokens: 4, messages: [{ role: "user", content: "hi" }] }, "anthropic"],
      ["/v1/completions", { model: long, prompt: "hi" }, "openai"],
      ["/v1/embeddings", { model: long, input: "hi" }, "openai"],
    ] as const) {
      const res = await fetch(`${s.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      assert.equal(res.status, 400, path);
      assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/);
      const text = await res.text();
      assert.ok(text.length < 4096, `${path}: the problem does not echo the name (${text.length} bytes)`);
      const problem = JSON.parse(text) as { errors?: { field: string }[]; error?: { type?: string; message?: string }; type?: string };
      assert.ok(problem.errors?.some((e) => e.field === "model"), `${path}: names the field`);
      if (envelope === "anthropic") assert.equal(problem.type, "error");
      else assert.equal(typeof problem.error?.message, "string");
    }
    await s.app.auditWriter.flush();
    const rows = await s.app.auditRepo.list({}, { limit: 100 });
    assert.ok((await s.app.auditRepo.count()) > before, "the refusals were audited");
    for (const r of rows) {
      assert.ok((r.model_requested ?? "").length <= 257 && (r.model_served ?? "").length <= 257, `row ${r.id} holds a ${r.model_requested?.length}-character name`);
    }
  });
});
