import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { startTestServer, type TestServer } from "../helpers/server.js";

describe("OpenAI legacy completions", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  it("completes a raw prompt (no chat template) with exact usage", async () => {
    const res = await s.openai.completions.create({ model: "tiny", prompt: "Once upon a time", max_tokens: 8, seed: 1 });
    assert.equal(res.object, "text_completion");
    assert.equal(res.choices.length, 1);
    assert.equal(res.choices[0].finish_reason, "length");
    assert.equal(res.usage!.completion_tokens, 8);
    // The raw prompt is a handful of tokens; the chat template would add a system prompt and markers.
    const chat = await s.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 1 });
    assert.ok(res.usage!.prompt_tokens < chat.usage!.prompt_tokens);
  });

  it("defaults to 16 tokens like OpenAI", async () => {
    const res = await s.openai.completions.create({ model: "tiny", prompt: "x", seed: 2 });
    assert.ok(res.usage!.completion_tokens <= 16);
    if (res.choices[0].finish_reason === "length") assert.equal(res.usage!.completion_tokens, 16);
  });

  it("answers an array of prompts with one choice each, in order, usage summed", async () => {
    const prompts = ["The sky is", "Two plus two", "Hello"];
    const res = await s.openai.completions.create({ model: "tiny", prompt: prompts, max_tokens: 4, seed: 3 });
    assert.deepEqual(res.choices.map((c) => c.index), [0, 1, 2]);
    assert.equal(res.usage!.completion_tokens, res.choices.length * 4);
    const single = await s.openai.completions.create({ model: "tiny", prompt: "Two plus two", max_tokens: 4, seed: 3 });
    assert.equal(res.choices[1].text, single.choices[0].text);
  });

  it("echoes the prompt when asked", async () => {
    const res = await s.openai.completions.create({ model: "tiny", prompt: "Echo me", max_tokens: 3, echo: true, seed: 4 });
    assert.ok(res.choices[0].text.startsWith("Echo me"));
  });

  it("streams text chunks, a finish chunk per choice, the usage chunk and [DONE]", async () => {
    const stream = await s.openai.completions.create({
      model: "tiny",
      prompt: ["A", "B"],
      max_tokens: 5,
      seed: 5,
      stream: true,
      stream_options: { include_usage: true },
      echo: true,
    });
    const texts = ["", ""];
    const finishes: (string | null)[] = [null, null];
    let usage: OpenAI.CompletionUsage | null | undefined = null;
    for await (const c of stream) {
      for (const ch of c.choices) {
        texts[ch.index] += ch.text;
        finishes[ch.index] = ch.finish_reason ?? finishes[ch.index];
      }
      usage = c.usage ?? usage;
    }
    assert.ok(texts[0].startsWith("A") && texts[1].startsWith("B"));
    assert.deepEqual(finishes, ["length", "length"]);
    assert.equal(usage!.completion_tokens, 10);
    const whole = await s.openai.completions.create({ model: "tiny", prompt: ["A", "B"], max_tokens: 5, seed: 5, echo: true });
    assert.deepEqual(texts, whole.choices.map((c) => c.text));
  });

  it("a prompt list longer than ten: its concurrent generations raise no MaxListenersExceededWarning", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const prompts = Array.from({ length: 12 }, (_, i) => `P${i}`);
      const whole = await s.openai.completions.create({ model: "tiny", prompt: prompts, max_tokens: 1, seed: 1 });
      assert.equal(whole.choices.length, 12);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      process.off("warning", onWarning);
    }
    assert.deepEqual(warnings.map((w) => w.name), []);
  });

  it("honours stop strings", async () => {
    const free = await s.openai.completions.create({ model: "tiny", prompt: "Stop test", max_tokens: 30, seed: 6 });
    const text = free.choices[0].text;
    const ch = [...text].find((c, i) => i > 3 && c !== "\uFFFD")!;
    const stopped = await s.openai.completions.create({ model: "tiny", prompt: "Stop test", max_tokens: 30, seed: 6, stop: ch });
    assert.equal(stopped.choices[0].text, text.slice(0, text.indexOf(ch)));
    assert.equal(stopped.choices[0].finish_reason, "stop");
  });

  for (const [name, body, param, says] of [
    ["logprobs", { logprobs: 2 }, "logprobs", /logprobs/],
    ["suffix", { suffix: "end" }, "suffix", /insertion \(suffix\) is not supported/],
    ["best_of above 1", { best_of: 3 }, "best_of", /best_of/],
    ["token-array prompts", { prompt: [1, 2, 3] }, "prompt", /token-id prompts are not supported: send the prompt as text/],
    ["arrays of token arrays", { prompt: [[1, 2], [3]] }, "prompt", /token-id prompts are not supported/],
    ["empty prompt", { prompt: "" }, "prompt", /must not be empty/],
  ] as const) {
    it(`rejects ${name} with a 400 naming it`, async () => {
      const err = await s.openai.completions.create({ model: "tiny", prompt: "x", ...body } as never).catch((e: unknown) => e);
      assert.ok(err instanceof OpenAI.BadRequestError, String(err));
      assert.ok(String(err.param).startsWith(param), `param ${err.param}`);
      assert.match(err.message, says);
    });
  }

  it("an unknown model → 404", async () => {
    const err = await s.openai.completions.create({ model: "nope", prompt: "x" }).catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.NotFoundError);
  });
});
