import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "../helpers/server.js";

type Params = Anthropic.MessageCreateParamsNonStreaming;

/**
 * Sampling settings of the classic Messages API (this SDK version no longer types
 * them); `temperature: 0` is greedy decoding, so the same prompt gives the same text.
 */
const GREEDY = { temperature: 0 } as Record<never, never>;

const user = (content: string): Anthropic.MessageParam[] => [{ role: "user", content }];

/** A message as plain JSON without its per-response ids (its own, its tool calls') and the SDK's non-wire `parsed_output`. */
function comparable(m: unknown): Record<string, unknown> {
  const { id: _id, parsed_output: _p, ...rest } = JSON.parse(JSON.stringify(m)) as Record<string, unknown>;
  const content = (rest.content as Record<string, unknown>[] | undefined)?.map((b) => (b.type === "tool_use" ? { ...b, id: "ID" } : b));
  return content ? { ...rest, content } : rest;
}

/** Parses a raw SSE body into `[event, data]` pairs. */
function parseSse(text: string): [string, Record<string, unknown>][] {
  return text
    .split("\n\n")
    .filter(Boolean)
    .map((frame) => {
      const [ev, data] = frame.split("\n");
      assert.match(ev, /^event: /);
      assert.match(data, /^data: /);
      return [ev.slice("event: ".length), JSON.parse(data.slice("data: ".length)) as Record<string, unknown>];
    });
}

