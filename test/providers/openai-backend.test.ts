import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { encodeOpenAIChatRequest } from "../../src/codecs/openai/chat-request-encode.js";
import type { ChatEvent, ChatRequest } from "../../src/core/chat.js";
import { LlmuxError } from "../../src/errors/llmux-error.js";
import { OpenAIBackend } from "../../src/providers/openai-backend.js";
import { API_KEY, FULL_REQUEST, simpleRequest } from "./canonical-request.js";
import { collect, FakeProvider } from "./fake-provider.js";

const TOOL_STREAM = readFileSync(new URL("../fixtures/openai/real-tool-stream.sse", import.meta.url), "utf8");

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", model: "gpt-x", choices: [{ index: 0, delta, finish_reason: finish }], usage: null })}\n\n`;
const TEXT_STREAM =
  chunk({ role: "assistant", content: "" }) +
  chunk({ reasoning_content: "Hmm." }) +
  chunk({ content: "Hel" }) +
  chunk({ content: "lo" }) +
  chunk({}, "length") +
  `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", model: "gpt-x", choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } })}\n\n` +
  "data: [DONE]\n\n";

const EXPECTED_MESSAGES = [
  { role: "system", content: "You are terse." },
  {
    role: "user",
    content: [
      { type: "text", text: "What is this?" },
      { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
    ],
  },
  { role: "assistant", content: "A cat." },
  {
    role: "user",
    content: [
      { type: "text", text: "Weather and time where this was taken?" },
      { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
    ],
  },
  {
    role: "assistant",
    content: null,
    tool_calls: [
      { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
      { id: "call_2", type: "function", function: { name: "get_time", arguments: "{}" } },
    ],
  },
  { role: "tool", tool_call_id: "call_1", content: "18C" },
  { role: "tool", tool_call_id: "call_2", content: "12:00" },
  { role: "user", content: "Thanks." },
];
const EXPECTED_TOOLS = [
  {
    type: "function",
    function: { name: "get_weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
  },
  { type: "function", function: { name: "get_time", parameters: { type: "object", properties: {} } } },
];

describe("encodeOpenAIChatRequest", () => {
  it("sends a PDF as a file part (title as filename, note as text after it), plain text as text, a tool's documents after its result; refuses a PDF by URL", () => {
    const pdf = { kind: "base64" as const, mediaType: "application/pdf", data: "JVBERi0xLjQK" };
    const body = encodeOpenAIChatRequest(
      {
        ...simpleRequest(),
        messages: [
          {
            role: "user",
            content: [
              { type: "document", source: pdf, title: "Report", context: "Q3 figures" },
              { type: "document", source: pdf },
              { type: "document", source: { kind: "text", text: "Plain words." }, title: "Notes" },
              { type: "text", text: "Compare them." },
            ],
          },
          { role: "assistant", content: [], toolCalls: [{ id: "call_1", name: "fetch", arguments: "{}" }] },
          { role: "tool", toolCallId: "call_1", content: [{ type: "text", text: "Fetched." }, { type: "document", source: { kind: "text", text: "Body." } }, { type: "document", source: pdf }] },
        ],
      },
      "gpt-x",
    );
    assert.deepEqual(body.messages, [
      {
        role: "user",
        content: [
          { type: "file", file: { filename: "Report", file_data: "data:application/pdf;base64,JVBERi0xLjQK" } },
          { type: "text", text: "Q3 figures" },
          { type: "file", file: { filename: "document.pdf", file_data: "data:application/pdf;base64,JVBERi0xLjQK" } },
          { type: "text", text: "Notes\n\nPlain words." },
          { type: "text", text: "Compare them." },
        ],
      },
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "fetch", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "call_1", content: "Fetched.\nBody." },
      {
        role: "user",
        content: [
          { type: "text", text: "Documents from the result of tool call call_1:" },
          { type: "file", file: { filename: "document.pdf", file_data: "data:application/pdf;base64,JVBERi0xLjQK" } },
        ],
      },
    ]);
    assert.throws(
      () => encodeOpenAIChatRequest({ ...simpleRequest(), messages: [{ role: "user", content: [{ type: "document", source: { kind: "url", url: "https://example.com/a.pdf" } }] }] }, "m"),
      (e: LlmuxError) => e.code === "unsupported_parameter" && /by URL/.test(e.detail),
    );
  });

  it("maps json_schema response formats, auto tool choice and streaming usage", () => {
    const body = encodeOpenAIChatRequest(
      { ...simpleRequest(), responseFormat: { type: "json_schema", name: "out", schema: { type: "object" }, strict: true }, toolChoice: { type: "required" } },
      "gpt-x",
    );
    assert.deepEqual(body, {
      model: "gpt-x",
      messages: [{ role: "user", content: "Hi" }],
      tool_choice: "required",
      response_format: { type: "json_schema", json_schema: { name: "out", schema: { type: "object" }, strict: true } },
      stream: true,
      stream_options: { include_usage: true },
    });
    const plain = encodeOpenAIChatRequest({ ...simpleRequest(), stream: false, responseFormat: { type: "json_object" } }, "m");
    assert.equal(plain.stream, false);
    assert.equal(plain.stream_options, undefined);
    assert.deepEqual(plain.response_format, { type: "json_object" });
  });

  it("keeps separate text blocks apart: a user's as a list of text parts, the other roles' a newline apart", () => {
    const t = (text: string) => ({ type: "text" as const, text });
    const body = encodeOpenAIChatRequest(
      {
        ...simpleRequest(),
        messages: [
          { role: "user", content: [t("<system-reminder>be brief</system-reminder>"), t("Hi")] },
          { role: "assistant", content: [t("One."), t("Two.")], toolCalls: [{ id: "c1", name: "f", arguments: "{}" }] },
          { role: "tool", toolCallId: "c1", content: [t("line 1"), t("line 2")] },
          { role: "user", content: [t("Only one")] },
        ],
      },
      "m",
    );
    assert.deepEqual(body.messages, [
      { role: "user", content: [t("<system-reminder>be brief</system-reminder>"), t("Hi")] },
      { role: "assistant", content: "One.\nTwo.", tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "c1", content: "line 1\nline 2" },
      { role: "user", content: "Only one" },
    ]);
  });

  it("follows a run of tool results with a user message holding the images they returned (tool messages hold text only)", () => {
    const png = { type: "image" as const, source: { kind: "base64" as const, mediaType: "image/png", data: "iVBORw0KGgo=" } };
    const body = encodeOpenAIChatRequest(
      {
        ...simpleRequest(),
        messages: [
          { role: "user", content: [{ type: "text", text: "Look at both." }] },
          { role: "assistant", content: [], toolCalls: [{ id: "c1", name: "shot", arguments: "{}" }, { id: "c2", name: "shot", arguments: "{}" }] },
          { role: "tool", toolCallId: "c1", content: [{ type: "text", text: "front" }, png] },
          { role: "tool", toolCallId: "c2", content: [{ type: "image", source: { kind: "url", url: "https://example.com/back.png" } }] },
          { role: "user", content: [{ type: "text", text: "Which is sharper?" }] },
        ],
      },
      "m",
    );
    assert.deepEqual((body.messages as unknown[]).slice(2), [
      { role: "tool", tool_call_id: "c1", content: "front" },
      { role: "tool", tool_call_id: "c2", content: "" },
      {
        role: "user",
        content: [
          { type: "text", text: "Images from the result of tool call c1:" },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
          { type: "text", text: "Images from the result of tool call c2:" },
          { type: "image_url", image_url: { url: "https://example.com/back.png" } },
        ],
      },
      { role: "user", content: "Which is sharper?" },
    ]);
  });

  it("sends no reasoning back, signed blocks included: OpenAI and strict compatible servers refuse fields they do not know", () => {
    for (const kind of ["openai", "openai-compatible"] as const) {
      assert.deepEqual((encodeOpenAIChatRequest(FULL_REQUEST, "m", { kind }).messages as Record<string, unknown>[])[2]!, { role: "assistant", content: "A cat." }, kind);
    }
  });
});

describe("OpenAIBackend against a fake OpenAI provider", () => {
  const fake = new FakeProvider();
  let url = "";
  const backend = (kind: "openai" | "openai-compatible" = "openai", timeoutMs = 5000, baseUrl = url) =>
    new OpenAIBackend({ name: "oai", kind, baseUrl, apiKey: API_KEY, headers: { "openai-organization": "org-1" }, timeoutMs });
  const signal = () => new AbortController().signal;

  before(async () => {
    url = await fake.start();
  });
  after(() => fake.stop());

  it("sends the exact OpenAI body and headers for a full canonical request (openai kind)", async () => {
    fake.queue.push({ kind: "sse", body: TEXT_STREAM });
    await collect(backend().stream(FULL_REQUEST, { signal: signal() }));
    const got = fake.received.at(-1)!;
    assert.equal(got.method, "POST");
    assert.equal(got.url, "/v1/chat/completions");
    assert.equal(got.headers.authorization, `Bearer ${API_KEY}`);
    assert.equal(got.headers["openai-organization"], "org-1");
    assert.match(String(got.headers["content-type"]), /application\/json/);
    const body = got.body as Record<string, unknown>;
    assert.equal(body.model, "model-x");
    assert.deepEqual(body.messages, EXPECTED_MESSAGES);
    assert.deepEqual(body.tools, EXPECTED_TOOLS);
    assert.deepEqual(body.tool_choice, { type: "function", function: { name: "get_weather" } });
    assert.equal(body.parallel_tool_calls, false);
    assert.deepEqual(body.stop, ["END", "STOP"]);
    assert.equal(body.max_completion_tokens, 2048);
    assert.equal(body.max_tokens, undefined);
    assert.equal(body.temperature, 0.2);
    assert.equal(body.top_p, 0.9);
    assert.equal(body.seed, 7);
    assert.equal(body.stream, true);
    assert.deepEqual(body.stream_options, { include_usage: true });
    // Thinking on, without an effort or budget: OpenAI's default effort.
    assert.equal(body.reasoning_effort, "medium");
    // Nothing else: no top_k for OpenAI itself.
    assert.deepEqual(Object.keys(body).sort(), [
      "max_completion_tokens", "messages", "model", "parallel_tool_calls", "reasoning_effort", "seed", "stop", "stream", "stream_options", "temperature", "tool_choice", "tools", "top_p",
    ]);
  });

  it("turns thinking asked for into a reasoning effort (the client's word, or the nearest to a thinking budget), and off into nothing", () => {
    const effort = (reasoning: ChatRequest["reasoning"]) => encodeOpenAIChatRequest({ ...simpleRequest(), reasoning }, "m").reasoning_effort;
    assert.equal(effort({ enabled: true, effort: "xhigh" }), "xhigh");
    assert.deepEqual([1024, 4000, 4096, 10_000, 16_384, 31_999].map((budgetTokens) => effort({ enabled: true, budgetTokens })), ["low", "low", "medium", "medium", "high", "high"]);
    assert.equal(effort({ enabled: true }), "medium");
    assert.equal(effort({ enabled: false }), undefined, "a model that does not reason refuses the field");
    assert.equal(effort(undefined), undefined);
  });

  it("writes max_tokens and llama.cpp sampling for openai-compatible, base URL ending in /v1", async () => {
    fake.queue.push({ kind: "sse", body: TEXT_STREAM });
    await collect(backend("openai-compatible", 5000, `${url}/v1/`).stream(FULL_REQUEST, { signal: signal() }));
    const got = fake.received.at(-1)!;
    assert.equal(got.url, "/v1/chat/completions");
    const body = got.body as Record<string, unknown>;
    assert.equal(body.max_tokens, 2048);
    assert.equal(body.max_completion_tokens, undefined);
    assert.equal(body.top_k, 40);
  });

  it("decodes text, reasoning, usage and the finish reason", async () => {
    fake.queue.push({ kind: "sse", body: TEXT_STREAM, chunkSize: 7 });
    const { events, error } = await collect(backend().stream(simpleRequest(), { signal: signal() }));
    assert.equal(error, undefined);
    assert.deepEqual(events, [
      { type: "start", model: "gpt-x" },
      { type: "reasoning", text: "Hmm." },
      { type: "text", text: "Hel" },
      { type: "text", text: "lo" },
      { type: "usage", usage: { promptTokens: 9, completionTokens: 2 } },
      { type: "finish", reason: "length" },
    ]);
  });

  it("decodes the recorded tool-call stream (ids, arguments, usage, tool_calls)", async () => {
    fake.queue.push({ kind: "sse", body: TOOL_STREAM.replace(/\n/g, "\r\n"), chunkSize: 13 });
    const { events, error } = await collect(backend().stream(simpleRequest(), { signal: signal() }));
    assert.equal(error, undefined);
    assert.deepEqual(events, [
      { type: "start", model: "gpt-4.1-mini-2025-04-14" },
      { type: "tool_call_start", index: 0, id: "call_Qf1l3wGxTtB8s0kR", name: "get_weather" },
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"' },
      { type: "tool_call_delta", index: 0, argumentsDelta: "city" },
      { type: "tool_call_delta", index: 0, argumentsDelta: '":"Paris"}' },
      { type: "tool_call_end", index: 0 },
      { type: "usage", usage: { promptTokens: 81, completionTokens: 15 } },
      { type: "finish", reason: "tool_calls" },
    ]);
  });

  it("lists models with the key", async () => {
    fake.queue.push({ kind: "json", body: { object: "list", data: [{ id: "gpt-x", object: "model", owned_by: "openai" }] } });
    assert.deepEqual(await backend().listModels(), [{ id: "gpt-x", ownedBy: "openai" }]);
    const got = fake.received.at(-1)!;
    assert.equal(got.method, "GET");
    assert.equal(got.url, "/v1/models");
    assert.equal(got.headers.authorization, `Bearer ${API_KEY}`);
  });

  const failures: { what: string; behaviour: import("./fake-provider.js").Behaviour; code: string; check?: (e: LlmuxError) => void }[] = [
    {
      what: "401",
      behaviour: { kind: "status", status: 401, body: { error: { message: `Incorrect API key provided: ${API_KEY}`, type: "invalid_request_error" } } },
      code: "upstream_error",
      check: (e) => assert.match(e.detail, /refused the configured API key/),
    },
    { what: "403", behaviour: { kind: "status", status: 403, body: { error: { message: `key ${API_KEY} lacks access` } } }, code: "upstream_error" },
    {
      what: "404 model",
      behaviour: { kind: "status", status: 404, body: { error: { message: "The model `model-x` does not exist", code: "model_not_found" } } },
      code: "model_not_found",
    },
    {
      what: "429 with Retry-After",
      behaviour: { kind: "status", status: 429, body: { error: { message: "Rate limit reached" } }, headers: { "retry-after": "17" } },
      code: "rate_limited",
      check: (e) => assert.deepEqual(e.headers, { "Retry-After": "17" }),
    },
    { what: "500", behaviour: { kind: "status", status: 500, body: { error: { message: "boom" } } }, code: "upstream_error" },
    {
      what: "slow first byte",
      behaviour: { kind: "slow", delayMs: 3000, then: { kind: "sse", body: TEXT_STREAM } },
      code: "upstream_error",
      check: (e) => assert.match(e.detail, /did not answer within 300 ms/),
    },
    {
      what: "in-band error chunk",
      behaviour: { kind: "sse", body: `data: ${JSON.stringify({ error: { message: "overloaded", type: "server_error" } })}\n\n` },
      code: "upstream_error",
    },
  ];
  for (const f of failures) {
    it(`maps ${f.what} to ${f.code} before the first event, without the key`, async () => {
      fake.queue.push(f.behaviour);
      const { events, error } = await collect(backend("openai", 300).stream(simpleRequest(), { signal: signal() }));
      assert.deepEqual(events, []);
      assert.ok(error instanceof LlmuxError, String(error));
      assert.equal(error.code, f.code);
      assert.ok(!error.message.includes(API_KEY) && !error.detail.includes("SECRET"), error.detail);
      assert.ok(!JSON.stringify(error.extra ?? {}).includes("SECRET"));
      f.check?.(error);
    });
  }

  it("keeps the provider's own words out of metadataDetail (the audit log's message): they may echo the prompt", async () => {
    const echo = { error: { message: "bad request: {\"messages\":[{\"content\":\"ZEBRA-PROMPT\"}]}" } };
    fake.queue.push({ kind: "status", status: 500, body: echo });
    const http = (await collect(backend().stream(simpleRequest(), { signal: signal() }))).error as LlmuxError;
    assert.equal(http.code, "upstream_error");
    assert.match(http.detail, /answered HTTP 500: bad request: .*ZEBRA-PROMPT/, "the client still sees the provider's message");
    assert.equal(http.metadataDetail, "provider 'oai' answered HTTP 500");
    fake.queue.push({ kind: "sse", body: `data: ${JSON.stringify(echo)}\n\n` });
    const inBand = (await collect(backend().stream(simpleRequest(), { signal: signal() }))).error as LlmuxError;
    assert.match(inBand.detail, /ZEBRA-PROMPT/);
    assert.equal(inBand.metadataDetail, "provider 'oai' reported an error mid-stream");
  });

  // Each once gave a TypeError (a 500) or put a non-string into a text event.
  const malformed: [string, string][] = [
    ["data: null", "null"],
    ["a JSON array", "[1,2]"],
    ["choices that are not a list", JSON.stringify({ choices: "abc" })],
    ["content that is not a string", JSON.stringify({ choices: [{ index: 0, delta: { content: 5 } }] })],
    ["tool call arguments that are not a string", JSON.stringify({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "c", function: { name: "f", arguments: { a: 1 } } }] } }] })],
    ["a tool call without an index", JSON.stringify({ choices: [{ index: 0, delta: { tool_calls: [{ id: "c", function: { name: "f" } }] } }] })],
  ];
  for (const [what, data] of malformed) {
    it(`maps a stream chunk of the wrong shape (${what}) to upstream_error`, async () => {
      fake.queue.push({ kind: "sse", body: `data: ${data}\n\ndata: [DONE]\n\n` });
      const { error } = await collect(backend().stream(simpleRequest(), { signal: signal() }));
      assert.ok(error instanceof LlmuxError, String(error));
      assert.equal(error.code, "upstream_error");
      assert.match(error.detail, /malformed stream chunk/);
    });
  }

  it("drops usage that is not a token count (negative, fractional, text) instead of passing it on", async () => {
    const bad = (usage: unknown) =>
      chunk({ content: "Hi" }, "stop") + `data: ${JSON.stringify({ choices: [], usage })}\n\n` + "data: [DONE]\n\n";
    fake.queue.push({ kind: "sse", body: bad({ prompt_tokens: -5, completion_tokens: "abc" }) });
    const none = await collect(backend().stream(simpleRequest(), { signal: signal() }));
    assert.equal(none.error, undefined);
    assert.deepEqual(none.events.filter((e: ChatEvent) => e.type === "usage"), []);
    fake.queue.push({ kind: "sse", body: bad({ prompt_tokens: 7, completion_tokens: 1.5 }) });
    const half = await collect(backend().stream(simpleRequest(), { signal: signal() }));
    assert.deepEqual(half.events.filter((e: ChatEvent) => e.type === "usage"), [{ type: "usage", usage: { promptTokens: 7, completionTokens: 0 } }]);
  });

  it("maps a refused connection to a retryable upstream_error", async () => {
    const closed = new FakeProvider();
    const closedUrl = await closed.start();
    await closed.stop();
    const { events, error } = await collect(backend("openai", 2000, closedUrl).stream(simpleRequest(), { signal: signal() }));
    assert.deepEqual(events, []);
    assert.ok(error instanceof LlmuxError);
    assert.equal(error.code, "upstream_error");
    assert.equal(error.spec.retryable, true);
    assert.match(error.detail, /could not be reached/);
  });

  it("maps 401 and 404 on listModels the same way (404 there is not a model)", async () => {
    fake.queue.push({ kind: "status", status: 401, body: { error: { message: API_KEY } } });
    await assert.rejects(backend().listModels(), (e: LlmuxError) => e.code === "upstream_error" && !e.detail.includes(API_KEY));
    fake.queue.push({ kind: "status", status: 404, body: {} });
    await assert.rejects(backend().listModels(), (e: LlmuxError) => e.code === "upstream_error");
  });

  it("throws upstream_error after the yielded events when the connection drops mid-stream", async () => {
    fake.queue.push({ kind: "drop", body: TOOL_STREAM, frames: 3 });
    const { events, error } = await collect(backend().stream(simpleRequest(), { signal: signal() }));
    assert.deepEqual(
      events.map((e: ChatEvent) => e.type),
      ["start", "tool_call_start", "tool_call_delta", "tool_call_delta"],
    );
    assert.ok(error instanceof LlmuxError);
    assert.equal(error.code, "upstream_error");
  });

  it("aborting the signal closes the upstream connection and ends quietly", async () => {
    fake.queue.push({ kind: "hang", body: TEXT_STREAM, frames: 2 });
    const ac = new AbortController();
    const closed = fake.nextEarlyClose();
    const events: ChatEvent[] = [];
    let error: unknown;
    try {
      for await (const e of backend().stream(simpleRequest(), { signal: ac.signal })) {
        events.push(e);
        if (e.type === "reasoning") ac.abort();
      }
    } catch (err) {
      error = err;
    }
    assert.equal(error, undefined);
    assert.deepEqual(events.map((e) => e.type), ["start", "reasoning"]);
    await closed;
  });

  it("a consumer that stops early closes the upstream connection too", async () => {
    fake.queue.push({ kind: "hang", body: TEXT_STREAM, frames: 2 });
    const closed = fake.nextEarlyClose();
    for await (const e of backend().stream(simpleRequest(), { signal: signal() })) if (e.type === "start") break;
    await closed;
  });
});
