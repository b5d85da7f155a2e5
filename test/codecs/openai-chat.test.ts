import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { decodeOpenAIChat } from "../../src/codecs/openai/chat-request.js";
import { collectOpenAIChat, OpenAIChatStreamEncoder } from "../../src/codecs/openai/chat-response.js";
import type { ChatEvent } from "../../src/core/chat.js";
import { LlmuxError } from "../../src/errors/llmux-error.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/openai/${name}`, import.meta.url), "utf8");

const encodeAll = (events: ChatEvent[], includeUsage: boolean) => {
  const enc = new OpenAIChatStreamEncoder("tiny", includeUsage, { id: "chatcmpl-fixture", created: 1764000000 });
  return events.map((e) => enc.encode(e)).join("") + enc.end();
};

async function* gen(events: ChatEvent[]) {
  yield* events;
}

describe("OpenAI chat codec", () => {
  it("encodes a stream with usage to the exact recorded frames", () => {
    const events: ChatEvent[] = [
      { type: "start", model: "tiny" },
      { type: "text", text: "Hel" },
      { type: "text", text: "lo \uFFFD" },
      { type: "usage", usage: { promptTokens: 9, completionTokens: 3 } },
      { type: "finish", reason: "length" },
    ];
    assert.equal(encodeAll(events, true), fixture("chat-stream-usage.sse"));
  });

  it("encodes a stream without usage, mapping stop_sequence to stop", () => {
    const events: ChatEvent[] = [
      { type: "start", model: "tiny" },
      { type: "text", text: "Hi" },
      { type: "text", text: "" },
      { type: "usage", usage: { promptTokens: 4, completionTokens: 2 } },
      { type: "finish", reason: "stop_sequence", stopSequence: "\n" },
    ];
    assert.equal(encodeAll(events, false), fixture("chat-stream-stop.sse"));
  });

  it("writes in-band errors in the shape the SDK raises", () => {
    const enc = new OpenAIChatStreamEncoder("tiny", false);
    const frame = enc.error(new LlmuxError("model_crashed", "the runner died"), "req_1");
    const body = JSON.parse(frame.slice("data: ".length));
    assert.deepEqual(body, {
      error: { message: "the runner died", type: "server_error", param: null, code: "model_crashed" },
      request_id: "req_1",
    });
  });

  it("collects a whole response", async () => {
    const res = await collectOpenAIChat(
      gen([
        { type: "start", model: "tiny" },
        { type: "text", text: "a" },
        { type: "text", text: "b" },
        { type: "usage", usage: { promptTokens: 5, completionTokens: 2 } },
        { type: "finish", reason: "stop" },
      ]),
      "tiny",
    );
    assert.equal((res.choices as { message: { content: string } }[])[0].message.content, "ab");
    assert.deepEqual(res.usage, { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
  });

  it("decodes a request into the canonical model", () => {
    const { request, includeUsage } = decodeOpenAIChat({
      model: "tiny",
      messages: [
        { role: "developer", content: "be brief" },
        { role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", image_url: { url: "data:image/png;base64,QUJD" } }] },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }] },
        { role: "tool", content: "42", tool_call_id: "call_1" },
      ],
      max_completion_tokens: 7,
      stop: "END",
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0,
      seed: 3,
    });
    assert.equal(includeUsage, true);
    assert.equal(request.maxTokens, 7);
    assert.deepEqual(request.stop, ["END"]);
    assert.equal(request.sampling.temperature, 0);
    assert.equal(request.messages[0].role, "system");
    assert.deepEqual(request.messages[1].content[1], { type: "image", source: { kind: "base64", mediaType: "image/png", data: "QUJD" } });
    assert.deepEqual(request.messages[2].toolCalls, [{ id: "call_1", name: "f", arguments: "{}" }]);
    assert.equal(request.messages[3].toolCallId, "call_1");
  });

  it("accepts the fields the current SDK types list (cache key, safety id, obfuscation, xhigh effort), and refuses verbosity by name", () => {
    const { request } = decodeOpenAIChat({
      model: "tiny",
      messages: [{ role: "user", content: "hi" }],
      prompt_cache_key: "conversation-1",
      safety_identifier: "user-hash",
      stream: true,
      stream_options: { include_usage: true, include_obfuscation: false },
      reasoning_effort: "xhigh",
    });
    assert.deepEqual(request.reasoning, { enabled: true });
    assert.throws(
      () => decodeOpenAIChat({ model: "tiny", messages: [{ role: "user", content: "hi" }], verbosity: "low" }),
      (err: unknown) => err instanceof LlmuxError && err.status === 400 && /verbosity is not supported/.test(err.detail),
    );
  });

  it("lists every invalid field at once", () => {
    try {
      decodeOpenAIChat({ model: 5, messages: "no", temperature: -1 });
      assert.fail("expected a validation error");
    } catch (err) {
      assert.ok(err instanceof LlmuxError);
      assert.equal(err.code, "validation_failed");
      assert.deepEqual(err.fieldErrors?.map((f) => f.field).sort(), ["messages", "model", "temperature"]);
    }
  });
});