describe("Anthropic Messages API on the real engine", () => {
  let s: TestServer;
  let client: Anthropic;
  before(async () => {
    s = await startTestServer({ models: { tiny: { preset: "tiny" }, think: { preset: "tiny-think" } }, engine: { parallel: 2 } });
    client = new Anthropic({ baseURL: s.url, apiKey: "unused", maxRetries: 0, timeout: 60_000 });
  });
  after(() => s.close());

  it("answers a non-streaming message with usage", async () => {
    const { data: m, response } = await client.messages
      .create({ model: "tiny", max_tokens: 12, messages: user("Hello there") })
      .withResponse();
    assert.match(m.id, /^msg_01[0-9A-Za-z]{22}$/);
    assert.equal(m.type, "message");
    assert.equal(m.role, "assistant");
    assert.equal(m.model, "tiny");
    assert.ok(m.usage.input_tokens > 3);
    assert.ok(m.usage.output_tokens >= 1 && m.usage.output_tokens <= 12);
    assert.equal(m.usage.cache_read_input_tokens, 0);
    if (m.stop_reason === "max_tokens") assert.equal(m.usage.output_tokens, 12);
    else assert.equal(m.stop_reason, "end_turn");
    assert.equal(m.stop_sequence, null);
    for (const b of m.content) assert.equal(b.type, "text");
    assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
    assert.match(response.headers.get("request-id") ?? "", /^req_/);
  });

  it("stops at max_tokens with exactly max_tokens output tokens", async () => {
    const m = await client.messages.create({ model: "tiny", max_tokens: 24, messages: user("Go"), ...GREEDY });
    assert.equal(m.stop_reason, "max_tokens");
    assert.equal(m.usage.output_tokens, 24);
  });

  it("streams with messages.stream() to the same message as without streaming", async () => {
    const params: Params = { model: "tiny", max_tokens: 10, messages: user("Stream please"), ...GREEDY };
    const whole = await client.messages.create(params);
    const stream = client.messages.stream(params);
    let text = "";
    stream.on("text", (delta) => (text += delta));
    const final = await stream.finalMessage();
    assert.deepEqual(comparable(final), comparable(whole));
    assert.equal(text, whole.content.map((b) => (b.type === "text" ? b.text : "")).join(""));
  });

  it("streams raw events with create({ stream: true }) in Anthropic's order", async () => {
    const params: Params = { model: "tiny", max_tokens: 8, messages: user("Raw events"), ...GREEDY };
    const whole = await client.messages.create(params);
    const stream = await client.messages.create({ ...params, stream: true });
    const events: Anthropic.RawMessageStreamEvent[] = [];
    for await (const ev of stream) events.push(ev);
    const types = events.map((e) => e.type);
    const deltas = types.filter((t) => t === "content_block_delta").length;
    assert.ok(deltas >= 1);
    // The SDK drops ping events; the raw order is checked over plain HTTP below.
    assert.deepEqual(types, [
      "message_start",
      "content_block_start",
      ...Array<string>(deltas).fill("content_block_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    const start = events[0] as Anthropic.RawMessageStartEvent;
    assert.deepEqual(start.message.content, []);
    assert.equal(start.message.stop_reason, null);
    assert.equal(start.message.usage.input_tokens, whole.usage.input_tokens, "message_start reports the prompt size");
    const md = events.at(-2) as Anthropic.RawMessageDeltaEvent;
    assert.equal(md.delta.stop_reason, whole.stop_reason);
    assert.equal(md.usage.output_tokens, whole.usage.output_tokens);
    assert.equal(md.usage.input_tokens, whole.usage.input_tokens);
    for (const e of events) if ("index" in e) assert.equal(e.index, 0);
  });

  it("sends the exact SSE frames, ping included, over plain HTTP", async () => {
    const res = await fetch(`${s.url}/v1/messages`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": "sk-ant-whatever",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "fine-grained-tool-streaming-2025-05-14",
      },
      body: JSON.stringify({ model: "tiny", max_tokens: 6, stream: true, messages: user("Frames"), ...GREEDY }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.match(res.headers.get("request-id") ?? "", /^req_/);
    const frames = parseSse(await res.text());
    for (const [ev, data] of frames) assert.equal(data.type, ev, "the data's type names the event");
    const names = frames.map(([ev]) => ev);
    assert.deepEqual(names.slice(0, 3), ["message_start", "content_block_start", "ping"]);
    assert.deepEqual(names.slice(-3), ["content_block_stop", "message_delta", "message_stop"]);
    assert.ok(names.slice(3, -3).every((n) => n === "content_block_delta"));
  });

  it("stops before a stop sequence and names it", async () => {
    const base: Params = { model: "tiny", max_tokens: 40, messages: user("Tell me"), ...GREEDY };
    const free = await client.messages.create(base);
    const text = free.content.map((b) => (b.type === "text" ? b.text : "")).join("");
    const chars = [...text];
    const cut = chars.findIndex((ch, i) => i >= 5 && ch !== "\uFFFD" && chars.indexOf(ch) === i);
    assert.ok(cut > 0, "the free text should have a character to stop on");
    const stopChar = chars[cut];
    const expected = chars.slice(0, cut).join("");
    const stopped = await client.messages.create({ ...base, stop_sequences: ["\u0000never", stopChar] });
    assert.equal(stopped.stop_reason, "stop_sequence");
    assert.equal(stopped.stop_sequence, stopChar);
    assert.equal(stopped.content.map((b) => (b.type === "text" ? b.text : "")).join(""), expected);
    const final = await client.messages.stream({ ...base, stop_sequences: [stopChar] }).finalMessage();
    assert.equal(final.stop_reason, "stop_sequence");
    assert.equal(final.stop_sequence, stopChar);
    assert.deepEqual(comparable(final), comparable(stopped));
  });

  it("takes the system prompt as a string or as text blocks", async () => {
    const longer = await client.messages.countTokens({ model: "tiny", system: "You are terse. ".repeat(4), messages: user("Hi") });
    const asString = await client.messages.create({ model: "tiny", max_tokens: 6, system: "You are terse.", messages: user("Hi"), ...GREEDY });
    const asBlocks = await client.messages.create({
      model: "tiny",
      max_tokens: 6,
      system: [{ type: "text", text: "You are terse.", cache_control: { type: "ephemeral" } }],
      messages: user("Hi"),
      ...GREEDY,
    });
    assert.ok(longer.input_tokens > asString.usage.input_tokens, "the system prompt is part of the prompt");
    assert.deepEqual(comparable(asBlocks), comparable(asString));
  });

  it("counts tokens exactly as a message reports them", async () => {
    const prompt = {
      model: "tiny",
      system: "Be kind.",
      messages: [
        { role: "user" as const, content: "What is two plus two?" },
        { role: "assistant" as const, content: [{ type: "text" as const, text: "Four." }] },
        { role: "user" as const, content: [{ type: "text" as const, text: "And three plus three?" }] },
      ],
    };
    const counted = await client.messages.countTokens(prompt);
    const m = await client.messages.create({ ...prompt, max_tokens: 2 });
    assert.equal(counted.input_tokens, m.usage.input_tokens);
    const short = await client.messages.countTokens({ model: "tiny", messages: user("And three plus three?") });
    assert.ok(counted.input_tokens > short.input_tokens, "the history is part of the prompt");
  });

  it("replays a multi-turn history with tool use and tool results", async () => {
    const m = await client.messages.create({
      model: "tiny",
      max_tokens: 4,
      messages: [
        { role: "user", content: "Weather in Paris?" },
        {
          role: "assistant",
          content: [
            { type: "text", text: "Checking." },
            { type: "tool_use", id: "toolu_01", name: "get_weather", input: { city: "Paris" } },
          ],
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "toolu_01", content: "15 C" },
            { type: "text", text: "Thanks. Summarise." },
          ],
        },
      ],
    });
    assert.ok(m.usage.input_tokens > 10);
    assert.ok(m.usage.output_tokens <= 4);
  });

  it("returns thinking blocks from a reasoning model, streamed and whole alike", async () => {
    const params: Params = {
      model: "think",
      max_tokens: 12,
      // `enabled` needs budget_tokens ≥ 1024 below max_tokens; adaptive keeps this answer short.
      thinking: { type: "adaptive" },
      messages: user("Think first"),
      ...GREEDY,
    };
    const whole = await client.messages.create(params);
    assert.equal(whole.content[0]?.type, "thinking", "a thinking model starts with its reasoning");
    const first = whole.content[0] as Anthropic.ThinkingBlock;
    assert.ok(first.thinking.length > 0);
    assert.equal(first.signature, "");
    const stream = client.messages.stream(params);
    let thinking = "";
    stream.on("thinking", (delta) => (thinking += delta));
    const final = await stream.finalMessage();
    assert.deepEqual(comparable(final), comparable(whole));
    assert.equal(thinking, first.thinking);
    const off = await client.messages.create({ ...params, thinking: { type: "disabled" } });
    assert.ok(off.content.every((b) => b.type === "text"), "thinking disabled gives text only");
  });

  it("accepts tools and answers with a well-formed message", async () => {
    const params: Params = {
      model: "tiny",
      max_tokens: 24,
      messages: user("Which unit?"),
      tools: [
        {
          name: "set_unit",
          description: "Sets the temperature unit",
          input_schema: { type: "object", properties: { unit: { type: "string", enum: ["celsius", "fahrenheit"] } }, required: ["unit"] },
        },
      ],
      tool_choice: { type: "any", disable_parallel_tool_use: true },
      ...GREEDY,
    };
    const whole = await client.messages.create(params);
    assert.ok(["tool_use", "max_tokens", "end_turn"].includes(whole.stop_reason ?? ""), String(whole.stop_reason));
    if (whole.stop_reason === "tool_use") {
      const call = whole.content.at(-1) as Anthropic.ToolUseBlock;
      assert.equal(call.type, "tool_use");
      assert.equal(call.name, "set_unit");
      assert.equal(typeof call.input, "object");
    }
    const final = await client.messages.stream(params).finalMessage();
    assert.deepEqual(comparable(final), comparable(whole));
  });

  it("constrains the answer to output_config.format's JSON schema", async () => {
    const m = await client.messages.create({
      model: "tiny",
      max_tokens: 40,
      messages: user("Which unit?"),
      output_config: {
        format: {
          type: "json_schema",
          schema: { type: "object", properties: { unit: { type: "string", enum: ["c", "f"] } }, required: ["unit"], additionalProperties: false },
        },
      },
      ...GREEDY,
    });
    assert.equal(m.stop_reason, "end_turn");
    const text = m.content.map((b) => (b.type === "text" ? b.text : "")).join("");
    const value = JSON.parse(text) as { unit: string };
    assert.ok(["c", "f"].includes(value.unit));
  });
});
