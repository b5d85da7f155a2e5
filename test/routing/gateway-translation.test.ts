import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import assert from "node:assert/strict";
import { zodResponseFormat } from "openai/helpers/zod";
import { z } from "zod";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { TestServer } from "../helpers/server.js";
import type { FakeProvider } from "../providers/fake-provider.js";
import { anthropicJson, anthropicSse, openaiJson, openaiSse, startTwoProviders, type TwoProviders } from "./gateway-fixtures.js";

const ANTHROPIC_TOOLS_SSE = readFileSync(new URL("../fixtures/anthropic/stream-tool-use.sse", import.meta.url), "utf8");
const OPENAI_TOOLS_SSE = readFileSync(new URL("../fixtures/openai/real-tool-stream.sse", import.meta.url), "utf8");

/** An OpenAI request with a system prompt, history, images (inline and URL), tools, tool calls and results, stop sequences. */
const OPENAI_REQUEST = {
  model: "to-claude",
  safety_identifier: "end-user-7",
  max_tokens: 2048,
  temperature: 0.2,
  top_p: 0.9,
  stop: ["END", "STOP"],
  parallel_tool_calls: false,
  tool_choice: { type: "function" as const, function: { name: "get_weather" } },
  tools: [
    { type: "function" as const, function: { name: "get_weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } },
    { type: "function" as const, function: { name: "get_time", parameters: { type: "object", properties: {} } } },
  ],
  messages: [
    { role: "system" as const, content: "You are terse." },
    {
      role: "user" as const,
      content: [
        { type: "text" as const, text: "What is this?" },
        { type: "image_url" as const, image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
      ],
    },
    { role: "assistant" as const, content: "A cat." },
    {
      role: "user" as const,
      content: [
        { type: "text" as const, text: "Weather and time where this was taken?" },
        { type: "image_url" as const, image_url: { url: "https://example.com/cat.png" } },
      ],
    },
    {
      role: "assistant" as const,
      content: null,
      tool_calls: [
        { id: "call_1", type: "function" as const, function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
        { id: "call_2", type: "function" as const, function: { name: "get_time", arguments: "{}" } },
      ],
    },
    { role: "tool" as const, tool_call_id: "call_1", content: "18C" },
    { role: "tool" as const, tool_call_id: "call_2", content: "12:00" },
    { role: "user" as const, content: "Thanks." },
  ],
};

/** What an Anthropic provider must receive for {@link OPENAI_REQUEST} (model renamed by the rule). */
const EXPECTED_ANTHROPIC_BODY = {
  model: "claude-up",
  max_tokens: 2048,
  system: "You are terse.",
  messages: [
    { role: "user", content: [{ type: "text", text: "What is this?" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }] },
    { role: "assistant", content: [{ type: "text", text: "A cat." }] },
    { role: "user", content: [{ type: "text", text: "Weather and time where this was taken?" }, { type: "image", source: { type: "url", url: "https://example.com/cat.png" } }] },
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
  stop_sequences: ["END", "STOP"],
  tools: [
    { name: "get_weather", description: "Current weather", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
    { name: "get_time", input_schema: { type: "object", properties: {} } },
  ],
  tool_choice: { type: "tool", name: "get_weather", disable_parallel_tool_use: true },
  metadata: { user_id: "end-user-7" },
  stream: true,
};

const SUITE_RULES = [
  { id: "c", match: { kind: "exact", pattern: "to-claude" }, targets: [{ backend: "claude", model: "claude-up" }] },
  { id: "o", match: { kind: "exact", pattern: "to-openai" }, targets: [{ backend: "oai", model: "gpt-up" }] },
  { id: "o-same", match: { kind: "exact", pattern: "gpt-same" }, targets: [{ backend: "oai" }] },
  { id: "c-same", match: { kind: "exact", pattern: "claude-same" }, targets: [{ backend: "claude" }] },
  { id: "mixed", match: { kind: "exact", pattern: "oai-then-claude" }, targets: [{ backend: "oai", model: "gpt-up" }], fallbacks: [{ backend: "claude", model: "claude-up" }] },
  // Balanced: Anthropic always chosen (weight 0 is never picked while another target is up), OpenAI the other target.
  { id: "balanced-mixed", match: { kind: "exact", pattern: "claude-or-oai" }, strategy: "weighted", targets: [{ backend: "claude", model: "claude-up", weight: 1 }, { backend: "oai", model: "gpt-up", weight: 0 }] },
  { id: "e-claude", match: { kind: "exact", pattern: "emb-claude" }, targets: [{ backend: "claude" }] },
  { id: "e", match: { kind: "prefix", pattern: "emb-" }, targets: [{ backend: "oai", model: "text-embedding-up" }] },
];

describe("protocol translation and pass-through through a real llmux", () => {
  let rig: TwoProviders;
  let s: TestServer;
  let claude: FakeProvider;
  let oai: FakeProvider;
  let anthropic: Anthropic;

  before(async () => {
    rig = await startTwoProviders(SUITE_RULES);
    ({ s, claude, oai, anthropic } = rig);
  });

  after(() => rig.close());

  it("OpenAI client → Anthropic provider: the request field by field, tool calls streamed back", async () => {
    claude.queue.push({ kind: "sse", body: ANTHROPIC_TOOLS_SSE, chunkSize: 17 });
    const st = await s.openai.chat.completions.create({ ...OPENAI_REQUEST, stream: true, stream_options: { include_usage: true } });
    let text = "";
    const calls: { id?: string; name?: string; args: string }[] = [];
    let finish: string | null = null;
    let usage: unknown = null;
    for await (const c of st) {
      const ch = c.choices[0];
      text += ch?.delta?.content ?? "";
      for (const tc of ch?.delta?.tool_calls ?? []) {
        const slot = (calls[tc.index] ??= { args: "" });
        if (tc.id) slot.id = tc.id;
        if (tc.function?.name) slot.name = tc.function.name;
        slot.args += tc.function?.arguments ?? "";
      }
      if (ch?.finish_reason) finish = ch.finish_reason;
      if (c.usage) usage = c.usage;
    }
    const got = claude.received.at(-1)!;
    assert.equal(got.url, "/v1/messages");
    assert.equal(got.headers["x-api-key"], "sk-ant-test-0123456789");
    const body = got.body as Record<string, unknown>;
    for (const k of Object.keys(EXPECTED_ANTHROPIC_BODY) as (keyof typeof EXPECTED_ANTHROPIC_BODY)[]) assert.deepEqual(body[k], EXPECTED_ANTHROPIC_BODY[k], k);
    assert.deepEqual(body, EXPECTED_ANTHROPIC_BODY);

    assert.equal(text, "Checking.");
    assert.deepEqual(
      calls.map((c) => ({ name: c.name, args: JSON.parse(c.args) as unknown, hasId: typeof c.id === "string" && c.id.length > 0 })),
      [
        { name: "get_weather", args: { location: "Paris" }, hasId: true },
        { name: "get_time", args: {}, hasId: true },
      ],
    );
    assert.equal(finish, "tool_calls");
    assert.deepEqual(usage && { p: (usage as { prompt_tokens: number }).prompt_tokens, c: (usage as { completion_tokens: number }).completion_tokens }, { p: 30, c: 25 });
  });

  it("OpenAI client → Anthropic provider: reasoning on, thinking and stop sequence come back", async () => {
    claude.queue.push({ kind: "sse", body: readFileSync(new URL("../fixtures/anthropic/stream-thinking-text.sse", import.meta.url), "utf8"), chunkSize: 9 });
    const r = await s.openai.chat.completions.create({
      model: "to-claude",
      max_tokens: 4000,
      reasoning_effort: "high",
      stop: ["END"],
      messages: [{ role: "user", content: "Think first." }],
    });
    const body = claude.received.at(-1)!.body as Record<string, unknown>;
    assert.deepEqual(body.thinking, { type: "enabled", budget_tokens: 2000 }, "half of max_tokens, as the Anthropic encoder budgets it");
    assert.deepEqual(body.stop_sequences, ["END"]);
    const msg = r.choices[0]!.message as unknown as { content: string; reasoning_content?: string };
    assert.equal(msg.reasoning_content, "Let me think about it.");
    assert.equal(msg.content, "Answer");
    assert.equal(r.choices[0]!.finish_reason, "stop");
    assert.deepEqual([r.usage?.prompt_tokens, r.usage?.completion_tokens], [20, 7]);
  });

  it("OpenAI client → Anthropic provider: parse() with a zod schema gets its object (a forced tool call under the hood)", async () => {
    const Place = z.object({ city: z.string(), celsius: z.number() });
    const ev = (name: string, data: Record<string, unknown>) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
    const toolAnswer = (json: string) =>
      ev("message_start", { message: { id: "msg_j", type: "message", role: "assistant", model: "up-claude", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 20, output_tokens: 1 } } }) +
      ev("content_block_start", { index: 0, content_block: { type: "tool_use", id: "toolu_j", name: "json_answer", input: {} } }) +
      ev("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: json } }) +
      ev("content_block_stop", { index: 0 }) +
      ev("message_delta", { delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 12 } }) +
      ev("message_stop", {});
    claude.queue.push({ kind: "sse", body: toolAnswer('{"city":"Paris","celsius":18}') });
    const r = await s.openai.chat.completions.parse({ model: "to-claude", messages: [{ role: "user", content: "Where and how warm?" }], response_format: zodResponseFormat(Place, "place") });
    assert.deepEqual(r.choices[0]!.message.parsed, { city: "Paris", celsius: 18 });
    assert.equal(r.choices[0]!.finish_reason, "stop");
    assert.equal(r.choices[0]!.message.tool_calls, undefined, "the tool is llmux's means, not the client's call");
    const body = claude.received.at(-1)!.body as { tools: { name: string; input_schema: { properties: unknown } }[]; tool_choice: unknown };
    assert.deepEqual(body.tool_choice, { type: "tool", name: "json_answer" });
    assert.deepEqual(Object.keys(body.tools[0]!.input_schema.properties as object), ["city", "celsius"], "the client's schema is the tool's input schema");
    // Streamed, the same answer comes as content deltas.
    claude.queue.push({ kind: "sse", body: toolAnswer('{"city":"Oslo","celsius":-3}'), chunkSize: 9 });
    const streamed = await s.openai.chat.completions.stream({ model: "to-claude", messages: [{ role: "user", content: "Again" }], response_format: zodResponseFormat(Place, "place") }).finalChatCompletion();
    assert.deepEqual(streamed.choices[0]!.message.parsed, { city: "Oslo", celsius: -3 });
  });

  it("OpenAI client → Anthropic provider without streaming", async () => {
    claude.queue.push({ kind: "sse", body: anthropicSse("plain answer") });
    const r = await s.openai.chat.completions.create({ model: "to-claude", messages: [{ role: "user", content: "hi" }] });
    assert.equal(r.choices[0]!.message.content, "plain answer");
    assert.equal(r.model, "up-claude", "the model the provider reports serving");
    assert.deepEqual([r.usage?.prompt_tokens, r.usage?.completion_tokens], [11, 4]);
  });

  it("Anthropic client → OpenAI provider: the request field by field (a tool result's image included), tool calls streamed back", async () => {
    oai.queue.push({ kind: "sse", body: OPENAI_TOOLS_SSE, chunkSize: 23 });
    const stream = anthropic.messages.stream({
      model: "to-openai",
      max_tokens: 512,
      system: "Be brief.",
      stop_sequences: ["END"],
      temperature: 0.5,
      metadata: { user_id: "end-user-8" },
      tools: [{ name: "get_weather", description: "Current weather", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }],
      tool_choice: { type: "tool", name: "get_weather" },
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Where is this?" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
          ],
        },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris" } }] },
        {
          role: "user",
          content: [
            {
              type: "tool_result",
              tool_use_id: "toolu_01",
              content: [
                { type: "text", text: "18C" },
                { type: "image", source: { type: "url", url: "https://example.com/sky.png" } },
              ],
            },
          ],
        },
      ],
    });
    const final = await stream.finalMessage();
    const body = oai.received.at(-1)!.body as Record<string, unknown>;
    assert.equal(oai.received.at(-1)!.headers.authorization, "Bearer sk-oai-test-0123456789");
    assert.equal(body.model, "gpt-up");
    assert.deepEqual(body.messages, [
      { role: "system", content: "Be brief." },
      {
        role: "user",
        content: [
          { type: "text", text: "Where is this?" },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
        ],
      },
      { role: "assistant", content: null, tool_calls: [{ id: "toolu_01", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "toolu_01", content: "18C" },
      // OpenAI's tool messages hold text only: the result's image follows in a user message.
      {
        role: "user",
        content: [
          { type: "text", text: "Images from the result of tool call toolu_01:" },
          { type: "image_url", image_url: { url: "https://example.com/sky.png" } },
        ],
      },
    ]);
    assert.deepEqual(body.tools, [
      { type: "function", function: { name: "get_weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } },
    ]);
    assert.deepEqual(body.tool_choice, { type: "function", function: { name: "get_weather" } });
    assert.deepEqual(body.stop, ["END"]);
    assert.equal(body.temperature, 0.5);
    assert.equal(body.user, "end-user-8", "metadata.user_id, for the provider's abuse tracking");
    assert.equal(body.stream, true);

    assert.equal(final.model, "gpt-4.1-mini-2025-04-14", "the model the provider reports serving");
    assert.equal(final.stop_reason, "tool_use");
    const tool = final.content.find((b) => b.type === "tool_use");
    assert.ok(tool && tool.type === "tool_use");
    assert.equal(tool.name, "get_weather");
    assert.deepEqual(tool.input, { city: "Paris" });
    assert.match(tool.id, /^toolu_/);
    assert.deepEqual([final.usage.input_tokens, final.usage.output_tokens], [81, 15]);
  });

  it("Anthropic client → OpenAI provider: a thinking budget becomes the nearest reasoning effort", async () => {
    for (const [thinking, effort] of [
      [{ type: "enabled", budget_tokens: 10_000 }, "medium"],
      [{ type: "enabled", budget_tokens: 31_999 }, "high"],
      [{ type: "disabled" }, undefined],
    ] as const) {
      oai.queue.push({ kind: "sse", body: openaiSse("ok") });
      const m = await anthropic.messages.stream({ model: "to-openai", max_tokens: 32_000, thinking, messages: [{ role: "user", content: "Think." }] }).finalMessage();
      assert.deepEqual(m.content, [{ type: "text", text: "ok" }]);
      assert.equal((oai.received.at(-1)!.body as { reasoning_effort?: string }).reasoning_effort, effort, JSON.stringify(thinking));
    }
  });

  it("Anthropic client → OpenAI provider: documents become file and text parts; a PDF by URL is a 400 that reaches no provider", async () => {
    oai.queue.push({ kind: "sse", body: openaiSse("Both say 3%.") });
    const m = await anthropic.messages.create({
      model: "to-openai",
      max_tokens: 100,
      messages: [
        {
          role: "user",
          content: [
            { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0xLjQK" }, title: "q3.pdf", context: "Our report" },
            { type: "document", source: { type: "text", media_type: "text/plain", data: "Growth was 3%." }, title: "notes" },
            { type: "text", text: "Do they agree?" },
          ],
        },
      ],
    });
    assert.deepEqual(m.content, [{ type: "text", text: "Both say 3%." }]);
    assert.deepEqual((oai.received.at(-1)!.body as { messages: unknown }).messages, [
      {
        role: "user",
        content: [
          { type: "file", file: { filename: "q3.pdf", file_data: "data:application/pdf;base64,JVBERi0xLjQK" } },
          { type: "text", text: "Our report" },
          { type: "text", text: "notes\n\nGrowth was 3%." },
          { type: "text", text: "Do they agree?" },
        ],
      },
    ]);
    // A 12 MiB PDF (16 MiB as base64): over what many servers take, under the 32 MiB Anthropic's API takes.
    const big = Buffer.alloc(12 * 1024 * 1024, 7).toString("base64");
    oai.queue.push({ kind: "sse", body: openaiSse("Long.") });
    await anthropic.messages.create({
      model: "to-openai",
      max_tokens: 10,
      messages: [{ role: "user", content: [{ type: "document", source: { type: "base64", media_type: "application/pdf", data: big } }] }],
    });
    const sent = (oai.received.at(-1)!.body as { messages: { content: { file: { file_data: string } }[] }[] }).messages[0]!.content[0]!.file.file_data;
    assert.equal(sent, `data:application/pdf;base64,${big}`, "the whole document reached the provider");
    const before = oai.received.length;
    await assert.rejects(
      anthropic.messages.create({
        model: "to-openai",
        max_tokens: 100,
        messages: [{ role: "user", content: [{ type: "document", source: { type: "url", url: "https://example.com/q3.pdf" } }, { type: "text", text: "Summarise." }] }],
      }),
      (e: unknown) => e instanceof Anthropic.BadRequestError && /document given by URL/.test(e.message),
    );
    assert.equal(oai.received.length, before, "refused before anything was sent");
  });

  it("OpenAI client → Anthropic provider: what Anthropic refuses is a 400 naming the field, and reaches no provider", async () => {
    const call = (args: string) => [
      { role: "user" as const, content: "Weather?" },
      { role: "assistant" as const, content: null, tool_calls: [{ id: "call_1", type: "function" as const, function: { name: "get_weather", arguments: args } }] },
      { role: "tool" as const, tool_call_id: "call_1", content: "18C" },
    ];
    const before = claude.received.length;
    for (const [messages, field] of [
      [call("{not json"), "messages.1.tool_calls.0.function.arguments"],
      [call("[1,2]"), "messages.1.tool_calls.0.function.arguments"],
      [[{ role: "system" as const, content: "You are terse." }], "messages"],
      [[{ role: "user" as const, content: "" }], "messages.0.content"],
    ] as const) {
      for (const stream of [false, true]) {
        await assert.rejects(
          s.openai.chat.completions.create({ model: "to-claude", max_tokens: 10, messages: [...messages], stream }),
          (e: unknown) => e instanceof OpenAI.BadRequestError && (e.error as { param?: string }).param === field,
          `${field}, ${stream ? "streamed" : "JSON"}`,
        );
      }
    }
    assert.equal(claude.received.length, before, "refused before anything was sent");
    // A call without arguments (an empty string) is a call with no input, as before.
    claude.queue.push({ kind: "json", body: anthropicJson("ok") });
    await s.openai.chat.completions.create({ model: "to-claude", max_tokens: 10, messages: call("") });
    const sent = (claude.received.at(-1)!.body as { messages: { content: { type: string; input?: unknown }[] }[] }).messages[1]!.content[0]!;
    assert.deepEqual(sent.input, {});
  });

  it("OpenAI client → Anthropic provider: file parts become document blocks", async () => {
    claude.queue.push({ kind: "sse", body: anthropicSse("It is a report.") });
    const r = await s.openai.chat.completions.create({
      model: "to-claude",
      messages: [
        {
          role: "user",
          content: [
            { type: "file", file: { filename: "q3.pdf", file_data: "data:application/pdf;base64,JVBERi0xLjQK" } },
            { type: "file", file: { filename: "notes.txt", file_data: `data:text/plain;base64,${Buffer.from("Growth was 3%.").toString("base64")}` } },
            { type: "text", text: "What is this?" },
          ],
        },
      ],
    });
    assert.equal(r.choices[0]!.message.content, "It is a report.");
    assert.deepEqual((claude.received.at(-1)!.body as { messages: unknown }).messages, [
      {
        role: "user",
        content: [
          { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0xLjQK" }, title: "q3.pdf" },
          { type: "document", source: { type: "text", media_type: "text/plain", data: "Growth was 3%." }, title: "notes.txt" },
          { type: "text", text: "What is this?" },
        ],
      },
    ]);
  });

  it("Anthropic client → OpenAI provider: output_config.format becomes a json_schema response_format", async () => {
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false };
    oai.queue.push({ kind: "sse", body: openaiSse('{"city":"Paris"}') });
    const m = await anthropic.messages.create({
      model: "to-openai",
      max_tokens: 50,
      messages: [{ role: "user", content: "Which city?" }],
      output_config: { format: { type: "json_schema", schema } },
    } as Anthropic.MessageCreateParamsNonStreaming);
    assert.deepEqual(m.content, [{ type: "text", text: '{"city":"Paris"}' }]);
    assert.deepEqual((oai.received.at(-1)!.body as { response_format: unknown }).response_format, { type: "json_schema", json_schema: { name: "response", schema } });
  });

  it("a fallback chain across protocols: what only the client's own protocol takes goes to that provider only", async () => {
    const body = { model: "oai-then-claude", messages: [{ role: "user" as const, content: "hi" }], logprobs: true, top_logprobs: 2 };
    oai.queue.push({ kind: "json", body: { ...openaiJson("hi", "gpt-up"), choices: [{ index: 0, message: { role: "assistant", content: "hi" }, logprobs: { content: [] }, finish_reason: "stop" }] } });
    const r = await s.openai.chat.completions.create(body);
    assert.deepEqual(r.choices[0]!.logprobs, { content: [] }, "the OpenAI provider's own answer, passed through");
    assert.equal((oai.received.at(-1)!.body as { top_logprobs?: number }).top_logprobs, 2);
    // The fallback cannot take logprobs, so the OpenAI provider's failure is the answer, and nothing goes to Anthropic.
    const failing = { kind: "status" as const, status: 500, body: { error: { message: "down", type: "server_error" } } };
    oai.queue.push(failing, failing);
    const before = claude.received.length;
    await assert.rejects(s.openai.chat.completions.create(body), (e: unknown) => e instanceof Error && "status" in e && typeof e.status === "number" && e.status >= 500);
    assert.equal(claude.received.length, before);
    // Without the field, the same failure falls back to Anthropic.
    oai.queue.push(failing, failing);
    claude.queue.push({ kind: "sse", body: anthropicSse("from the fallback") });
    const r2 = await s.openai.chat.completions.create({ model: "oai-then-claude", messages: [{ role: "user", content: "hi" }] });
    assert.equal(r2.choices[0]!.message.content, "from the fallback");
  });

  it("a balanced rule across protocols: what only the client's own protocol takes goes to its balanced target of that protocol", async () => {
    const body = { model: "claude-or-oai", messages: [{ role: "user" as const, content: "hi" }], logprobs: true, top_logprobs: 2 };
    oai.queue.push({ kind: "json", body: { ...openaiJson("hi", "gpt-up"), choices: [{ index: 0, message: { role: "assistant", content: "hi" }, logprobs: { content: [] }, finish_reason: "stop" }] } });
    const before = claude.received.length;
    const r = await s.openai.chat.completions.create(body);
    assert.deepEqual(r.choices[0]!.logprobs, { content: [] }, "the OpenAI target's own answer, passed through");
    assert.equal((oai.received.at(-1)!.body as { top_logprobs?: number }).top_logprobs, 2);
    assert.equal(claude.received.length, before, "the chosen Anthropic target was left out for this request");
    // Without the field, the rule's choice stands.
    claude.queue.push({ kind: "sse", body: anthropicSse("from the chosen target") });
    const r2 = await s.openai.chat.completions.create({ model: "claude-or-oai", messages: [{ role: "user", content: "hi" }] });
    assert.equal(r2.choices[0]!.message.content, "from the chosen target");
  });

  it("a refusal crosses protocols: Anthropic's refusal is OpenAI's content_filter and back, whole and streamed", async () => {
    const refusedSse = anthropicSse("I can't help with that.").replace('"stop_reason":"end_turn"', '"stop_reason":"refusal"');
    assert.notEqual(refusedSse, anthropicSse("I can't help with that."), "the fixture's stop reason was replaced");
    claude.queue.push({ kind: "sse", body: refusedSse });
    const r = await s.openai.chat.completions.create({ model: "to-claude", messages: [{ role: "user", content: "Something bad." }] });
    assert.equal(r.choices[0]!.finish_reason, "content_filter");
    claude.queue.push({ kind: "sse", body: refusedSse, chunkSize: 11 });
    let finish: string | null = null;
    for await (const c of await s.openai.chat.completions.create({ model: "to-claude", stream: true, messages: [{ role: "user", content: "Something bad." }] })) finish = c.choices[0]?.finish_reason ?? finish;
    assert.equal(finish, "content_filter");

    const filteredSse = openaiSse("").replace('"finish_reason":"stop"', '"finish_reason":"content_filter"');
    assert.notEqual(filteredSse, openaiSse(""), "the fixture's finish reason was replaced");
    oai.queue.push({ kind: "sse", body: filteredSse });
    const m = await anthropic.messages.create({ model: "to-openai", max_tokens: 50, messages: [{ role: "user", content: "Something bad." }] });
    assert.equal(m.stop_reason, "refusal");
    oai.queue.push({ kind: "sse", body: filteredSse });
    const streamed = await anthropic.messages.stream({ model: "to-openai", max_tokens: 50, messages: [{ role: "user", content: "Something bad." }] }).finalMessage();
    assert.equal(streamed.stop_reason, "refusal");
  });

  it("Anthropic client → OpenAI provider: tokens the provider read from its prompt cache come back as a cache read", async () => {
    const usage = { prompt_tokens: 2000, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 1536 } };
    for (const stream of [false, true]) {
      oai.queue.push({ kind: "sse", body: openaiSse("ok", "gpt-up", usage) });
      const req = { model: "to-openai", max_tokens: 100, messages: [{ role: "user" as const, content: "Long prompt." }] };
      const m = stream ? await anthropic.messages.stream(req).finalMessage() : await anthropic.messages.create(req);
      // Anthropic counts input_tokens without the cache read, as its own API does.
      assert.deepEqual([m.usage.input_tokens, m.usage.cache_read_input_tokens, m.usage.output_tokens], [464, 1536, 5], `stream ${stream}`);
    }
  });

  it("Anthropic client → Anthropic provider: countTokens asks the provider's count_tokens, model renamed", async () => {
    claude.queue.push({ kind: "json", body: { input_tokens: 57 } });
    const r = await anthropic.messages.countTokens({
      model: "to-claude",
      system: "Be brief.",
      messages: [{ role: "user", content: "How many?" }],
      tools: [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }],
    });
    assert.equal(r.input_tokens, 57);
    const got = claude.received.at(-1)!;
    assert.equal(got.url, "/v1/messages/count_tokens");
    assert.deepEqual(got.body, {
      model: "claude-up",
      system: "Be brief.",
      messages: [{ role: "user", content: [{ type: "text", text: "How many?" }] }],
      tools: [{ name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } }],
    });
    // An OpenAI provider has no such endpoint: a clear 400, as before.
    await assert.rejects(anthropic.messages.countTokens({ model: "to-openai", messages: [{ role: "user", content: "x" }] }), (e: unknown) => e instanceof Anthropic.BadRequestError);
  });

  it("OpenAI → OpenAI passes the body through byte for byte, and the stream back untouched", async () => {
    // Odd spacing and key order: re-encoding would change these bytes.
    const sent = '{ "stream":true,"messages":[{"content":"hé \\u00e9","role":"user"}],   "model":"gpt-same","x_vendor_field":{"a":1}}';
    const upstream = openaiSse("untouched", "vendor-model-name");
    oai.queue.push({ kind: "sse", body: upstream, chunkSize: 31 });
    const res = await fetch(`${s.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: sent });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), upstream, "the stream comes back as the provider sent it");
    assert.ok(oai.received.at(-1)!.raw.equals(Buffer.from(sent)), "the provider got the client's exact bytes");
  });

  it("pass-through renames the model and nothing else; JSON answers come back as sent", async () => {
    const sent = { model: "to-openai", messages: [{ role: "user", content: "x" }], logit_bias: { "50256": -100 }, stream: false };
    oai.queue.push({ kind: "json", body: openaiJson("json answer", "gpt-up") });
    const res = await fetch(`${s.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(sent) });
    assert.deepEqual(await res.json(), openaiJson("json answer", "gpt-up"));
    assert.deepEqual(oai.received.at(-1)!.body, { ...sent, model: "gpt-up" });
  });

  it("Anthropic → Anthropic passes through, forwarding anthropic-version and the stream as sent", async () => {
    const upstream = anthropicSse("native", "claude-same");
    claude.queue.push({ kind: "sse", body: upstream, chunkSize: 40 });
    const sent = JSON.stringify({ model: "claude-same", max_tokens: 64, messages: [{ role: "user", content: "hi" }], stream: true, metadata: { user_id: "u1" } });
    const res = await fetch(`${s.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", "anthropic-beta": "tools-x" }, body: sent });
    assert.equal(await res.text(), upstream);
    const got = claude.received.at(-1)!;
    assert.ok(got.raw.equals(Buffer.from(sent)));
    assert.equal(got.headers["anthropic-beta"], "tools-x");
    assert.equal(got.headers["x-api-key"], "sk-ant-test-0123456789");

    claude.queue.push({ kind: "json", body: anthropicJson("native json", "claude-same") });
    const msg = await anthropic.messages.create({ model: "claude-same", max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
    assert.equal(msg.content[0]!.type === "text" && msg.content[0]!.text, "native json");
  });

  it("audit rows carry the usage the upstream reported on pass-through", async () => {
    oai.queue.push({ kind: "sse", body: openaiSse("counted", "gpt-same", { prompt_tokens: 123, completion_tokens: 45 }) });
    const st = await s.openai.chat.completions.create({ model: "gpt-same", messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true } });
    for await (const _ of st) void _;
    let row: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !row; i++) {
      await new Promise((r) => setTimeout(r, 30));
      const { items } = (await (await s.admin("/admin/audit?limit=50")).json()) as { items: Record<string, unknown>[] };
      row = items.find((r) => r.prompt_tokens === 123);
    }
    assert.ok(row, "an audit row with the upstream's usage");
    assert.equal(row.completion_tokens, 45);
    assert.equal(row.backend, "oai");
    assert.equal(row.model_served, "gpt-same");
    assert.equal(row.status, "success");
    assert.equal(typeof row.ttft_ms, "number");
  });

  /** The newest audit row that `match` accepts, waiting for it (rows are written in batches). */
  const auditRow = async (match: (r: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    for (let i = 0; i < 100; i++) {
      const { items } = (await (await s.admin("/admin/audit?limit=50")).json()) as { items: Record<string, unknown>[] };
      const row = items.find(match);
      if (row) return row;
      await new Promise((r) => setTimeout(r, 30));
    }
    throw new Error("no such audit row");
  };

  it("a provider's error text that echoes the prompt reaches the client, never the audit log or the server log", async () => {
    const marker = "ZEBRA-PROMPT-7731";
    const echo = { error: { message: `invalid request: {"messages":[{"role":"user","content":"${marker}"}]}`, type: "invalid_request_error" } };
    oai.queue.push({ kind: "status", status: 500, body: echo }, { kind: "status", status: 500, body: echo }, { kind: "status", status: 500, body: echo });
    const err = await s.openai.chat.completions.create({ model: "gpt-same", messages: [{ role: "user", content: marker }] }).catch((e: unknown) => e);
    assert.ok(err instanceof Error && err.message.includes(marker), "the client is told what its provider said");
    oai.queue.length = 0; // a 500 is retried: whatever the retries left unused
    oai.queue.push({ kind: "status", status: 422, body: echo });
    await assert.rejects(anthropic.messages.create({ model: "to-openai", max_tokens: 16, messages: [{ role: "user", content: marker }] }), (e: Error) => e.message.includes(marker));
    const passed = await auditRow((r) => r.model_requested === "gpt-same" && r.status === "error");
    assert.equal(passed.error_message, "provider 'oai' answered HTTP 500");
    const translated = await auditRow((r) => r.model_requested === "to-openai" && r.status === "error");
    assert.equal(translated.error_message, "provider 'oai' rejected the request");
    const { items } = (await (await s.admin("/admin/audit?limit=200")).json()) as { items: unknown[] };
    assert.ok(!JSON.stringify(items).includes(marker), "no audit row holds the prompt");
    assert.ok(!s.log().includes(marker), "the server log does not hold the prompt");
  });

  it("tool arguments from an OpenAI provider that are not JSON give an Anthropic client a 502, not a 500", async () => {
    const toolChunk = (args: string) =>
      `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", model: "gpt-up", choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_time", arguments: args } }] }, finish_reason: null }] })}\n\n` +
      `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", model: "gpt-up", choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] })}\n\ndata: [DONE]\n\n`;
    for (const args of ["{bad", "[1,2]"]) {
      oai.queue.push({ kind: "sse", body: toolChunk(args) });
      const err = await anthropic.messages
        .create({ model: "to-openai", max_tokens: 16, messages: [{ role: "user", content: "time?" }], tools: [{ name: "get_time", input_schema: { type: "object", properties: {} } }] })
        .catch((e: unknown) => e);
      assert.ok(err instanceof Anthropic.APIError, String(err));
      assert.equal(err.status, 502);
      assert.match(err.message, /tool arguments that are not/);
    }
    assert.doesNotMatch(s.log(), /unhandled error/);
  });

  it("usage a provider reports that is not a token count is left out: no metrics error, no negative audit tokens", async () => {
    oai.queue.push({ kind: "sse", body: openaiSse("odd usage", "gpt-same", { prompt_tokens: -5, completion_tokens: "abc" as unknown as number }) });
    const passed = await s.openai.chat.completions
      .create({ model: "gpt-same", messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true } })
      .withResponse();
    for await (const _ of passed.data) void _;
    oai.queue.push({ kind: "sse", body: openaiSse("odd usage", "gpt-up", { prompt_tokens: -5, completion_tokens: 1e308 }) });
    const translated = await anthropic.messages.create({ model: "to-openai", max_tokens: 16, messages: [{ role: "user", content: "hi" }] }).withResponse();
    assert.equal(translated.data.content[0]?.type === "text" && translated.data.content[0].text, "odd usage");
    for (const id of [passed.response.headers.get("x-request-id"), translated.response.headers.get("x-request-id")]) {
      const row = await auditRow((r) => r.request_id === id);
      assert.equal(row.status, "success");
      for (const k of ["prompt_tokens", "completion_tokens", "total_tokens"]) assert.ok(row[k] === null || row[k] === 0, `${k}: ${String(row[k])}`);
    }
    assert.doesNotMatch(s.log(), /lifecycle subscriber failed|counter only goes up/);
  });

  it("/v1/embeddings follows routing rules: forwarded to an OpenAI provider's /embeddings, renamed, answered as sent, usage audited", async () => {
    const answer = { object: "list", data: [{ object: "embedding", index: 0, embedding: [0.25, -0.5, 1] }], model: "text-embedding-up", usage: { prompt_tokens: 6, total_tokens: 6 } };
    oai.queue.push({ kind: "status", status: 429, body: { error: { message: "slow down" } }, headers: { "retry-after": "0" } }, { kind: "json", body: answer });
    const before = oai.received.length;
    const res = await s.openai.embeddings.create({ model: "emb-small", input: "hello", encoding_format: "float" }).withResponse();
    assert.deepEqual(res.data.data[0]?.embedding, [0.25, -0.5, 1]);
    assert.equal(res.data.model, "text-embedding-up", "the provider's answer comes back as it was sent");
    const got = oai.received.slice(before);
    assert.equal(got.length, 2, "the 429 was retried");
    assert.equal(got[1]!.url, "/v1/embeddings");
    assert.deepEqual(got[1]!.body, { model: "text-embedding-up", input: "hello", encoding_format: "float" });
    assert.equal(got[1]!.headers.authorization, "Bearer sk-oai-test-0123456789");
    const row = await auditRow((r) => r.request_id === res.response.headers.get("x-request-id"));
    assert.equal(row.backend, "oai");
    assert.equal(row.model_served, "text-embedding-up");
    assert.equal(row.route, "/v1/embeddings");
    assert.equal(row.prompt_tokens, 6);

    const anthropicTarget = await s.openai.embeddings.create({ model: "emb-claude", input: "hello" }).catch((e: unknown) => e);
    assert.ok(anthropicTarget instanceof Error && "status" in anthropicTarget);
    assert.equal(anthropicTarget.status, 400);
    assert.match(anthropicTarget.message, /provider 'claude'.*no embeddings endpoint/);
    const invalid = await s.openai.embeddings.create({ model: "emb-small", input: [] as unknown as string }).catch((e: unknown) => e);
    assert.ok(invalid instanceof Error && "status" in invalid);
    assert.equal(invalid.status, 400, "the body is validated before anything is forwarded");
    assert.equal(oai.received.length, before + 2);
  });

  it("a mid-stream drop on pass-through ends in an in-band error, in the client's protocol", async () => {
    claude.queue.push({ kind: "drop", body: anthropicSse("cut short"), frames: 3 });
    const stream = anthropic.messages.stream({ model: "claude-same", max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
    await assert.rejects(stream.finalMessage(), /dropped mid-stream/);
  });

  const passThrough = (signal?: AbortSignal) =>
    fetch(`${s.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-same", messages: [{ role: "user", content: "hi" }], stream: true }),
      signal,
    });

  it("a client that goes away mid pass-through stream closes the upstream request", async () => {
    oai.queue.push({ kind: "hang", body: openaiSse("never finished", "gpt-same"), frames: 2 });
    const closed = oai.nextEarlyClose();
    const abort = new AbortController();
    const res = await passThrough(abort.signal);
    const reader = res.body!.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /^data: /);
    abort.abort();
    await closed; // the provider saw its request closed before it ended the answer
  });

  it("a client that goes away before the provider answers cancels the upstream request", async () => {
    oai.queue.push({ kind: "slow", delayMs: 30_000, then: { kind: "sse", body: openaiSse("too late", "gpt-same") } });
    const closed = oai.nextEarlyClose();
    const abort = new AbortController();
    const pending = passThrough(abort.signal).catch((err: unknown) => err);
    while (oai.inFlight === 0) await new Promise((r) => setTimeout(r, 10));
    abort.abort();
    assert.ok((await pending) instanceof Error);
    await closed;
  });

  it("a long pass-through stream read slowly arrives whole and in order (backpressure)", async () => {
    // ~2 MiB in 1 KiB writes: far past what llmux holds before it pauses reading the provider.
    const frames = Array.from({ length: 6000 }, (_, i) => `data: {"i":${i},"pad":"${"x".repeat(300)}"}\n\n`).join("");
    oai.queue.push({ kind: "sse", body: frames + "data: [DONE]\n\n", chunkSize: 1024 });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    const res = await passThrough();
    const reader = res.body!.getReader();
    const parts: Uint8Array[] = [];
    for (let r = await reader.read(), n = 0; !r.done; r = await reader.read(), n++) {
      parts.push(r.value);
      if (n % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 5)); // a slow reader
    }
    assert.equal(Buffer.concat(parts).toString("utf8"), frames + "data: [DONE]\n\n");
    process.off("warning", onWarning);
    // Each wait for the client to drain must take its listeners away again.
    assert.deepEqual(warnings, []);
  });
});
