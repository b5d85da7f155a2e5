import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { LONG_GENERATION, startTestServer, type TestServer } from "../helpers/server.js";

const user = (content: string) => [{ role: "user" as const, content }];

describe("OpenAI chat completions on the real engine", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ models: { tiny: { preset: "tiny" }, "tiny-b": { preset: "tiny", seed: 2 } }, engine: { parallel: 4 } });
  });
  after(() => s.close());

  it("lists the models with their metadata", async () => {
    const page = await s.openai.models.list();
    const ids = page.data.map((m) => m.id).sort();
    assert.deepEqual(ids, ["tiny", "tiny-b"]);
    const one = await s.openai.models.retrieve("tiny");
    assert.equal(one.id, "tiny");
    assert.equal(one.object, "model");
    const meta = (one as unknown as { llmux: { architecture: string; synthetic: boolean } }).llmux;
    assert.equal(meta.architecture, "qwen2");
    assert.equal(meta.synthetic, true);
  });

  it("answers a non-streaming chat with exact usage", async () => {
    const res = await s.openai.chat.completions.create({ model: "tiny", messages: user("Hello there"), max_tokens: 12, seed: 7 });
    assert.equal(res.object, "chat.completion");
    assert.equal(res.model, "tiny");
    assert.equal(res.choices.length, 1);
    assert.equal(res.choices[0].message.role, "assistant");
    assert.equal(typeof res.choices[0].message.content, "string");
    assert.ok(res.usage);
    assert.ok(res.usage.prompt_tokens > 3);
    assert.ok(res.usage.completion_tokens >= 1 && res.usage.completion_tokens <= 12);
    assert.equal(res.usage.total_tokens, res.usage.prompt_tokens + res.usage.completion_tokens);
    assert.match(res.id, /^chatcmpl-/);
  });

  it("counts prompt tokens with the model's tokenizer over the rendered template", async () => {
    const a = await s.openai.chat.completions.create({ model: "tiny", messages: user("Hi"), max_tokens: 1 });
    const b = await s.openai.chat.completions.create({ model: "tiny", messages: user("Hi Hi Hi Hi"), max_tokens: 1 });
    assert.ok(b.usage!.prompt_tokens > a.usage!.prompt_tokens);
  });

  it("gives finish_reason length with exactly max_tokens completion tokens", async () => {
    for (const n of [1, 5, 40]) {
      const res = await s.openai.chat.completions.create({ model: "tiny", messages: user("Count"), max_tokens: n, temperature: 1, seed: n });
      // Random weights rarely end early; when they do, the reason must say so.
      if (res.choices[0].finish_reason === "length") assert.equal(res.usage!.completion_tokens, n);
      else assert.ok(res.usage!.completion_tokens <= n);
    }
    const res = await s.openai.chat.completions.create({ model: "tiny", messages: user("Go"), max_completion_tokens: 24, seed: 3 });
    assert.equal(res.choices[0].finish_reason, "length");
    assert.equal(res.usage!.completion_tokens, 24);
  });

  it("is deterministic for a fixed seed", async () => {
    const req = { model: "tiny", messages: user("Same seed"), max_tokens: 16, seed: 42, temperature: 0.9 };
    const a = await s.openai.chat.completions.create(req);
    const b = await s.openai.chat.completions.create(req);
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  });

  it("streams chunks exactly as OpenAI does, with include_usage", async () => {
    const stream = await s.openai.chat.completions.create({
      model: "tiny",
      messages: user("Stream please"),
      max_tokens: 10,
      stream: true,
      stream_options: { include_usage: true },
      seed: 5,
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.ok(chunks.length >= 3);
    assert.equal(chunks[0].choices[0].delta.role, "assistant");
    const ids = new Set(chunks.map((c) => c.id));
    assert.equal(ids.size, 1, "one id for the whole stream");
    const finishChunk = chunks.at(-2)!;
    assert.ok(["stop", "length"].includes(finishChunk.choices[0].finish_reason!));
    const usageChunk = chunks.at(-1)!;
    assert.deepEqual(usageChunk.choices, []);
    assert.ok(usageChunk.usage);
    for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    // The same seed without streaming gives the same text and usage.
    const whole = await s.openai.chat.completions.create({ model: "tiny", messages: user("Stream please"), max_tokens: 10, seed: 5 });
    assert.equal(text, whole.choices[0].message.content);
    assert.deepEqual(usageChunk.usage, whole.usage);
  });

  it("streams without a usage chunk unless asked", async () => {
    const stream = await s.openai.chat.completions.create({ model: "tiny", messages: user("x"), max_tokens: 3, stream: true });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.ok(chunks.every((c) => c.choices.length === 1 && c.usage === undefined));
  });

  it("stops before a stop string and reports stop", async () => {
    // Find text the model really produces for a seed, then use a piece of it as the stop string.
    const base = { model: "tiny", messages: user("Tell me"), max_tokens: 40, seed: 11, temperature: 0.7 };
    const free = await s.openai.chat.completions.create(base);
    const text = free.choices[0].message.content!;
    const cut = [...text].findIndex((ch, i) => i >= 5 && ch !== "\uFFFD" && text.indexOf(ch) === i);
    assert.ok(cut > 0, "the free text should have a character to stop on");
    const stopChar = [...text][cut];
    const expected = text.slice(0, text.indexOf(stopChar));
    const stopped = await s.openai.chat.completions.create({ ...base, stop: [stopChar, "\u0000never"] });
    assert.equal(stopped.choices[0].message.content, expected);
    assert.equal(stopped.choices[0].finish_reason, "stop");
    assert.ok(stopped.usage!.completion_tokens <= free.usage!.completion_tokens);
    // Streaming stops at the same place and never shows the stop string.
    const stream = await s.openai.chat.completions.create({ ...base, stop: stopChar, stream: true });
    let streamed = "";
    let finish = null;
    for await (const c of stream) {
      streamed += c.choices[0]?.delta.content ?? "";
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(streamed, expected);
    assert.equal(finish, "stop");
  });

  it("serves 8 concurrent streams (more than the 4 slots) to completion", async () => {
    const runs = Array.from({ length: 8 }, async (_, i) => {
      const stream = await s.openai.chat.completions.create({
        model: "tiny",
        messages: user(`Request ${i}`),
        max_tokens: 20,
        seed: 100 + i,
        stream: true,
        stream_options: { include_usage: true },
      });
      let usage = null;
      let finish = null;
      for await (const c of stream) {
        usage = c.usage ?? usage;
        finish = c.choices[0]?.finish_reason ?? finish;
      }
      return { usage, finish };
    });
    const results = await Promise.all(runs);
    for (const r of results) {
      assert.ok(r.finish === "length" || r.finish === "stop");
      assert.ok(r.usage && r.usage.completion_tokens > 0);
    }
  });

  it("serves two models at once, each in its own runner", async () => {
    const [a, b] = await Promise.all([
      s.openai.chat.completions.create({ model: "tiny", messages: user("A"), max_tokens: 4 }),
      s.openai.chat.completions.create({ model: "tiny-b", messages: user("B"), max_tokens: 4 }),
    ]);
    assert.equal(a.model, "tiny");
    assert.equal(b.model, "tiny-b");
    const pids = s.app.pool.list().map((m) => m.runner.pid);
    assert.equal(new Set(pids).size, pids.length);
    assert.ok(!pids.includes(process.pid));
  });

  it("echoes or mints X-Request-ID", async () => {
    const given = await fetch(`${s.url}/health`, { headers: { "x-request-id": "abc-123" } });
    assert.equal(given.headers.get("x-request-id"), "abc-123");
    const minted = await fetch(`${s.url}/health`, { headers: { "x-request-id": "bad id with spaces" } });
    assert.match(minted.headers.get("x-request-id")!, /^req_[0-9a-f]{32}$/);
    assert.deepEqual(await minted.json(), { status: "ok", version: "0.1.0" });
  });
});

describe("cancellation frees the sequence at once", () => {
  let s: TestServer;
  before(async () => {
    // One slot and a long context: a request that kept its slot would block the next one for a long time.
    s = await startTestServer({ engine: { parallel: 1, contextSize: 32768 } });
  });
  after(() => s.close());

  it("an aborted stream lets the next request run", async () => {
    const ac = new AbortController();
    const stream = await s.openai.chat.completions.create(
      { model: "tiny", messages: user("Go on forever"), ...LONG_GENERATION, stream: true },
      { signal: ac.signal },
    );
    let seen = 0;
    try {
      for await (const c of stream) {
        if (c.choices[0]?.delta.content) seen++;
        if (seen === 3) ac.abort();
      }
    } catch (err) {
      assert.ok(err instanceof OpenAI.APIUserAbortError || (err as Error).name === "AbortError", String(err));
    }
    assert.equal(seen, 3, "the stream ends when the client aborts");
    const runner = s.app.pool.list()[0].runner;
    let stats = await runner.stats();
    for (let i = 0; i < 50 && stats.busySlots > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      stats = await runner.stats();
    }
    assert.equal(stats.busySlots, 0, "the aborted request must leave its slot");
    const next = await s.openai.chat.completions.create({ model: "tiny", messages: user("Next"), max_tokens: 5 });
    assert.equal(next.usage!.completion_tokens <= 5, true);
    assert.equal((await runner.stats()).queued, 0);
  });

  it("a client that disconnects from a non-streaming request frees the slot too", async () => {
    const ac = new AbortController();
    const pending = s.openai.chat.completions
      .create({ model: "tiny", messages: user("Long"), ...LONG_GENERATION }, { signal: ac.signal })
      .catch((e: unknown) => e);
    const runner = s.app.pool.list()[0].runner;
    for (let i = 0; i < 100 && (await runner.stats()).busySlots === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await runner.stats()).busySlots, 1);
    ac.abort();
    await pending;
    let stats = await runner.stats();
    for (let i = 0; i < 50 && stats.busySlots > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      stats = await runner.stats();
    }
    assert.equal(stats.busySlots, 0);
  });
});
