import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SseParser, readSse } from "../sse";
import { AnthropicStreamDecoder } from "./anthropic";
import { joinToolCalls, type ChatStreamEvent, type ToolCall } from "./events";
import { decodeOpenAIFrame } from "./openai";

// The server's own recorded streams (test/fixtures): the UI must decode what llmux and the vendors send.
const fixture = (p: string) => readFileSync(new URL(`../../../../test/fixtures/${p}`, import.meta.url), "utf8");

/** Feeds a text in chunks of `size` characters, to prove frames split anywhere still parse. */
function framesOf(text: string, size: number) {
  const p = new SseParser();
  const out = [];
  for (let i = 0; i < text.length; i += size) out.push(...p.push(text.slice(i, i + size)));
  out.push(...p.push("\n\n"));
  return out;
}

const textOf = (events: ChatStreamEvent[], type: "text" | "reasoning" = "text") =>
  events.filter((e): e is { type: typeof type; text: string } => e.type === type).map((e) => e.text).join("");

describe("SseParser", () => {
  it("parses events, multi-line data, comments and CRLF, split at any byte", () => {
    const text = ": keepalive\r\nevent: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata: {\"x\":3}\n\n";
    for (const size of [1, 2, 3, 7, 100]) {
      expect(framesOf(text, size)).toEqual([
        { event: "a", data: "1\n2" },
        { event: undefined, data: '{"x":3}' },
      ]);
    }
  });

  it("reads a fetch body stream", async () => {
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode("data: he"));
        c.enqueue(enc.encode("llo\n\ndata: [DONE]"));
        c.close();
      },
    });
    const frames = [];
    for await (const f of readSse(body)) frames.push(f.data);
    expect(frames).toEqual(["hello", "[DONE]"]);
  });
});

describe("OpenAI stream decoding", () => {
  it("decodes a recorded stream's text, finish reason and usage", () => {
    const events = framesOf(fixture("openai/chat-stream-usage.sse"), 13).flatMap(decodeOpenAIFrame);
    expect(textOf(events).length).toBeGreaterThan(0);
    expect(events.some((e) => e.type === "finish")).toBe(true);
    const usage = events.find((e) => e.type === "usage");
    expect(usage).toMatchObject({ type: "usage" });
    expect((usage as { completion_tokens: number }).completion_tokens).toBeGreaterThan(0);
  });

  it("joins a recorded tool call's argument pieces into one call", () => {
    const events = framesOf(fixture("openai/real-tool-stream.sse"), 50).flatMap(decodeOpenAIFrame);
    let calls: ToolCall[] = [];
    for (const e of events) if (e.type === "tool_call") calls = joinToolCalls(calls, e);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls[0].name).not.toBe("");
    expect(() => JSON.parse(calls[0].arguments)).not.toThrow();
  });

  it("decodes reasoning_content and in-band errors, ignores [DONE], flags malformed data", () => {
    expect(decodeOpenAIFrame({ data: '{"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}' })).toEqual([{ type: "reasoning", text: "hmm" }]);
    expect(decodeOpenAIFrame({ data: '{"error":{"message":"timed out"}}' })).toEqual([{ type: "error", message: "timed out" }]);
    expect(decodeOpenAIFrame({ data: "[DONE]" })).toEqual([]);
    expect(decodeOpenAIFrame({ data: "{not json" })).toEqual([{ type: "error", message: "malformed stream data" }]);
  });
});

describe("Anthropic stream decoding", () => {
  const decodeAll = (name: string) => {
    const d = new AnthropicStreamDecoder();
    return framesOf(fixture(`anthropic/${name}`), 17).flatMap((f) => d.decode(f));
  };

  it("separates thinking from text and reads usage and the stop reason", () => {
    const events = decodeAll("stream-thinking-text.sse");
    expect(textOf(events, "reasoning").length).toBeGreaterThan(0);
    expect(textOf(events).length).toBeGreaterThan(0);
    expect(events.find((e) => e.type === "finish")).toMatchObject({ reason: expect.any(String) });
    expect(events.some((e) => e.type === "usage")).toBe(true);
  });

  it("turns tool_use blocks into tool calls with whole JSON arguments", () => {
    const events = decodeAll("stream-tool-use.sse");
    let calls: ToolCall[] = [];
    for (const e of events) if (e.type === "tool_call") calls = joinToolCalls(calls, e);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls[0].id).toMatch(/^toolu_/);
    expect(calls[0].name).not.toBe("");
    expect(() => JSON.parse(calls[0].arguments || "{}")).not.toThrow();
  });

  it("reports an error event", () => {
    const d = new AnthropicStreamDecoder();
    expect(d.decode({ event: "error", data: '{"type":"error","error":{"type":"overloaded_error","message":"busy"}}' })).toEqual([{ type: "error", message: "busy" }]);
  });
});
