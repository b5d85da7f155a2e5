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

  it("reports a provider's cached prompt tokens as prompt_tokens_details, and nothing of the kind when none were reported", async () => {
    const events = (usage: ChatEvent & { type: "usage" }): ChatEvent[] => [{ type: "start", model: "m" }, { type: "text", text: "ok" }, usage, { type: "finish", reason: "stop" }];
    const cached = (await collectOpenAIChat(gen(events({ type: "usage", usage: { promptTokens: 2000, completionTokens: 5, cachedPromptTokens: 1536 } })), "m")) as { usage: Record<string, unknown> };
    assert.deepEqual(cached.usage, { prompt_tokens: 2000, completion_tokens: 5, total_tokens: 2005, prompt_tokens_details: { cached_tokens: 1536 } });
    const plain = (await collectOpenAIChat(gen(events({ type: "usage", usage: { promptTokens: 9, completionTokens: 1 } })), "m")) as { usage: Record<string, unknown> };
    assert.deepEqual(plain.usage, { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 });
  });

  it("returns a provider's signed and redacted reasoning as thinking_blocks, whole and streamed", async () => {
    const events: ChatEvent[] = [
      { type: "start", model: "claude" },
      { type: "reasoning", text: "Need " },
      { type: "reasoning", text: "it." },
      { type: "reasoning_block", block: { kind: "signed", text: "Need it.", signature: "sig-A" } },
      { type: "reasoning_block", block: { kind: "redacted", data: "opaque-B" } },
      { type: "tool_call_start", index: 0, id: "toolu_1", name: "get_weather" },
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"city":"Paris"}' },
      { type: "tool_call_end", index: 0 },
      { type: "finish", reason: "tool_calls" },
    ];
    const blocks = [
      { type: "thinking", thinking: "Need it.", signature: "sig-A" },
      { type: "redacted_thinking", data: "opaque-B" },
    ];
    const whole = (await collectOpenAIChat(gen(events), "claude")) as { choices: { message: Record<string, unknown> }[] };
    assert.equal(whole.choices[0]!.message.reasoning_content, "Need it.");
    assert.deepEqual(whole.choices[0]!.message.thinking_blocks, blocks);
    // Streamed: all blocks in one delta once the reasoning is over, so appending or assigning both end with the list.
    const chunks = encodeAll(events, false)
      .split("\n\n")
      .filter((f) => f.startsWith("data: {"))
      .map((f) => JSON.parse(f.slice(6)) as { choices: { delta: Record<string, unknown>; finish_reason: string | null }[] });
    const withBlocks = chunks.filter((c) => "thinking_blocks" in c.choices[0]!.delta);
    assert.equal(withBlocks.length, 1);
    assert.deepEqual(withBlocks[0]!.choices[0]!.delta.thinking_blocks, blocks);
    const next = chunks[chunks.indexOf(withBlocks[0]!) + 1]!.choices[0]!.delta as { tool_calls?: { function: { name: string } }[] };
    assert.equal(next.tool_calls?.[0]?.function.name, "get_weather", "before the tool call that follows the thinking");
    // No blocks (a local model's reasoning): no thinking_blocks field at all.
    const plain = (await collectOpenAIChat(gen(events.filter((e) => e.type !== "reasoning_block")), "claude")) as { choices: { message: Record<string, unknown> }[] };
    assert.equal("thinking_blocks" in plain.choices[0]!.message, false);
  });

  it("takes thinking_blocks sent back on an assistant message, signed or redacted, as they are", () => {
    const decode = (assistant: Record<string, unknown>) =>
      decodeOpenAIChat({ model: "m", messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: null, tool_calls: [{ id: "t1", type: "function", function: { name: "f", arguments: "{}" } }], ...assistant }, { role: "tool", tool_call_id: "t1", content: "ok" }] }).request.messages[1]!;
    const both = decode({ thinking_blocks: [{ type: "thinking", thinking: "Need it.", signature: "sig-A" }, { type: "redacted_thinking", data: "opaque-B" }] });
    assert.deepEqual(both.reasoningBlocks, [
      { kind: "signed", text: "Need it.", signature: "sig-A" },
      { kind: "redacted", data: "opaque-B" },
    ]);
    assert.equal(both.reasoning, "Need it.", "the readable text, when reasoning_content is absent");
    // A block without a signature is only text: no provider signed it.
    const unsigned = decode({ reasoning_content: "mine", thinking_blocks: [{ type: "thinking", thinking: "x", signature: "" }] });
    assert.equal(unsigned.reasoningBlocks, undefined);
    assert.equal(unsigned.reasoning, "mine");
    for (const bad of [[{ type: "thought", text: "x" }], [{ type: "thinking", thinking: "x" }], [{ type: "redacted_thinking", data: "" }], "x"]) {
      assert.throws(
        () => decode({ thinking_blocks: bad }),
        (e: LlmuxError) => e.status === 400 && e.fieldErrors!.some((f) => f.field.startsWith("messages.1.thinking_blocks")),
        JSON.stringify(bad),
      );
    }
  });

  it("takes back an assistant message as the SDK's helpers return it (parsed, parsed_arguments, annotations), refusing audio and function_call", () => {
    const withAssistant = (assistant: Record<string, unknown>) => ({ model: "m", messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "{}", ...assistant }, { role: "user", content: "More" }] });
    const call = { id: "t1", type: "function", function: { name: "f", arguments: '{"a":1}', parsed_arguments: { a: 1 } } };
    const m = decodeOpenAIChat(withAssistant({ parsed: {}, annotations: [], refusal: null, audio: null, function_call: null, tool_calls: [call] })).request.messages[1]!;
    assert.deepEqual(m.toolCalls, [{ id: "t1", name: "f", arguments: '{"a":1}' }]);
    assert.deepEqual(m.content, [{ type: "text", text: "{}" }]);
    for (const [field, value] of [["audio", { id: "audio_1" }], ["function_call", { name: "f", arguments: "{}" }]] as const) {
      assert.throws(
        () => decodeOpenAIChat(withAssistant({ [field]: value })),
        (e: LlmuxError) => e.status === 400 && e.fieldErrors!.some((f) => f.field === `messages.1.${field}`),
        field,
      );
    }
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
      user: "legacy-user-field",
    });
    assert.deepEqual(request.reasoning, { enabled: true, effort: "xhigh" });
    assert.equal(request.endUser, "user-hash", "the safety identifier, before the older user field");
    assert.equal(decodeOpenAIChat({ model: "tiny", messages: [{ role: "user", content: "hi" }], user: "u-1" }).request.endUser, "u-1");
    assert.throws(
      () => decodeOpenAIChat({ model: "tiny", messages: [{ role: "user", content: "hi" }], verbosity: "low" }),
      (err: unknown) => err instanceof LlmuxError && err.status === 400 && /verbosity is not supported/.test(err.detail),
    );
  });

  it("takes null for any optional parameter as not set, and the one service tier by its names", () => {
    const hi = { model: "tiny", messages: [{ role: "user", content: "hi" }] };
    const nulls = { tools: null, tool_choice: null, parallel_tool_calls: null, response_format: null, audio: null, modalities: null, service_tier: null, stream: null, stream_options: null, user: null, seed: null, stop: null };
    const { request } = decodeOpenAIChat({ ...hi, ...nulls });
    assert.equal(request.toolChoice, undefined);
    assert.deepEqual(request.tools ?? [], []);
    assert.equal(request.stream, false);
    for (const tier of ["auto", "default"]) decodeOpenAIChat({ ...hi, service_tier: tier });
    assert.throws(
      () => decodeOpenAIChat({ ...hi, service_tier: "flex" }),
      (err: unknown) => err instanceof LlmuxError && err.status === 400 && err.fieldErrors!.some((f) => f.field === "service_tier" && /one service tier/.test(f.message)),
    );
    // A value for an unsupported field is still refused by name.
    assert.throws(
      () => decodeOpenAIChat({ ...hi, audio: { voice: "alloy", format: "wav" } }),
      (err: unknown) => err instanceof LlmuxError && err.code === "unsupported_parameter" && /audio output is not supported/.test(err.detail),
    );
  });

  it("decodes file parts as documents: a PDF as base64 with its filename, plain text as text; refuses file ids and other data", () => {
    const { request } = decodeOpenAIChat({
      model: "m",
      messages: [
        {
          role: "user",
          content: [
            { type: "file", file: { filename: "report.pdf", file_data: "data:application/pdf;base64,JVBERi0xLjQK" } },
            { type: "file", file: { file_data: `data:text/plain;charset=utf-8;base64,${Buffer.from("Plain wörds.").toString("base64")}` } },
            { type: "text", text: "Compare them." },
          ],
        },
      ],
    });
    assert.deepEqual(request.messages[0]!.content, [
      { type: "document", source: { kind: "base64", mediaType: "application/pdf", data: "JVBERi0xLjQK" }, title: "report.pdf" },
      { type: "document", source: { kind: "text", text: "Plain wörds." } },
      { type: "text", text: "Compare them." },
    ]);
    const refused = (part: unknown, field: string, message: RegExp) => {
      try {
        decodeOpenAIChat({ model: "m", messages: [{ role: "user", content: [part] }] });
        assert.fail("expected a validation error");
      } catch (err) {
        assert.ok(err instanceof LlmuxError, String(err));
        assert.equal(err.code, "validation_failed");
        assert.equal(err.fieldErrors?.[0]?.field, field);
        assert.match(err.detail, message);
      }
    };
    refused({ type: "file", file: { file_id: "file-abc" } }, "messages.0.content.0.file.file_id", /only be read by the provider that holds it/);
    refused({ type: "file", file: { file_data: "JVBERi0xLjQK" } }, "messages.0.content.0.file.file_data", /base64 data URL of a PDF/);
    refused({ type: "file", file: { file_data: "data:image/png;base64,iVBORw0KGgo=" } }, "messages.0.content.0.file.file_data", /base64 data URL of a PDF/);
    refused({ type: "file", file: {} }, "messages.0.content.0.file", /needs file_data/);
    refused({ type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }, "messages.0.content.0.type", /content part type 'input_audio' is not supported/);
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
