import assert from "node:assert/strict";
import { it } from "node:test";
import { UsageScanner } from "../../src/routing/passthrough.js";

const scan = (body: unknown) => {
  const s = new UsageScanner();
  s.json(Buffer.from(typeof body === "string" ? body : JSON.stringify(body)));
  return s.usage;
};

it("reads usage from whole JSON answers (OpenAI and Anthropic), wherever it sits, without being fooled by the text", () => {
  assert.deepEqual(scan({ id: "x", choices: [{ message: { content: 'say "usage": {"prompt_tokens": 99}' } }], usage: { prompt_tokens: 12, completion_tokens: 11, total_tokens: 23 } }), {
    promptTokens: 12,
    completionTokens: 11,
  });
  assert.deepEqual(scan({ usage: { input_tokens: 5, output_tokens: 7, cache: { a: "}" } }, content: [{ type: "text", text: "usage" }] }), { promptTokens: 5, completionTokens: 7 });
  assert.deepEqual(scan('{"usage" :\n {"prompt_tokens":1,"completion_tokens":2}}'), { promptTokens: 1, completionTokens: 2 });
  // `usage: null`, no usage at all, or a body that is not JSON: nothing is taken.
  assert.deepEqual(scan({ usage: null }), { promptTokens: null, completionTokens: null });
  assert.deepEqual(scan({ choices: [] }), { promptTokens: null, completionTokens: null });
  assert.deepEqual(scan('{"usage": {"prompt_tokens": 3'), { promptTokens: null, completionTokens: null });
});

it("reads usage from the SSE lines that carry it, across chunk boundaries", () => {
  const s = new UsageScanner();
  const text = 'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2}}\n\ndata: [DONE]\n\n';
  for (let i = 0; i < text.length; i += 7) s.push(Buffer.from(text.slice(i, i + 7)));
  assert.deepEqual(s.usage, { promptTokens: 4, completionTokens: 2 });
});

it("counts Anthropic's prompt-cache reads and writes in the prompt tokens, as the translated path does", () => {
  assert.deepEqual(scan({ usage: { input_tokens: 50, cache_read_input_tokens: 90_000, cache_creation_input_tokens: 1_200, output_tokens: 7 } }), {
    promptTokens: 91_250,
    completionTokens: 7,
  });
  const ev = (name: string, data: Record<string, unknown>) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
  const stream = (deltaUsage: Record<string, unknown>) =>
    ev("message_start", { message: { id: "m", usage: { input_tokens: 50, cache_read_input_tokens: 90_000, cache_creation_input_tokens: 1_200, output_tokens: 1 } } }) +
    ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: "hi" } }) +
    ev("message_delta", { delta: { stop_reason: "end_turn" }, usage: deltaUsage }) +
    ev("message_stop", {});
  // A message_delta with only the output, or with the input but not the cache fields, keeps the cache counts seen at the start.
  for (const deltaUsage of [{ output_tokens: 9 }, { input_tokens: 50, output_tokens: 9 }, { input_tokens: 50, cache_read_input_tokens: 90_000, cache_creation_input_tokens: 1_200, output_tokens: 9 }]) {
    const s = new UsageScanner();
    const text = stream(deltaUsage);
    for (let i = 0; i < text.length; i += 13) s.push(Buffer.from(text.slice(i, i + 13)));
    assert.deepEqual(s.usage, { promptTokens: 91_250, completionTokens: 9 }, JSON.stringify(deltaUsage));
  }
});
