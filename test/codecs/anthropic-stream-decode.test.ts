import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { AnthropicMessageAccumulator, AnthropicStreamEncoder } from "../../src/codecs/anthropic/messages-response.js";
import { AnthropicStreamDecoder, sseFrames } from "../../src/codecs/anthropic/stream-decode.js";
import type { ChatEvent } from "../../src/core/chat.js";
import { LlmuxError } from "../../src/errors/llmux-error.js";
import { ANTHROPIC_FIXTURE_EVENTS as EXPECTED } from "../fixtures/anthropic/canonical-events.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/anthropic/${name}`, import.meta.url), "utf8");
const ID = "msg_013Zva2CMHLNnXjNJJKqJ2EF";

const decodeAll = (body: string): ChatEvent[] => {
  const d = new AnthropicStreamDecoder();
  return sseFrames(body).flatMap((f) => d.decode(f.event, f.data));
};


/** One SSE frame the way the Anthropic API writes it. */
const sse = (data: Record<string, unknown>) => `event: ${String(data.type)}\ndata: ${JSON.stringify(data)}\n\n`;

describe("Anthropic stream decoding (wire → canonical → wire)", () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`decodes the recorded ${name} into canonical events`, () => {
      assert.deepEqual(decodeAll(fixture(name)), expected);
    });
  }

  it("round-trips llmux's own recorded frames byte for byte", () => {
    for (const name of Object.keys(EXPECTED)) {
      const body = fixture(name);
      // The fixtures were written with model "tiny" and the fixed id; the prompt size
      // comes back through the decoded start event's promptTokens.
      const enc = new AnthropicStreamEncoder("tiny", { id: ID });
      const again = decodeAll(body).map((e) => enc.encode(e)).join("") + enc.end();
      assert.equal(again, body, name);
    }
  });

  it("decodes a stream in the shape the Anthropic API sends", () => {
    const body =
      sse({
        type: "message_start",
        message: {
          id: "msg_01XFDUDYJgAACzvnptvVoYEL",
          type: "message",
          role: "assistant",
          content: [],
          model: "claude-sonnet-4-5-20250929",
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 472, cache_creation_input_tokens: 0, cache_read_input_tokens: 128, output_tokens: 1, service_tier: "standard" },
        },
      }) +
      sse({ type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } }) +
      sse({ type: "ping" }) +
      sse({ type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Need the weather." } }) +
      sse({ type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "EqQBCgIYAhIM1gbcDa9GJwZA" } }) +
      sse({ type: "content_block_stop", index: 0 }) +
      sse({ type: "content_block_start", index: 1, content_block: { type: "text", text: "" } }) +
      sse({ type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "Okay, let me check." } }) +
      sse({ type: "content_block_stop", index: 1 }) +
      sse({ type: "content_block_start", index: 2, content_block: { type: "tool_use", id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", name: "get_weather", input: {} } }) +
      sse({ type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: "" } }) +
      sse({ type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '{"location": "San Fra' } }) +
      sse({ type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: 'ncisco, CA", "unit": "fah' } }) +
      sse({ type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: 'renheit"}' } }) +
      sse({ type: "content_block_stop", index: 2 }) +
      sse({ type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 89 } }) +
      sse({ type: "message_stop" });
    assert.deepEqual(decodeAll(body), [
      // input_tokens leaves out the 128 read from the prompt cache: the canonical count holds them.
      { type: "start", model: "claude-sonnet-4-5-20250929", promptTokens: 600 },
      { type: "reasoning", text: "Need the weather." },
      // The signature_delta is kept: the whole signed block follows its text, at its stop.
      { type: "reasoning_block", block: { kind: "signed", text: "Need the weather.", signature: "EqQBCgIYAhIM1gbcDa9GJwZA" } },
      { type: "text", text: "Okay, let me check." },
      { type: "tool_call_start", index: 0, id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", name: "get_weather" },
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"location": "San Fra' },
      { type: "tool_call_delta", index: 0, argumentsDelta: 'ncisco, CA", "unit": "fah' },
      { type: "tool_call_delta", index: 0, argumentsDelta: 'renheit"}' },
      { type: "tool_call_end", index: 0 },
      // output_tokens in message_delta is cumulative: it replaces message_start's 1.
      { type: "usage", usage: { promptTokens: 600, completionTokens: 89, cachedPromptTokens: 128 } },
      { type: "finish", reason: "tool_calls" },
    ]);
  });

  it("keeps signed and redacted thinking blocks, and writes them back as Anthropic sends them", () => {
    const body =
      sse({ type: "message_start", message: { id: ID, type: "message", role: "assistant", model: "claude", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 9, output_tokens: 1 } } }) +
      sse({ type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } }) +
      sse({ type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "First " } }) +
      sse({ type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "this." } }) +
      sse({ type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: "sig-A" } }) +
      sse({ type: "content_block_stop", index: 0 }) +
      sse({ type: "content_block_start", index: 1, content_block: { type: "redacted_thinking", data: "opaque-B" } }) +
      sse({ type: "content_block_stop", index: 1 }) +
      sse({ type: "content_block_start", index: 2, content_block: { type: "tool_use", id: "toolu_1", name: "get_weather", input: {} } }) +
      sse({ type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '{"city":"Paris"}' } }) +
      sse({ type: "content_block_stop", index: 2 }) +
      sse({ type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 30 } }) +
      sse({ type: "message_stop" });
    const events = decodeAll(body);
    assert.deepEqual(events.slice(1, 5), [
      { type: "reasoning", text: "First " },
      { type: "reasoning", text: "this." },
      { type: "reasoning_block", block: { kind: "signed", text: "First this.", signature: "sig-A" } },
      { type: "reasoning_block", block: { kind: "redacted", data: "opaque-B" } },
    ]);
    // An Anthropic client reached through a translated path gets the same blocks back.
    const enc = new AnthropicStreamEncoder("claude", { id: ID });
    const acc = new AnthropicMessageAccumulator();
    for (const ev of events) for (const e of enc.events(ev)) acc.add(e);
    for (const e of enc.closing()) acc.add(e);
    assert.deepEqual(acc.result().content, [
      { type: "thinking", thinking: "First this.", signature: "sig-A" },
      { type: "redacted_thinking", data: "opaque-B" },
      { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
    ]);
    // Unsigned thinking (some Anthropic-compatible servers) stays plain reasoning.
    const unsigned = decodeAll(
      sse({ type: "message_start", message: { model: "m", usage: { input_tokens: 1, output_tokens: 1 } } }) +
        sse({ type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "", signature: "" } }) +
        sse({ type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "hmm" } }) +
        sse({ type: "content_block_stop", index: 0 }),
    );
    assert.deepEqual(unsigned.slice(1), [{ type: "reasoning", text: "hmm" }]);
  });

  it("maps max_tokens, a full context window, pause_turn and refusal, and takes input_tokens from message_delta", () => {
    for (const [stop, reason] of [["max_tokens", "length"], ["model_context_window_exceeded", "length"], ["pause_turn", "stop"], ["refusal", "refusal"]] as const) {
      const d = new AnthropicStreamDecoder();
      d.decode("message_start", JSON.stringify({ type: "message_start", message: { model: "m", usage: { input_tokens: 5, output_tokens: 1 } } }));
      d.decode("message_delta", JSON.stringify({ type: "message_delta", delta: { stop_reason: stop, stop_sequence: null }, usage: { input_tokens: 6, output_tokens: 9 } }));
      assert.deepEqual(d.decode("message_stop", '{"type":"message_stop"}'), [
        { type: "usage", usage: { promptTokens: 6, completionTokens: 9 } },
        { type: "finish", reason },
      ]);
    }
  });

  it("throws an upstream_error on an in-band error event, quoting the provider's message", () => {
    const body =
      sse({ type: "message_start", message: { model: "m", usage: { input_tokens: 1, output_tokens: 1 } } }) +
      sse({ type: "ping" }) +
      sse({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
    assert.throws(
      () => decodeAll(body),
      // The provider's words are quoted: the client sees them, metadata-only records do not.
      (err: unknown) =>
        err instanceof LlmuxError &&
        err.code === "upstream_error" &&
        err.detail === "the upstream provider reported an error: Overloaded" &&
        err.quoted === "Overloaded" &&
        err.metadataDetail === "the upstream provider reported an error",
    );
  });
});
