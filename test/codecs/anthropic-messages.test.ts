import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { decodeAnthropicCountTokens, decodeAnthropicMessages } from "../../src/codecs/anthropic/messages-request.js";
import { AnthropicStreamEncoder, collectAnthropicMessage } from "../../src/codecs/anthropic/messages-response.js";
import type { ChatEvent } from "../../src/core/chat.js";
import { LlmuxError } from "../../src/errors/llmux-error.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/anthropic/${name}`, import.meta.url), "utf8");
const ID = "msg_013Zva2CMHLNnXjNJJKqJ2EF";

const encodeAll = (events: ChatEvent[], inputTokens: number) => {
  const enc = new AnthropicStreamEncoder("tiny", { id: ID, inputTokens });
  return events.map((e) => enc.encode(e)).join("") + enc.end();
};

async function* gen(events: ChatEvent[]) {
  yield* events;
}

const TEXT: ChatEvent[] = [
  { type: "start", model: "tiny" },
  { type: "text", text: "Hello" },
  { type: "text", text: "" },
  { type: "text", text: "!" },
  { type: "usage", usage: { promptTokens: 12, completionTokens: 2 } },
  { type: "finish", reason: "stop" },
];

const THINKING: ChatEvent[] = [
  { type: "start", model: "tiny" },
  { type: "reasoning", text: "Let me think" },
  { type: "reasoning", text: " about it." },
  { type: "text", text: "Answer" },
  { type: "usage", usage: { promptTokens: 20, completionTokens: 7 } },
  { type: "finish", reason: "stop_sequence", stopSequence: "END" },
];

