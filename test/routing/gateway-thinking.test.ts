import Anthropic from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type OpenAI from "openai";
import { OpenAIChatStreamEncoder } from "../../src/codecs/openai/chat-response.js";
import type { ChatEvent } from "../../src/core/chat.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import type { Behaviour, FakeProvider, Received } from "../providers/fake-provider.js";
import { addProvider, anthropicSse, fake, openaiSse, setRules } from "./gateway-fixtures.js";

/*
 * An agent's tool loop with thinking, from the official OpenAI client through llmux to an
 * Anthropic provider. The fake provider holds to the two rules Anthropic's API enforces (and
 * answers with its error text when broken): a thinking block must carry a signature it issued,
 * and with thinking on, a tool loop's assistant message must start with the blocks it sent.
 */

const ev = (name: string, data: Record<string, unknown>) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;

/** Claude's first step: it thinks (signed), one block comes redacted, then it calls get_weather. */
function thinkThenCall(signature: string, redacted: string): string {
  return (
    ev("message_start", { message: { id: "msg_t", type: "message", role: "assistant", model: "up-claude", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 40, output_tokens: 1 } } }) +
    ev("content_block_start", { index: 0, content_block: { type: "thinking", thinking: "", signature: "" } }) +
    ev("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: "The user wants " } }) +
    ev("content_block_delta", { index: 0, delta: { type: "thinking_delta", thinking: "the weather." } }) +
    ev("content_block_delta", { index: 0, delta: { type: "signature_delta", signature } }) +
    ev("content_block_stop", { index: 0 }) +
    ev("content_block_start", { index: 1, content_block: { type: "redacted_thinking", data: redacted } }) +
    ev("content_block_stop", { index: 1 }) +
    ev("content_block_start", { index: 2, content_block: { type: "tool_use", id: "toolu_01W", name: "get_weather", input: {} } }) +
    ev("content_block_delta", { index: 2, delta: { type: "input_json_delta", partial_json: '{"city":' } }) +
    ev("content_block_delta", { index: 2, delta: { type: "input_json_delta", partial_json: '"Paris"}' } }) +
    ev("content_block_stop", { index: 2 }) +
    ev("message_delta", { delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 50 } }) +
    ev("message_stop", {})
  );
}

type Block = { type: string; signature?: string; data?: string; tool_use_id?: string };
type Msg = { role: string; content: Block[] | string };

/** Anthropic's checks on thinking, then `then`; a broken rule gets the 400 Anthropic sends. */
function asAnthropicChecks(issued: Set<string>, then: Behaviour): Behaviour {
  const refuse = (message: string): Behaviour => ({ kind: "status", status: 400, body: { type: "error", error: { type: "invalid_request_error", message } } });
  return {
    kind: "fn",
    fn: (r: Received) => {
      const body = r.body as { messages: Msg[]; thinking?: { type: string } };
      for (const [i, m] of body.messages.entries()) {
        if (typeof m.content === "string") continue;
        for (const [j, b] of m.content.entries()) {
          if (b.type === "thinking" && !issued.has(b.signature ?? "")) return refuse(`messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block`);
          if (b.type === "redacted_thinking" && !issued.has(b.data ?? "")) return refuse(`messages.${i}.content.${j}: Invalid \`data\` in \`redacted_thinking\` block`);
        }
      }
      const last = body.messages.at(-1)!;
      const inLoop = Array.isArray(last.content) && last.content.some((b) => b.type === "tool_result");
      const assistant = body.messages.at(-2);
      if (body.thinking?.type === "enabled" && inLoop && assistant && Array.isArray(assistant.content)) {
        const first = assistant.content[0]?.type;
        if (first !== "thinking" && first !== "redacted_thinking") {
          return refuse(
            `messages.${body.messages.length - 2}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${first}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block`,
          );
        }
      }
      return then;
    },
  };
}

const TOOLS: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } },
];
const ASK = { role: "user" as const, content: "Weather in Paris?" };
/** Each step of the loop: a Claude model through a rule, thinking on, one tool. */
const STEP = { model: "to-claude", max_tokens: 4000, reasoning_effort: "high" as const, tools: TOOLS };
const EXPECTED_BLOCKS = [
  { type: "thinking", thinking: "The user wants the weather.", signature: "sig-1" },
  { type: "redacted_thinking", data: "opaque-1" },
];

