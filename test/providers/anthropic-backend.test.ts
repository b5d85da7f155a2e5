import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { encodeAnthropicRequest, toolLoopLacksThinking } from "../../src/codecs/anthropic/messages-request-encode.js";
import type { ChatEvent, ChatMessage, ChatRequest } from "../../src/core/chat.js";
import { LlmuxError } from "../../src/errors/llmux-error.js";
import { AnthropicBackend } from "../../src/providers/anthropic-backend.js";
import { API_KEY, FULL_REQUEST, simpleRequest } from "./canonical-request.js";
import { collect, FakeProvider, type Behaviour } from "./fake-provider.js";
import { ANTHROPIC_FIXTURE_EVENTS } from "../fixtures/anthropic/canonical-events.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/anthropic/${name}`, import.meta.url), "utf8");
const TEXT = fixture("stream-text.sse");
const THINKING = fixture("stream-thinking-text.sse");
const TOOLS = fixture("stream-tool-use.sse");

const EXPECTED_BODY = {
  model: "model-x",
  max_tokens: 2048,
  system: "You are terse.",
  messages: [
    {
      role: "user",
      content: [
        { type: "text", text: "What is this?" },
        { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
      ],
    },
    {
      role: "assistant",
      content: [
        { type: "thinking", thinking: "It looks feline.", signature: "sig-feline" },
        { type: "redacted_thinking", data: "opaque-redacted" },
        { type: "text", text: "A cat." },
      ],
    },
    {
      role: "user",
      content: [
        { type: "text", text: "Weather and time where this was taken?" },
        { type: "image", source: { type: "url", url: "https://example.com/cat.png" } },
      ],
    },
    {
      role: "assistant",
      content: [
        { type: "tool_use", id: "call_1", name: "get_weather", input: { city: "Paris" } },
        { type: "tool_use", id: "call_2", name: "get_time", input: {} },
      ],
    },
    {
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "call_1", content: "18C" },
        { type: "tool_result", tool_use_id: "call_2", content: "12:00" },
      ],
    },
    { role: "user", content: [{ type: "text", text: "Thanks." }] },
  ],
  temperature: 0.2,
  top_p: 0.9,
  top_k: 40,
  stop_sequences: ["END", "STOP"],
  tools: [
    { name: "get_weather", description: "Current weather", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
    { name: "get_time", input_schema: { type: "object", properties: {} } },
  ],
  tool_choice: { type: "tool", name: "get_weather", disable_parallel_tool_use: true },
  thinking: { type: "enabled", budget_tokens: 1024 },
  stream: true,
};

