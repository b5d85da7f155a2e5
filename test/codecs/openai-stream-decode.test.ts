import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { OpenAIChatStreamEncoder } from "../../src/codecs/openai/chat-response.js";
import { OpenAIChatStreamDecoder, sseDataPayloads } from "../../src/codecs/openai/chat-stream-decode.js";
import type { ChatEvent } from "../../src/core/chat.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/openai/${name}`, import.meta.url), "utf8");
const decodeAll = (body: string): ChatEvent[] => {
  const d = new OpenAIChatStreamDecoder();
  return sseDataPayloads(body).flatMap((p) => d.decode(p));
};

describe("OpenAI stream decoding (wire → canonical → wire)", () => {
  it("passes a refusal on as the answer's text", () => {
    const d = new OpenAIChatStreamDecoder();
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ model: "m", choices: [{ index: 0, delta, finish_reason: finish }] });
    const events = [chunk({ role: "assistant", content: null, refusal: "" }), chunk({ refusal: "I can't " }), chunk({ refusal: "help with that." }), chunk({}, "stop"), "[DONE]"].flatMap((c) => d.decode(c));
    assert.deepEqual(events.filter((e) => e.type === "text"), [
      { type: "text", text: "I can't " },
      { type: "text", text: "help with that." },
    ]);
    const f = new OpenAIChatStreamDecoder();
    const filtered = [chunk({ role: "assistant", content: "" }), chunk({}, "content_filter"), "[DONE]"].flatMap((c) => f.decode(c));
    assert.deepEqual(filtered.at(-1), { type: "finish", reason: "refusal" }, "a filtered answer stays a refusal for an Anthropic client");
  });

  it("reads thinking_blocks (another llmux in front of Claude), skipping entries nothing signed", () => {
    const chunk = (delta: Record<string, unknown>) => JSON.stringify({ model: "m", choices: [{ index: 0, delta, finish_reason: null }] });
    const d = new OpenAIChatStreamDecoder();
    d.decode(chunk({ role: "assistant", content: "" }));
    const events = d.decode(
      chunk({
        thinking_blocks: [
          { type: "thinking", thinking: "Need it.", signature: "sig-A" },
          { type: "thinking", thinking: "unsigned", signature: "" },
          { type: "redacted_thinking", data: "opaque-B" },
          { type: "note" },
        ],
      }),
    );
    assert.deepEqual(events, [
      { type: "reasoning_block", block: { kind: "signed", text: "Need it.", signature: "sig-A" } },
      { type: "reasoning_block", block: { kind: "redacted", data: "opaque-B" } },
    ]);
    assert.throws(() => d.decode(chunk({ thinking_blocks: "x" })), TypeError, "a list of the wrong type is a malformed chunk");
  });

  it("decodes a recorded OpenAI tool-call stream into canonical events", () => {
    assert.deepEqual(decodeAll(fixture("real-tool-stream.sse")), [
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

  it("round-trips llmux's own recorded frames exactly", () => {
    for (const [name, usage] of [["chat-stream-usage.sse", true], ["chat-stream-stop.sse", false]] as const) {
      const body = fixture(name);
      const events = decodeAll(body);
      const enc = new OpenAIChatStreamEncoder("tiny", usage, { id: "chatcmpl-fixture", created: 1764000000 });
      // The decoder cannot know a stop string was the cause: re-encoding maps both to "stop".
      const again = events.map((e) => enc.encode(e)).join("") + enc.end();
      assert.equal(again, body);
    }
  });

  it("re-encodes a recorded OpenAI stream with the same content, calls and usage", () => {
    const events = decodeAll(fixture("real-tool-stream.sse"));
    const enc = new OpenAIChatStreamEncoder("m", true);
    const back = decodeAll(events.map((e) => enc.encode(e)).join("") + enc.end());
    assert.deepEqual(back.slice(1), events.slice(1));
  });
});