const TOOLS: ChatEvent[] = [
  { type: "start", model: "tiny" },
  { type: "text", text: "Checking." },
  { type: "tool_call_start", index: 0, id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", name: "get_weather" },
  { type: "tool_call_delta", index: 0, argumentsDelta: '{"location":' },
  { type: "tool_call_delta", index: 0, argumentsDelta: ' "Paris"}' },
  { type: "tool_call_end", index: 0 },
  { type: "tool_call_start", index: 1, id: "toolu_02", name: "get_time" },
  { type: "tool_call_delta", index: 1, argumentsDelta: "{}" },
  { type: "tool_call_end", index: 1 },
  { type: "usage", usage: { promptTokens: 30, completionTokens: 25 } },
  { type: "finish", reason: "tool_calls" },
];

/** The event names of an SSE text, in order. */
const eventNames = (sse: string) => [...sse.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);

describe("Anthropic messages codec: streaming", () => {
  it("encodes a text stream to the exact recorded frames", () => {
    assert.equal(encodeAll(TEXT, 12), fixture("stream-text.sse"));
  });

  it("encodes thinking then text as two consecutive blocks, with the stop sequence", () => {
    assert.equal(encodeAll(THINKING, 20), fixture("stream-thinking-text.sse"));
  });

  it("encodes tool_use blocks with input_json_delta", () => {
    assert.equal(encodeAll(TOOLS, 30), fixture("stream-tool-use.sse"));
  });

  it("names each frame's event as the type inside its data", () => {
    for (const name of ["stream-text.sse", "stream-thinking-text.sse", "stream-tool-use.sse"]) {
      for (const f of fixture(name).split("\n\n").filter(Boolean)) {
        const [ev, data] = f.split("\n");
        assert.equal(JSON.parse(data.slice("data: ".length)).type, ev.slice("event: ".length));
      }
    }
  });

  it("takes the prompt size from a start event that carries it", () => {
    const enc = new AnthropicStreamEncoder("tiny");
    const start = { type: "start", model: "tiny", promptTokens: 17 } as ChatEvent;
    const data = JSON.parse(enc.encode(start).split("\n")[1].slice("data: ".length));
    assert.equal(data.message.usage.input_tokens, 17);
  });

  it("still opens and closes a message when nothing was generated", () => {
    const sse = encodeAll(
      [
        { type: "start", model: "tiny" },
        { type: "usage", usage: { promptTokens: 5, completionTokens: 1 } },
        { type: "finish", reason: "stop" },
      ],
      5,
    );
    assert.deepEqual(eventNames(sse), ["message_start", "ping", "message_delta", "message_stop"]);
  });

  it("writes in-band errors in Anthropic's error event shape", () => {
    const enc = new AnthropicStreamEncoder("tiny");
    const frame = enc.error(new LlmuxError("model_crashed", "the runner died"), "req_1");
    assert.match(frame, /^event: error\ndata: .*\n\n$/);
    assert.deepEqual(JSON.parse(frame.split("\n")[1].slice("data: ".length)), {
      type: "error",
      error: { type: "api_error", message: "the runner died" },
      request_id: "req_1",
    });
  });

  it("refuses tool argument deltas that interleave tool calls", () => {
    const enc = new AnthropicStreamEncoder("tiny");
    enc.encode({ type: "tool_call_start", index: 0, id: "a", name: "f" });
    enc.encode({ type: "tool_call_start", index: 1, id: "b", name: "g" });
    assert.throws(() => enc.encode({ type: "tool_call_delta", index: 0, argumentsDelta: "{}" }), LlmuxError);
  });
});

describe("Anthropic messages codec: whole messages", () => {
  it("collects text with usage and maps finish reasons", async () => {
    const m = await collectAnthropicMessage(gen(TEXT), "tiny", { id: ID });
    assert.deepEqual(m, {
      id: ID,
      type: "message",
      role: "assistant",
      model: "tiny",
      content: [{ type: "text", text: "Hello!" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      stop_details: null,
      usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 2 },
    });
    const length = await collectAnthropicMessage(gen([...TEXT.slice(0, -1), { type: "finish", reason: "length" }]), "tiny");
    assert.equal(length.stop_reason, "max_tokens");
    assert.match(length.id, /^msg_01[0-9A-Za-z]{22}$/);
  });

  it("collects thinking and the stop sequence", async () => {
    const m = await collectAnthropicMessage(gen(THINKING), "tiny");
    assert.deepEqual(m.content, [
      { type: "thinking", thinking: "Let me think about it.", signature: "" },
      { type: "text", text: "Answer" },
    ]);
    assert.equal(m.stop_reason, "stop_sequence");
    assert.equal(m.stop_sequence, "END");
  });

  it("collects tool_use blocks with parsed input", async () => {
    const m = await collectAnthropicMessage(gen(TOOLS), "tiny");
    assert.deepEqual(m.content, [
      { type: "text", text: "Checking." },
      { type: "tool_use", id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", name: "get_weather", input: { location: "Paris" } },
      { type: "tool_use", id: "toolu_02", name: "get_time", input: {} },
    ]);
    assert.equal(m.stop_reason, "tool_use");
    assert.equal(m.usage.output_tokens, 25);
  });

  it("gives empty content when nothing was generated", async () => {
    const m = await collectAnthropicMessage(gen([{ type: "start", model: "tiny" }, { type: "finish", reason: "stop" }]), "tiny");
    assert.deepEqual(m.content, []);
    assert.equal(m.stop_reason, "end_turn");
  });
});

describe("Anthropic messages codec: requests", () => {
  it("decodes every block type into the canonical model", () => {
    const { request } = decodeAnthropicMessages(JSON.parse(fixture("request-all-blocks.json")));
    assert.deepEqual(request, JSON.parse(fixture("request-all-blocks.canonical.json")));
    assert.equal(request.endUser, "user-123");
  });

  it("decodes string content, a string system prompt and tool choices", () => {
    const { request } = decodeAnthropicMessages({
      model: "tiny",
      max_tokens: 5,
      system: "be brief",
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "hello" },
        { role: "user", content: "again" },
      ],
      tools: [{ name: "f", input_schema: { type: "object" } }],
      tool_choice: { type: "tool", name: "f", disable_parallel_tool_use: false },
    });
    assert.deepEqual(
      request.messages.map((m) => [m.role, m.content]),
      [
        ["system", [{ type: "text", text: "be brief" }]],
        ["user", [{ type: "text", text: "hi" }]],
        ["assistant", [{ type: "text", text: "hello" }]],
        ["user", [{ type: "text", text: "again" }]],
      ],
    );
    assert.deepEqual(request.toolChoice, { type: "tool", name: "f" });
    assert.equal(request.stream, false);
    assert.deepEqual(request.stop, []);
    for (const [wire, canonical] of [["auto", "auto"], ["none", "none"], ["any", "required"]] as const) {
      const r = decodeAnthropicMessages({
        model: "tiny",
        max_tokens: 1,
        messages: [{ role: "user", content: "x" }],
        tools: [{ name: "f", input_schema: { type: "object" } }],
        tool_choice: { type: wire },
      });
      assert.deepEqual(r.request.toolChoice, { type: canonical });
    }
  });

  it("decodes a count_tokens body without generation settings", () => {
    const { request } = decodeAnthropicCountTokens({ model: "tiny", system: [{ type: "text", text: "s" }], messages: [{ role: "user", content: "x" }] });
    assert.equal(request.maxTokens, undefined);
    assert.deepEqual(request.sampling, {});
    assert.equal(request.messages.length, 2);
  });

  const fails = (body: unknown, code: string, fields: string[], decode: (b: unknown) => unknown = decodeAnthropicMessages) => {
    try {
      decode(body);
      assert.fail("expected an error");
    } catch (err) {
      assert.ok(err instanceof LlmuxError, String(err));
      assert.equal(err.code, code, err.detail);
      assert.deepEqual(err.fieldErrors?.map((f) => f.field).sort(), [...fields].sort());
      return err;
    }
  };
  const ok = { model: "tiny", max_tokens: 8, messages: [{ role: "user", content: "hi" }] };

  it("lists every invalid field at once", () => {
    fails({ model: 5, messages: "no", temperature: 2 }, "validation_failed", ["max_tokens", "messages", "model", "temperature"]);
  });

  it("names unsupported block types and roles by their own path", () => {
    const doc = fails({ ...ok, messages: [{ role: "user", content: [{ type: "search_result", source: "s", title: "t", content: [] }] }] }, "validation_failed", [
      "messages.0.content.0.type",
    ]);
    assert.equal(doc.detail, "invalid 'messages.0.content.0.type': content block type 'search_result' is not supported in a user message");
    const two = fails(
      {
        ...ok,
        messages: [
          { role: "user", content: [{ type: "text", text: 1 }, { type: "tool_use", id: "a", name: "b", input: {} }] },
          { role: "assistant", content: [{ type: "image", source: { type: "url", url: "u" } }] },
        ],
      },
      "validation_failed",
      ["messages.0.content.0.text", "messages.0.content.1.type", "messages.1.content.0.type"],
    );
    assert.ok(two.fieldErrors?.some((f) => f.message === "content block type 'image' is not supported in an assistant message"));
    const role = fails({ ...ok, messages: [{ role: "system", content: "x" }] }, "validation_failed", ["messages.0.role"]);
    assert.match(role.detail, /top-level 'system'/);
    fails({ ...ok, messages: [{ role: "user", content: [] }] }, "validation_failed", ["messages.0.content"]);
    const content = fails({ ...ok, messages: [{ role: "user", content: 5 }] }, "validation_failed", ["messages.0.content"]);
    assert.match(content.detail, /a string or an array of content blocks/);
    fails({ ...ok, messages: [{ role: "user", content: [{ type: "image", source: { type: "file", file_id: "f" } }] }] }, "validation_failed", [
      "messages.0.content.0.source.type",
    ]);
  });

  it("decodes documents (a PDF as base64 or by URL, plain text) with their title and note, in a message and in a tool result", () => {
    const pdf = { type: "base64", media_type: "application/pdf", data: "JVBERi0xLjQK" };
    const r = decodeAnthropicMessages({
      ...ok,
      messages: [
        {
          role: "user",
          content: [
            { type: "document", source: pdf, title: "Report", context: "Q3 figures", citations: { enabled: false }, cache_control: { type: "ephemeral" } },
            { type: "document", source: { type: "text", media_type: "text/plain", data: "Plain words." } },
            { type: "document", source: { type: "url", url: "https://example.com/a.pdf" }, title: null },
            { type: "text", text: "Compare them." },
          ],
        },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "fetch", input: {} }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "document", source: pdf }] }] },
      ],
    });
    assert.deepEqual(r.request.messages[0], {
      role: "user",
      content: [
        { type: "document", source: { kind: "base64", mediaType: "application/pdf", data: "JVBERi0xLjQK" }, title: "Report", context: "Q3 figures" },
        { type: "document", source: { kind: "text", text: "Plain words." } },
        { type: "document", source: { kind: "url", url: "https://example.com/a.pdf" } },
        { type: "text", text: "Compare them." },
      ],
    });
    assert.deepEqual(r.request.messages[2], {
      role: "tool",
      toolCallId: "toolu_1",
      content: [{ type: "document", source: { kind: "base64", mediaType: "application/pdf", data: "JVBERi0xLjQK" } }],
    });
    const user = (block: unknown) => ({ ...ok, messages: [{ role: "user", content: [block] }] });
    const cite = fails(user({ type: "document", source: pdf, citations: { enabled: true } }), "validation_failed", ["messages.0.content.0.citations"]);
    assert.match(cite.detail, /citations are not supported/);
    const file = fails(user({ type: "document", source: { type: "file", file_id: "file_1" } }), "validation_failed", ["messages.0.content.0.source.type"]);
    assert.match(file.detail, /base64 \(a PDF\), text or url/);
    fails(user({ type: "document", source: { ...pdf, media_type: "application/msword" } }), "validation_failed", ["messages.0.content.0.source.media_type"]);
  });

  it("refuses known-but-unsupported fields by name", () => {
    fails({ ...ok, container: "c1" }, "unsupported_parameter", ["container"]);
    for (const tier of ["auto", "standard_only"]) decodeAnthropicMessages({ ...ok, service_tier: tier });
    assert.match(fails({ ...ok, service_tier: "priority" }, "validation_failed", ["service_tier"]).detail, /one service tier/);
    fails({ ...ok, inference_geo: "us" }, "unsupported_parameter", ["inference_geo"]);
    fails({ ...ok, thinking: { type: "enabled", budget_tokens: 1024, display: "omitted" } }, "validation_failed", ["thinking.display"]);
    fails({ ...ok, output_config: { effort: "high" } }, "validation_failed", ["output_config.effort"]);
    fails({ ...ok, output_format: { type: "json_schema", schema: {} } }, "unsupported_parameter", ["output_format"]);
    fails({ ...ok, messages: [...ok.messages, { role: "assistant", content: "The answer is" }] }, "unsupported_parameter", ["messages.1.role"]);
    fails({ ...ok, tools: [{ name: "f", input_schema: { type: "object" }, strict: true }] }, "validation_failed", ["tools.0.strict"]);
    fails({ ...ok, tools: [{ type: "web_search_20250305", name: "web_search", max_uses: 3 }] }, "validation_failed", [
      "tools.0.type",
      "tools.0.input_schema",
      "tools.0.max_uses",
    ]);
    fails({ ...ok, messages: [{ role: "user", content: [{ type: "text", text: "x", citations: [{}] }] }] }, "validation_failed", [
      "messages.0.content.0.citations",
    ]);
  });

  it("checks tool_choice against the tools", () => {
    fails({ ...ok, tool_choice: { type: "any" } }, "validation_failed", ["tool_choice"]);
    fails({ ...ok, tools: [{ name: "f", input_schema: { type: "object" } }], tool_choice: { type: "tool", name: "g" } }, "validation_failed", [
      "tool_choice.name",
    ]);
  });

  it("maps thinking to the reasoning switch and checks its budget", () => {
    const on = (thinking: unknown) => decodeAnthropicMessages({ ...ok, max_tokens: 4096, thinking }).request.reasoning;
    assert.deepEqual(on({ type: "enabled", budget_tokens: 1024 }), { enabled: true, budgetTokens: 1024 });
    assert.deepEqual(on({ type: "adaptive" }), { enabled: true });
    assert.deepEqual(on({ type: "disabled" }), { enabled: false });
    assert.equal(decodeAnthropicMessages(ok).request.reasoning, undefined);
    fails({ ...ok, thinking: { type: "enabled", budget_tokens: 1024 } }, "validation_failed", ["thinking.budget_tokens"]);
    fails({ ...ok, max_tokens: 4096, thinking: { type: "enabled", budget_tokens: 512 } }, "validation_failed", ["thinking.budget_tokens"]);
    fails({ ...ok, thinking: { type: "sometimes" } }, "validation_failed", ["thinking.type"]);
  });

  it("maps disable_parallel_tool_use to parallel tool calls", () => {
    const tools = [{ name: "f", input_schema: { type: "object" } }];
    const par = (tool_choice: unknown) => decodeAnthropicMessages({ ...ok, tools, tool_choice }).request.parallelToolCalls;
    assert.equal(par({ type: "auto", disable_parallel_tool_use: true }), false);
    assert.equal(par({ type: "any", disable_parallel_tool_use: false }), true);
    assert.equal(par({ type: "auto" }), undefined);
  });

  it("checks numbers and stop sequences", () => {
    fails({ ...ok, max_tokens: 0 }, "validation_failed", ["max_tokens"]);
    fails({ ...ok, max_tokens: 1.5 }, "validation_failed", ["max_tokens"]);
    fails({ ...ok, top_p: 1.5, top_k: -1 }, "validation_failed", ["top_k", "top_p"]);
    fails({ ...ok, stop_sequences: [""] }, "validation_failed", ["stop_sequences.0"]);
    fails({ ...ok, stop_sequences: Array.from({ length: 17 }, (_, i) => `s${i}`) }, "validation_failed", ["stop_sequences"]);
  });

  it("count_tokens refuses generation fields", () => {
    fails({ ...ok }, "validation_failed", ["max_tokens"], decodeAnthropicCountTokens);
  });
});