describe("encodeAnthropicRequest", () => {
  it("sends documents as document blocks, with title and note, in a message and in a tool result", () => {
    const pdf = { kind: "base64" as const, mediaType: "application/pdf", data: "JVBERi0xLjQK" };
    const body = encodeAnthropicRequest(
      {
        ...simpleRequest(),
        messages: [
          { role: "user", content: [{ type: "document", source: pdf, title: "report.pdf" }, { type: "document", source: { kind: "text", text: "Plain." }, context: "notes" }, { type: "text", text: "Compare." }] },
          { role: "assistant", content: [], toolCalls: [{ id: "toolu_1", name: "fetch", arguments: "{}" }] },
          { role: "tool", toolCallId: "toolu_1", content: [{ type: "document", source: { kind: "url", url: "https://example.com/a.pdf" } }] },
        ],
      },
      "c",
    );
    const messages = body.messages as { content: unknown }[];
    assert.deepEqual(messages[0]!.content, [
      { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0xLjQK" }, title: "report.pdf" },
      { type: "document", source: { type: "text", media_type: "text/plain", data: "Plain." }, context: "notes" },
      { type: "text", text: "Compare." },
    ]);
    assert.deepEqual(messages[2]!.content, [
      { type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "document", source: { type: "url", url: "https://example.com/a.pdf" } }] },
    ]);
  });

  it("defaults max_tokens, maps tool_choice words and thinking off", () => {
    const base = { ...simpleRequest(), tools: [{ name: "t", parameters: { type: "object" } }] };
    assert.equal(encodeAnthropicRequest(simpleRequest(), "c").max_tokens, 4096);
    assert.deepEqual(encodeAnthropicRequest({ ...base, toolChoice: { type: "auto" } }, "c").tool_choice, { type: "auto" });
    assert.deepEqual(encodeAnthropicRequest({ ...base, toolChoice: { type: "required" } }, "c").tool_choice, { type: "any" });
    assert.deepEqual(encodeAnthropicRequest({ ...base, toolChoice: { type: "none" } }, "c").tool_choice, { type: "none" });
    assert.deepEqual(encodeAnthropicRequest({ ...base, reasoning: { enabled: false } }, "c").thinking, { type: "disabled" });
    assert.equal(encodeAnthropicRequest(simpleRequest(), "c").system, undefined);
    assert.throws(() => encodeAnthropicRequest({ ...base, maxTokens: 512, reasoning: { enabled: true } }, "c"), (e: LlmuxError) => e.code === "validation_failed");
  });

  it("sends reasoning back only as the provider's own signed or redacted blocks", () => {
    const user = { role: "user" as const, content: [{ type: "text" as const, text: "Hi" }] };
    const unsigned = encodeAnthropicRequest({ ...simpleRequest(), messages: [user, { role: "assistant", content: [{ type: "text", text: "Hello." }], reasoning: "local thoughts" }, user] }, "c");
    assert.deepEqual((unsigned.messages as { content: unknown[] }[])[1]!.content, [{ type: "text", text: "Hello." }], "Anthropic refuses a thinking block it did not sign");
    const onlyUnsigned = encodeAnthropicRequest({ ...simpleRequest(), messages: [user, { role: "assistant", content: [], reasoning: "x" }, user] }, "c");
    assert.equal((onlyUnsigned.messages as unknown[]).length, 2, "an assistant message left empty is not sent");
  });

  it("sends a tool result of several text parts as blocks, one text as a string", () => {
    const tool = (content: ChatMessage["content"]): unknown =>
      (encodeAnthropicRequest({ ...simpleRequest(), messages: [{ role: "user", content: [{ type: "text", text: "Go" }] }, { role: "assistant", content: [], toolCalls: [{ id: "t1", name: "f", arguments: "{}" }] }, { role: "tool", toolCallId: "t1", content }] }, "c").messages as { content: { content: unknown }[] }[])[2]!.content[0]!.content;
    assert.deepEqual(tool([{ type: "text", text: "a" }, { type: "text", text: "b" }]), [{ type: "text", text: "a" }, { type: "text", text: "b" }]);
    assert.equal(tool([{ type: "text", text: "a" }]), "a");
  });

  it("makes tool call ids from elsewhere acceptable to Anthropic, alike in the call and its result, and keeps a result's images", () => {
    const body = encodeAnthropicRequest(
      {
        ...simpleRequest(),
        messages: [
          { role: "user", content: [{ type: "text", text: "Shoot" }] },
          { role: "assistant", content: [], toolCalls: [{ id: "functions.shot:0", name: "shot", arguments: "{}" }] },
          { role: "tool", toolCallId: "functions.shot:0", content: [{ type: "text", text: "done" }, { type: "image", source: { kind: "url", url: "https://example.com/a.png" } }] },
        ],
      },
      "c",
    );
    const [, call, result] = body.messages as { content: Record<string, unknown>[] }[];
    assert.equal(call!.content[0]!.id, "functions_shot_0");
    assert.deepEqual(result!.content, [
      {
        type: "tool_result",
        tool_use_id: "functions_shot_0",
        content: [
          { type: "text", text: "done" },
          { type: "image", source: { type: "url", url: "https://example.com/a.png" } },
        ],
      },
    ]);
  });

  it("asks for a JSON answer as a forced call to one tool whose input schema is the answer's", () => {
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false };
    const body = encodeAnthropicRequest({ ...simpleRequest(), responseFormat: { type: "json_schema", name: "place", schema, strict: true } }, "c");
    assert.deepEqual(body.tools, [{ name: "json_answer", description: "Give your whole answer (place) as this tool's input.", input_schema: schema }]);
    assert.deepEqual(body.tool_choice, { type: "tool", name: "json_answer" });
    const any = encodeAnthropicRequest({ ...simpleRequest(), responseFormat: { type: "json_object" } }, "c");
    assert.deepEqual((any.tools as { input_schema: unknown }[])[0]!.input_schema, { type: "object" });
    assert.equal(encodeAnthropicRequest({ ...simpleRequest(), responseFormat: { type: "text" } }, "c").tools, undefined);
    // What cannot be asked this way is refused, not ignored.
    const refused = (req: Partial<ChatRequest>, words: RegExp) =>
      assert.throws(
        () => encodeAnthropicRequest({ ...simpleRequest(), responseFormat: { type: "json_object" }, ...req }, "c"),
        (e: LlmuxError) => e.status === 400 && e.code === "unsupported_parameter" && words.test(e.detail),
      );
    refused({ tools: [{ name: "t", parameters: { type: "object" } }] }, /combined with tools/);
    refused({ reasoning: { enabled: true }, maxTokens: 4096 }, /thinking/);
    refused({ responseFormat: { type: "json_schema", schema: { type: "array", items: { type: "string" } } } }, /root must be of type 'object'/);
  });

  it("keeps thinking on in a tool loop only when the loop's signed blocks came back", () => {
    const tools = [{ name: "get_weather", parameters: { type: "object" } }];
    const call = { id: "toolu_1", name: "get_weather", arguments: '{"city":"Paris"}' };
    const loop = (blocks?: ChatMessage["reasoningBlocks"]): ChatRequest => ({
      ...simpleRequest(),
      maxTokens: 4096,
      tools,
      reasoning: { enabled: true },
      messages: [
        { role: "user", content: [{ type: "text", text: "Weather in Paris?" }] },
        { role: "assistant", content: [], reasoning: "Need the weather.", toolCalls: [call], ...(blocks ? { reasoningBlocks: blocks } : {}) },
        { role: "tool", toolCallId: "toolu_1", content: [{ type: "text", text: "18C" }] },
      ],
    });
    const signed = encodeAnthropicRequest(loop([{ kind: "signed", text: "Need the weather.", signature: "sig-1" }]), "c");
    assert.deepEqual(signed.thinking, { type: "enabled", budget_tokens: 2048 });
    assert.deepEqual((signed.messages as { content: unknown[] }[])[1]!.content, [
      { type: "thinking", thinking: "Need the weather.", signature: "sig-1" },
      { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
    ]);
    const redacted = encodeAnthropicRequest(loop([{ kind: "redacted", data: "opaque" }]), "c");
    assert.deepEqual(redacted.thinking, { type: "enabled", budget_tokens: 2048 });
    const dropped = encodeAnthropicRequest(loop(), "c");
    assert.equal(dropped.thinking, undefined, "without its blocks Anthropic would refuse the loop's next request: it goes without thinking");
    assert.deepEqual((dropped.messages as { content: unknown[] }[])[1]!.content, [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } }]);
    // A loop that is over (a user message follows) keeps thinking on: only the open loop needs its blocks.
    const over = loop();
    over.messages.push({ role: "assistant", content: [{ type: "text", text: "18C." }] }, { role: "user", content: [{ type: "text", text: "Thanks" }] });
    assert.deepEqual(encodeAnthropicRequest(over, "c").thinking, { type: "enabled", budget_tokens: 2048 });
    assert.equal(toolLoopLacksThinking(over.messages), false);
    assert.equal(toolLoopLacksThinking(loop().messages), true);
  });
});