describe("an agent's tool loop with thinking: OpenAI client → Anthropic provider", () => {
  let s: TestServer;
  let claude: FakeProvider;
  const issued = new Set(["sig-1", "opaque-1"]);

  before(async () => {
    s = await startTestServer();
    const c = await fake("unused", "anthropic");
    claude = c.fp;
    await addProvider(s, { name: "claude", kind: "anthropic", base_url: c.url, api_key: "sk-ant-test-0123456789" });
    await setRules(s, [{ id: "c", match: { kind: "exact", pattern: "to-claude" }, targets: [{ backend: "claude", model: "claude-up" }] }]);
  });

  after(async () => {
    await s.close();
    await claude.stop();
  });

  /** What the provider got for the loop's second step: the assistant message and the thinking setting. */
  const secondStep = () => {
    const body = claude.received.at(-1)!.body as { messages: Msg[]; thinking?: unknown };
    return { assistant: body.messages[1]!.content as Block[], thinking: body.thinking };
  };

  it("returns the signed and redacted blocks, and takes them back unchanged (whole answers)", async () => {
    claude.queue.push(asAnthropicChecks(issued, { kind: "sse", body: thinkThenCall("sig-1", "opaque-1") }));
    const first = await s.openai.chat.completions.create({ ...STEP, messages: [ASK] });
    const message = first.choices[0]!.message as OpenAI.Chat.Completions.ChatCompletionMessage & { reasoning_content?: string; thinking_blocks?: unknown };
    assert.equal(message.reasoning_content, "The user wants the weather.");
    assert.deepEqual(message.thinking_blocks, EXPECTED_BLOCKS);
    assert.equal(first.choices[0]!.finish_reason, "tool_calls");
    const call = message.tool_calls![0]!;

    // The loop sends the assistant message back as it came, then the tool's result.
    claude.queue.push(asAnthropicChecks(issued, { kind: "sse", body: anthropicSse("18C and sunny.") }));
    const second = await s.openai.chat.completions.create({
      ...STEP,
      messages: [ASK, message, { role: "tool", tool_call_id: call.id, content: "18C, sunny" }],
    });
    assert.equal(second.choices[0]!.message.content, "18C and sunny.");
    const got = secondStep();
    assert.deepEqual(got.thinking, { type: "enabled", budget_tokens: 2000 });
    assert.deepEqual(got.assistant, [...EXPECTED_BLOCKS, { type: "tool_use", id: "toolu_01W", name: "get_weather", input: { city: "Paris" } }]);
  });

  it("does the same when both steps stream, with the SDK's stream helper", async () => {
    claude.queue.push(asAnthropicChecks(issued, { kind: "sse", body: thinkThenCall("sig-1", "opaque-1"), chunkSize: 13 }));
    const first = await s.openai.chat.completions.stream({ ...STEP, messages: [ASK] }).finalChatCompletion();
    const message = first.choices[0]!.message;
    assert.deepEqual((message as unknown as { thinking_blocks?: unknown }).thinking_blocks, EXPECTED_BLOCKS, "the helper keeps the one thinking_blocks delta");

    claude.queue.push(asAnthropicChecks(issued, { kind: "sse", body: anthropicSse("18C and sunny."), chunkSize: 13 }));
    const second = await s.openai.chat.completions
      .stream({ ...STEP, messages: [ASK, message, { role: "tool", tool_call_id: message.tool_calls![0]!.id, content: "18C, sunny" }] })
      .finalChatCompletion();
    assert.equal(second.choices[0]!.message.content, "18C and sunny.");
    assert.deepEqual(secondStep().assistant.slice(0, 2), EXPECTED_BLOCKS);
  });

  it("works with the SDK's own tool runner, which sends back only the request fields of each message", async () => {
    claude.queue.push(asAnthropicChecks(issued, { kind: "sse", body: thinkThenCall("sig-1", "opaque-1") }));
    claude.queue.push(asAnthropicChecks(issued, { kind: "sse", body: anthropicSse("18C and sunny.") }));
    const cities: string[] = [];
    const runner = s.openai.chat.completions.runTools({
      model: "to-claude",
      max_tokens: 4000,
      reasoning_effort: "high",
      messages: [ASK],
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
            parse: (text: string) => JSON.parse(text) as { city: string },
            function: ({ city }: { city: string }) => {
              cities.push(city);
              return "18C, sunny";
            },
          },
        },
      ],
    });
    assert.equal(await runner.finalContent(), "18C and sunny.");
    assert.deepEqual(cities, ["Paris"]);
    // runTools rebuilds each assistant message from the request type's fields (openai 7's
    // toRequestMessage), so thinking_blocks stay behind: the loop finishes without thinking.
    const got = secondStep();
    assert.equal(got.thinking, undefined);
    assert.deepEqual(got.assistant, [{ type: "tool_use", id: "toolu_01W", name: "get_weather", input: { city: "Paris" } }]);
  });

  it("finishes the loop without thinking when the client kept only content and tool calls", async () => {
    for (const kept of [{}, { reasoning_content: "The user wants the weather." }]) {
      claude.queue.push(asAnthropicChecks(issued, { kind: "sse", body: anthropicSse("18C.") }));
      const r = await s.openai.chat.completions.create({
        ...STEP,
        messages: [
          ASK,
          { role: "assistant", content: null, tool_calls: [{ id: "toolu_01W", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }], ...kept },
          { role: "tool", tool_call_id: "toolu_01W", content: "18C" },
        ],
      });
      assert.equal(r.choices[0]!.message.content, "18C.", JSON.stringify(kept));
      const got = secondStep();
      assert.equal(got.thinking, undefined, "Anthropic would refuse thinking here");
      assert.deepEqual(got.assistant, [{ type: "tool_use", id: "toolu_01W", name: "get_weather", input: { city: "Paris" } }], "unsigned reasoning is not sent as a thinking block");
    }
  });
});

