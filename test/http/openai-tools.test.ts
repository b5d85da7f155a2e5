import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Ajv from "ajv";
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { z } from "zod";
import { startTestServer, type TestServer } from "../helpers/server.js";

const ajv = new Ajv({ strict: false });

const weather = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Current weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", maxLength: 24 }, unit: { enum: ["c", "f"] }, days: { type: "integer" } },
      required: ["city", "unit", "days"],
      additionalProperties: false,
    },
  },
};
const search = {
  type: "function" as const,
  function: {
    name: "search",
    parameters: { type: "object", properties: { query: { type: "string", maxLength: 30 }, limit: { type: "integer" } }, required: ["query"] },
  },
};
const user = (content: string): OpenAI.ChatCompletionMessageParam[] => [{ role: "user", content }];

describe("tools, structured output and reasoning on the real engine", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ models: { tiny: { preset: "tiny" }, think: { preset: "tiny-think" } } });
  });
  after(() => s.close());

  it("tool_choice required: always a valid call whose arguments satisfy the schema", async () => {
    const validate = ajv.compile(weather.function.parameters);
    for (const seed of [1, 2, 3, 4, 5]) {
      const res = await s.openai.chat.completions.create({ model: "tiny", messages: user("Weather in Paris?"), tools: [weather], tool_choice: "required", seed });
      const choice = res.choices[0];
      assert.equal(choice.finish_reason, "tool_calls");
      assert.equal(choice.message.tool_calls?.length, 1);
      const call = choice.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
      assert.match(call.id, /^call_/);
      assert.equal(call.function.name, "get_weather");
      const args = JSON.parse(call.function.arguments);
      assert.ok(validate(args), JSON.stringify(validate.errors));
    }
  });

  it("a forced call the token limit cuts short is still a tool call (finish_reason length), never <tool_call> markup as text", async () => {
    let calls = 0;
    for (const max_tokens of [3, 8, 14, 20, 30]) {
      for (const stream of [false, true]) {
        const req = { model: "tiny", messages: user("Weather in Paris?"), tools: [weather], tool_choice: "required" as const, seed: 2, max_tokens };
        const choice = stream
          ? (await s.openai.chat.completions.stream({ ...req, stream: true }).finalChatCompletion()).choices[0]!
          : (await s.openai.chat.completions.create(req)).choices[0]!;
        assert.equal(choice.finish_reason, "length", `max_tokens ${max_tokens}`);
        assert.doesNotMatch(choice.message.content ?? "", /tool_c/, `max_tokens ${max_tokens}, stream ${stream}`);
        for (const call of choice.message.tool_calls ?? []) {
          calls++;
          assert.equal((call as OpenAI.ChatCompletionMessageFunctionToolCall).function.name, "get_weather");
        }
      }
    }
    assert.ok(calls > 0, "some limit fell after the name: the cut call came back as a call");
  });

  it("a named tool_choice calls that tool among several", async () => {
    const res = await s.openai.chat.completions.create({
      model: "tiny",
      messages: user("Find cats"),
      tools: [weather, search],
      tool_choice: { type: "function", function: { name: "search" } },
      seed: 9,
    });
    const call = res.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.equal(call.function.name, "search");
    assert.equal(typeof JSON.parse(call.function.arguments).query, "string");
  });

  it("tool_choice none answers in text; auto returns a well-formed message either way", async () => {
    const none = await s.openai.chat.completions.create({ model: "tiny", messages: user("Hi"), tools: [weather], tool_choice: "none", max_tokens: 8, seed: 2 });
    assert.equal(none.choices[0].message.tool_calls, undefined);
    assert.equal(none.choices[0].finish_reason, "length");
    const auto = await s.openai.chat.completions.create({ model: "tiny", messages: user("Hi"), tools: [weather], tool_choice: "auto", max_tokens: 8, seed: 2 });
    assert.ok(["length", "stop", "tool_calls"].includes(auto.choices[0].finish_reason));
    // The tools are rendered into the prompt only when they may be used.
    assert.ok(auto.usage!.prompt_tokens > none.usage!.prompt_tokens);
  });

  it("streams a forced call with one id across its deltas", async () => {
    const stream = await s.openai.chat.completions.create({ model: "tiny", messages: user("Weather?"), tools: [weather], tool_choice: "required", seed: 4, stream: true });
    const ids = new Set<string>();
    let args = "";
    let name = "";
    let finish = null;
    for await (const c of stream) {
      for (const tc of c.choices[0]?.delta.tool_calls ?? []) {
        if (tc.id) ids.add(tc.id);
        name += tc.function?.name ?? "";
        args += tc.function?.arguments ?? "";
      }
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(ids.size, 1);
    assert.equal(name, "get_weather");
    assert.ok(ajv.validate(weather.function.parameters, JSON.parse(args)));
    assert.equal(finish, "tool_calls");
  });

  it("runs a whole agent turn: call → tool result → answer", async () => {
    const first = await s.openai.chat.completions.create({ model: "tiny", messages: user("Weather in Oslo?"), tools: [weather], tool_choice: "required", seed: 5 });
    const call = first.choices[0].message.tool_calls![0];
    const history: OpenAI.ChatCompletionMessageParam[] = [
      ...user("Weather in Oslo?"),
      first.choices[0].message,
      { role: "tool", tool_call_id: call.id, content: '{"temp": 21}' },
    ];
    const second = await s.openai.chat.completions.create({ model: "tiny", messages: history, tools: [weather], max_tokens: 6, seed: 5 });
    assert.equal(second.choices[0].message.role, "assistant");
    assert.equal(typeof second.choices[0].message.content, "string");
    assert.ok(second.usage!.prompt_tokens > first.usage!.prompt_tokens, "the call and its result are in the prompt");
  });

  it("json_schema output parses and validates on 20 seeds", async () => {
    const schema = {
      type: "object",
      properties: {
        name: { type: "string", maxLength: 16 },
        age: { type: "integer" },
        score: { type: "number" },
        ok: { type: "boolean" },
        tags: { type: "array", items: { type: "string", maxLength: 8 }, maxItems: 3 },
        kind: { enum: ["a", "b", "c"] },
        nested: { type: "object", properties: { x: { type: ["integer", "null"] } }, required: ["x"] },
      },
      required: ["name", "age", "score", "ok", "tags", "kind", "nested"],
      additionalProperties: false,
    };
    const validate = ajv.compile(schema);
    for (let seed = 1; seed <= 20; seed++) {
      const res = await s.openai.chat.completions.create({
        model: "tiny",
        messages: user("Describe a person as JSON"),
        response_format: { type: "json_schema", json_schema: { name: "person", schema, strict: true } },
        seed,
      });
      const text = res.choices[0].message.content!;
      const value = JSON.parse(text);
      assert.ok(validate(value), `seed ${seed}: ${JSON.stringify(validate.errors)} in ${text}`);
      assert.equal(res.choices[0].finish_reason, "stop");
    }
  });

  it("the SDK's parse() with a zod schema of integers works (zod writes .int() as the safe-integer range)", async () => {
    const Answer = z.object({ count: z.number().int(), label: z.string().max(20) });
    const res = await s.openai.chat.completions.parse({ model: "tiny", messages: user("Count"), response_format: zodResponseFormat(Answer, "answer"), seed: 4, max_tokens: 200 });
    const parsed = res.choices[0]!.message.parsed;
    assert.ok(parsed, "parsed by the SDK");
    assert.ok(Number.isSafeInteger(parsed.count));
  });

  it("json_object output is a JSON object", async () => {
    for (const seed of [1, 2, 3]) {
      const res = await s.openai.chat.completions.create({ model: "tiny", messages: user("Any JSON"), response_format: { type: "json_object" }, seed });
      const value = JSON.parse(res.choices[0].message.content!);
      assert.equal(typeof value, "object");
      assert.ok(value !== null && !Array.isArray(value));
    }
  });

  it("a schema llmux cannot enforce gets a 400 naming every unsupported keyword", async () => {
    const err = await s.openai.chat.completions
      .create({
        model: "tiny",
        messages: user("x"),
        response_format: {
          type: "json_schema",
          json_schema: { name: "z", schema: { type: "object", properties: { zip: { type: "string", pattern: "^[0-9]{5}$" }, n: { type: "integer", minimum: 3 } } } },
        },
      })
      .catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.code, "unsupported_parameter");
    assert.match(err.message, /'pattern'.*properties\.zip/);
    assert.match(err.message, /'minimum'.*properties\.n/);
  });

  it("bad tool requests are 400s naming the field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ tool_choice: "required" }, "tool_choice"],
      [{ tools: [weather], tool_choice: { type: "function", function: { name: "nope" } } }, "tool_choice"],
      [{ tools: [{ type: "function", function: { name: "bad name!" } }] }, "tools.0.function.name"],
      [{ tools: [weather], tool_choice: "required", response_format: { type: "json_object" } }, "response_format"],
    ];
    for (const [extra, param] of cases) {
      const err = await s.openai.chat.completions.create({ model: "tiny", messages: user("x"), ...extra } as never).catch((e: unknown) => e);
      assert.ok(err instanceof OpenAI.BadRequestError, `${JSON.stringify(extra)}: ${String(err)}`);
      assert.equal(err.param, param);
    }
  });

  it("separates reasoning from the answer, and thinking can be turned off", async () => {
    const on = await s.openai.chat.completions.create({ model: "think", messages: user("Think first"), max_tokens: 12, seed: 3 });
    const msg = on.choices[0].message as OpenAI.ChatCompletionMessage & { reasoning_content?: string };
    assert.ok(msg.reasoning_content && msg.reasoning_content.length > 0, "the template opens <think>: the output is reasoning");
    const off = await s.openai.chat.completions.create({ model: "think", messages: user("Think first"), max_tokens: 12, seed: 3, reasoning_effort: "none" } as never);
    const msgOff = (off as OpenAI.ChatCompletion).choices[0].message as OpenAI.ChatCompletionMessage & { reasoning_content?: string };
    assert.equal(msgOff.reasoning_content, undefined);
    assert.ok(msgOff.content && msgOff.content.length > 0);
    // Streaming carries reasoning in reasoning_content deltas.
    const stream = await s.openai.chat.completions.create({ model: "think", messages: user("Think first"), max_tokens: 12, seed: 3, stream: true });
    let reasoning = "";
    for await (const c of stream) reasoning += (c.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? "";
    assert.equal(reasoning, msg.reasoning_content);
  });

  it("reasoning_effort on a model without a thinking switch is a 400", async () => {
    const err = await s.openai.chat.completions.create({ model: "tiny", messages: user("x"), reasoning_effort: "high" } as never).catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.code, "unsupported_parameter");
  });
});