describe("AnthropicBackend against a fake Anthropic provider", () => {
  const fake = new FakeProvider();
  let url = "";
  const backend = (timeoutMs = 5000, baseUrl = url) =>
    new AnthropicBackend({ name: "claude", kind: "anthropic", baseUrl, apiKey: API_KEY, headers: { "anthropic-beta": "x-1" }, timeoutMs });
  const signal = () => new AbortController().signal;

  before(async () => {
    url = await fake.start();
  });
  after(() => fake.stop());

  it("sends the exact Anthropic body and headers for a full canonical request", async () => {
    fake.queue.push({ kind: "sse", body: TEXT });
    const { error } = await collect(backend().stream(FULL_REQUEST, { signal: signal() }));
    assert.equal(error, undefined);
    const got = fake.received.at(-1)!;
    assert.equal(got.method, "POST");
    assert.equal(got.url, "/v1/messages");
    assert.equal(got.headers["x-api-key"], API_KEY);
    assert.equal(got.headers["anthropic-version"], "2023-06-01");
    assert.equal(got.headers["anthropic-beta"], "x-1");
    assert.equal(got.headers.authorization, undefined);
    const body = got.body as Record<string, unknown>;
    for (const key of Object.keys(EXPECTED_BODY) as (keyof typeof EXPECTED_BODY)[]) assert.deepEqual(body[key], EXPECTED_BODY[key], key);
    assert.deepEqual(body, EXPECTED_BODY);
  });

  it("decodes text with usage and finish", async () => {
    fake.queue.push({ kind: "sse", body: TEXT, chunkSize: 5 });
    const { events, error } = await collect(backend().stream(simpleRequest(), { signal: signal() }));
    assert.equal(error, undefined);
    assert.deepEqual(events, ANTHROPIC_FIXTURE_EVENTS["stream-text.sse"]);
  });

  it("decodes thinking and a stop sequence", async () => {
    fake.queue.push({ kind: "sse", body: THINKING.replace(/\n/g, "\r\n"), chunkSize: 11 });
    const { events, error } = await collect(backend().stream(simpleRequest(), { signal: signal() }));
    assert.equal(error, undefined);
    assert.deepEqual(events, ANTHROPIC_FIXTURE_EVENTS["stream-thinking-text.sse"]);
  });

  it("hands a JSON answer's forced tool call back as the answer's text, finishing with a plain stop", async () => {
    const ev = (name: string, data: Record<string, unknown>) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
    fake.queue.push({
      kind: "sse",
      chunkSize: 7,
      body:
        ev("message_start", { message: { id: "msg_j", type: "message", role: "assistant", model: "claude-x", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } } }) +
        ev("content_block_start", { index: 0, content_block: { type: "tool_use", id: "toolu_j", name: "json_answer", input: {} } }) +
        ev("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: "" } }) +
        ev("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: '{"city": "Par' } }) +
        ev("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: 'is"}' } }) +
        ev("content_block_stop", { index: 0 }) +
        ev("message_delta", { delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 9 } }) +
        ev("message_stop", {}),
    });
    const { events, error } = await collect(backend().stream({ ...simpleRequest(), responseFormat: { type: "json_object" } }, { signal: signal() }));
    assert.equal(error, undefined);
    assert.deepEqual(events, [
      { type: "start", model: "claude-x", promptTokens: 12 },
      { type: "text", text: '{"city": "Par' },
      { type: "text", text: 'is"}' },
      { type: "usage", usage: { promptTokens: 12, completionTokens: 9 } },
      { type: "finish", reason: "stop" },
    ]);
    assert.deepEqual((fake.received.at(-1)!.body as { tool_choice: unknown }).tool_choice, { type: "tool", name: "json_answer" });
  });

  it("counts tokens with the provider's count_tokens: the prompt's fields only", async () => {
    fake.queue.push({ kind: "json", body: { input_tokens: 321 } });
    const n = await backend().countTokens({ ...FULL_REQUEST, reasoning: { enabled: true, budgetTokens: 1500 } });
    assert.equal(n, 321);
    const got = fake.received.at(-1)!;
    assert.equal(got.url, "/v1/messages/count_tokens");
    assert.equal(got.headers["x-api-key"], API_KEY);
    const body = got.body as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ["messages", "model", "system", "thinking", "tool_choice", "tools"]);
    assert.deepEqual(body.messages, EXPECTED_BODY.messages);
    assert.deepEqual(body.thinking, { type: "enabled", budget_tokens: 1500 }, "the client's own budget");
    fake.queue.push({ kind: "json", body: { tokens: "many" } });
    await assert.rejects(backend().countTokens(simpleRequest()), (e: LlmuxError) => e.code === "upstream_error");
  });

  it("decodes tool calls with their ids", async () => {
    fake.queue.push({ kind: "sse", body: TOOLS, chunkSize: 3 });
    const { events, error } = await collect(backend().stream(simpleRequest(), { signal: signal() }));
    assert.equal(error, undefined);
    assert.deepEqual(events, ANTHROPIC_FIXTURE_EVENTS["stream-tool-use.sse"]);
  });

  it("lists models with the key headers", async () => {
    fake.queue.push({ kind: "json", body: { data: [{ type: "model", id: "claude-x", display_name: "Claude X" }], has_more: false } });
    assert.deepEqual(await backend().listModels(), [{ id: "claude-x", displayName: "Claude X" }]);
    const got = fake.received.at(-1)!;
    assert.equal(got.url, "/v1/models?limit=1000");
    assert.equal(got.headers["x-api-key"], API_KEY);
    assert.equal(got.headers["anthropic-version"], "2023-06-01");
  });

  const err = (type: string, message: string) => ({ type: "error", error: { type, message } });
  const failures: { what: string; behaviour: Behaviour; code: string; check?: (e: LlmuxError) => void }[] = [
    {
      what: "401",
      behaviour: { kind: "status", status: 401, body: err("authentication_error", `invalid x-api-key ${API_KEY}`) },
      code: "upstream_error",
      check: (e) => assert.match(e.detail, /claude.*refused the configured API key/),
    },
    { what: "403", behaviour: { kind: "status", status: 403, body: err("permission_error", "no") }, code: "upstream_error" },
    { what: "404 model", behaviour: { kind: "status", status: 404, body: err("not_found_error", "model: model-x") }, code: "model_not_found" },
    {
      what: "429 with Retry-After",
      behaviour: { kind: "status", status: 429, body: err("rate_limit_error", "slow down"), headers: { "retry-after": "30" } },
      code: "rate_limited",
      check: (e) => assert.deepEqual(e.headers, { "Retry-After": "30" }),
    },
    { what: "529 overloaded", behaviour: { kind: "status", status: 529, body: err("overloaded_error", "Overloaded") }, code: "upstream_error" },
    {
      what: "slow first byte",
      behaviour: { kind: "slow", delayMs: 3000, then: { kind: "sse", body: TEXT } },
      code: "upstream_error",
      check: (e) => assert.equal(e.spec.retryable, true),
    },
    {
      what: "an in-stream error event",
      behaviour: { kind: "sse", body: `event: error\ndata: ${JSON.stringify(err("overloaded_error", "Overloaded"))}\n\n` },
      code: "upstream_error",
      // The provider's words (which may echo a prompt) reach the client, not metadata-only records.
      check: (e) => {
        assert.equal(e.detail, "provider 'claude' reported an error mid-stream: Overloaded");
        assert.equal(e.metadataDetail, "provider 'claude' reported an error mid-stream");
      },
    },
  ];
  for (const f of failures) {
    it(`maps ${f.what} to ${f.code} before the first event, without the key`, async () => {
      fake.queue.push(f.behaviour);
      const { events, error } = await collect(backend(300).stream(simpleRequest(), { signal: signal() }));
      assert.deepEqual(events, []);
      assert.ok(error instanceof LlmuxError, String(error));
      assert.equal(error.code, f.code);
      assert.ok(!error.message.includes(API_KEY) && !error.detail.includes("SECRET"), error.detail);
      f.check?.(error);
    });
  }

  it("maps a refused connection to upstream_error", async () => {
    const closed = new FakeProvider();
    const closedUrl = await closed.start();
    await closed.stop();
    await assert.rejects(collect(backend(2000, closedUrl).stream(simpleRequest(), { signal: signal() })).then((r) => Promise.reject(r.error)), (e: LlmuxError) => e.code === "upstream_error");
    await assert.rejects(backend(2000, closedUrl).listModels(), (e: LlmuxError) => e.code === "upstream_error");
  });

  it("throws upstream_error after the yielded events when the connection drops mid-stream", async () => {
    fake.queue.push({ kind: "drop", body: TEXT, frames: 4 });
    const { events, error } = await collect(backend().stream(simpleRequest(), { signal: signal() }));
    assert.deepEqual(events, [
      { type: "start", model: "tiny", promptTokens: 12 },
      { type: "text", text: "Hello" },
    ]);
    assert.ok(error instanceof LlmuxError);
    assert.equal(error.code, "upstream_error");
    assert.match(error.detail, /mid-stream/);
  });

  it("a body that ends before message_stop is an upstream_error", async () => {
    fake.queue.push({ kind: "sse", body: TEXT.split("event: message_delta")[0]! });
    const { events, error } = await collect(backend().stream(simpleRequest(), { signal: signal() }));
    assert.equal(events.length, 3);
    assert.ok(error instanceof LlmuxError && error.code === "upstream_error");
  });

  it("aborting the signal closes the upstream connection and ends quietly", async () => {
    fake.queue.push({ kind: "hang", body: TEXT, frames: 4 });
    const ac = new AbortController();
    const closed = fake.nextEarlyClose();
    const events: ChatEvent[] = [];
    for await (const e of backend().stream(simpleRequest(), { signal: ac.signal })) {
      events.push(e);
      if (e.type === "text") ac.abort();
    }
    assert.deepEqual(events.map((e) => e.type), ["start", "text"]);
    await closed;
  });

  it("aborting while waiting for the first byte aborts the request", async () => {
    fake.queue.push({ kind: "slow", delayMs: 3000, then: { kind: "sse", body: TEXT } });
    const ac = new AbortController();
    const closed = fake.nextEarlyClose();
    setTimeout(() => ac.abort(), 50);
    const { events, error } = await collect(backend().stream(simpleRequest(), { signal: ac.signal }));
    assert.deepEqual(events, []);
    assert.equal(error, undefined);
    await closed;
  });
});