describe("thinking through another llmux: Anthropic client → OpenAI-compatible provider", () => {
  let s: TestServer;
  let remote: FakeProvider;

  before(async () => {
    s = await startTestServer();
    const r = await fake("unused", "openai");
    remote = r.fp;
    await addProvider(s, { name: "remote", kind: "openai-compatible", base_url: r.url, api_key: "sk-remote-0123456789" });
    await setRules(s, [{ id: "r", match: { kind: "exact", pattern: "claude-far" }, targets: [{ backend: "remote" }] }]);
  });

  after(async () => {
    await s.close();
    await remote.stop();
  });

  it("hands the remote's signed and redacted blocks to the Anthropic client; the loop's next step goes on without them", async () => {
    // The remote answers as llmux itself would in front of Claude: reasoning_content, then thinking_blocks.
    const enc = new OpenAIChatStreamEncoder("claude-up", true);
    const events: ChatEvent[] = [
      { type: "start", model: "claude-up" },
      { type: "reasoning", text: "The user wants the weather." },
      { type: "reasoning_block", block: { kind: "signed", text: "The user wants the weather.", signature: "sig-1" } },
      { type: "reasoning_block", block: { kind: "redacted", data: "opaque-1" } },
      { type: "tool_call_start", index: 0, id: "toolu_01W", name: "get_weather" },
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"city":"Paris"}' },
      { type: "tool_call_end", index: 0 },
      { type: "usage", usage: { promptTokens: 40, completionTokens: 50 } },
      { type: "finish", reason: "tool_calls" },
    ];
    remote.queue.push({ kind: "sse", body: events.map((e) => enc.encode(e)).join("") + enc.end(), chunkSize: 11 });
    const anthropic = new Anthropic({ baseURL: s.url, apiKey: "unused", maxRetries: 0 });
    const tools = [{ name: "get_weather", input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] } }];
    const first = await anthropic.messages.stream({ model: "claude-far", max_tokens: 4000, thinking: { type: "enabled", budget_tokens: 2000 }, tools, messages: [{ role: "user", content: "Weather in Paris?" }] }).finalMessage();
    assert.deepEqual(
      first.content.map((b) => (b.type === "tool_use" ? { type: b.type, id: b.id, input: b.input } : b)),
      [
        { type: "thinking", thinking: "The user wants the weather.", signature: "sig-1" },
        { type: "redacted_thinking", data: "opaque-1" },
        { type: "tool_use", id: "toolu_01W", input: { city: "Paris" } },
      ],
    );

    remote.queue.push({ kind: "sse", body: openaiSse("18C.") });
    const second = await anthropic.messages.create({
      model: "claude-far",
      max_tokens: 4000,
      thinking: { type: "enabled", budget_tokens: 2000 },
      tools,
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_01W", content: "18C" }] },
      ],
    });
    assert.deepEqual(second.content, [{ type: "text", text: "18C." }]);
    const sent = (remote.received.at(-1)!.body as { messages: Record<string, unknown>[]; reasoning_effort?: string }).messages[1]!;
    // A strict OpenAI-compatible server would refuse thinking_blocks: none are sent. (Another llmux
    // in front of Claude then finishes the loop without thinking, as shown above.)
    assert.deepEqual(sent, { role: "assistant", content: null, tool_calls: [{ id: "toolu_01W", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] });
  });
});
