import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import type { FakeProvider } from "../providers/fake-provider.js";
import { startTwoProviders, type TwoProviders } from "./gateway-fixtures.js";

/**
 * Generated requests that each protocol's own API would take, translated to the other protocol's
 * provider: never a 5xx (a request llmux cannot translate is a 4xx problem), and every text, image
 * and document the client sent reaches the provider.
 */

const PNG = "iVBORw0KGgo=";
const PDF = "JVBERi0xLjQK";
const TOOL_NAMES = ["get_weather", "search", "f-1"];
/** Text worth finding again: non-empty, with quotes, newlines and non-ASCII in the mix. */
const text = fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('say "hi"\nnow', "naïve café ☕", "{\"json\": true}", "</tool_call>"));
const schema = fc.constantFrom(
  { type: "object", properties: {} },
  { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  { type: "object", properties: { n: { type: "integer" }, tags: { type: "array", items: { type: "string" } } } },
);
const toolArgs = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });

// ---- Anthropic requests ----

const aText = text.map((t) => ({ type: "text", text: t }));
const aImage = fc.constantFrom({ type: "image", source: { type: "base64", media_type: "image/png", data: PNG } }, { type: "image", source: { type: "url", url: "https://example.com/a.png" } });
const aDocument = fc.record(
  {
    type: fc.constant("document"),
    source: fc.oneof(
      fc.constant({ type: "base64", media_type: "application/pdf", data: PDF }),
      text.map((t) => ({ type: "text", media_type: "text/plain", data: t })),
      fc.constant({ type: "url", url: "https://example.com/a.pdf" }),
    ),
    title: text,
    context: text,
  },
  { requiredKeys: ["type", "source"] },
);
const aToolResult = fc.record(
  {
    type: fc.constant("tool_result"),
    tool_use_id: fc.string({ minLength: 1, maxLength: 20 }),
    content: fc.oneof(text, fc.array(fc.oneof(aText, aImage, aDocument), { minLength: 1, maxLength: 3 })),
    is_error: fc.boolean(),
  },
  { requiredKeys: ["type", "tool_use_id"] },
);
const aUser = fc.record({ role: fc.constant("user"), content: fc.oneof(text, fc.array(fc.oneof(aText, aText, aImage, aDocument, aToolResult), { minLength: 1, maxLength: 4 })) });
const aAssistant = fc.record({
  role: fc.constant("assistant"),
  content: fc.oneof(
    text,
    fc.array(
      fc.oneof(
        aText,
        fc.record({ type: fc.constant("tool_use"), id: fc.string({ minLength: 1, maxLength: 20 }), name: fc.constantFrom(...TOOL_NAMES), input: toolArgs }),
        fc.record({ type: fc.constant("thinking"), thinking: fc.string(), signature: fc.string() }),
        fc.record({ type: fc.constant("redacted_thinking"), data: fc.string() }),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  ),
});
const aMessages = fc.array(fc.tuple(aUser, aAssistant), { maxLength: 2 }).chain((turns) => aUser.map((last) => [...turns.flat(), last]));
const anthropicBody = fc.record(
  {
    model: fc.constant("to-openai"),
    max_tokens: fc.integer({ min: 1, max: 8000 }),
    messages: aMessages,
    system: fc.oneof(text, fc.array(aText, { minLength: 1, maxLength: 2 })),
    tools: fc.uniqueArray(fc.record({ name: fc.constantFrom(...TOOL_NAMES), description: text, input_schema: schema }, { requiredKeys: ["name", "input_schema"] }), { selector: (t) => t.name, maxLength: 3 }),
    tool_choice: fc.oneof(
      fc.record({ type: fc.constantFrom("auto", "any"), disable_parallel_tool_use: fc.boolean() }, { requiredKeys: ["type"] }),
      fc.record({ type: fc.constant("tool"), name: fc.constantFrom(...TOOL_NAMES) }),
      fc.constant({ type: "none" }),
    ),
    thinking: fc.oneof(fc.constant({ type: "disabled" }), fc.constant({ type: "adaptive" }), fc.integer({ min: 1024, max: 20_000 }).map((b) => ({ type: "enabled", budget_tokens: b }))),
    stop_sequences: fc.array(text, { maxLength: 3 }),
    temperature: fc.double({ min: 0, max: 1, noNaN: true }),
    top_p: fc.double({ min: 0, max: 1, noNaN: true }),
    top_k: fc.integer({ min: 0, max: 100 }),
    metadata: fc.record({ user_id: fc.string({ maxLength: 20 }) }),
    output_config: fc.record({ format: schema.map((s) => ({ type: "json_schema", schema: s })) }),
    stream: fc.boolean(),
  },
  { requiredKeys: ["model", "max_tokens", "messages"] },
);

// ---- OpenAI requests ----

const oText = text.map((t) => ({ type: "text", text: t }));
const oUserPart = fc.oneof(
  oText,
  oText,
  fc.constantFrom({ type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } }, { type: "image_url", image_url: { url: "https://example.com/a.png", detail: "low" } }),
  fc.record(
    { filename: text, file_data: fc.oneof(fc.constant(`data:application/pdf;base64,${PDF}`), text.map((t) => `data:text/plain;base64,${Buffer.from(t).toString("base64")}`)) },
    { requiredKeys: ["file_data"] },
  ).map((file) => ({ type: "file", file })),
);
const oToolCall = fc.record({
  id: fc.string({ minLength: 1, maxLength: 20 }),
  type: fc.constant("function"),
  // Mostly a JSON object, as models write them; now and then none at all (sent as {}) or text that is
  // not a JSON object, which Anthropic cannot take as a tool's input (a 400 naming the field).
  function: fc.record({
    name: fc.constantFrom(...TOOL_NAMES),
    arguments: fc.oneof({ weight: 10, arbitrary: toolArgs.map((a) => JSON.stringify(a)) }, { weight: 1, arbitrary: fc.constant("") }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) }),
  }),
});
const oMessage = fc.oneof(
  fc.record({ role: fc.constantFrom("system", "developer"), content: fc.oneof(text, fc.array(oText, { minLength: 1, maxLength: 2 })) }),
  fc.record({ role: fc.constant("user"), content: fc.oneof(text, fc.array(oUserPart, { minLength: 1, maxLength: 4 })) }),
  fc.record(
    {
      role: fc.constant("assistant"),
      content: fc.oneof(text, fc.constant(null)),
      tool_calls: fc.array(oToolCall, { minLength: 1, maxLength: 2 }),
      reasoning_content: fc.string({ maxLength: 10 }),
      thinking_blocks: fc.array(fc.oneof(fc.record({ type: fc.constant("thinking"), thinking: fc.string(), signature: fc.string() }), fc.record({ type: fc.constant("redacted_thinking"), data: fc.string({ minLength: 1 }) })), { maxLength: 2 }),
    },
    { requiredKeys: ["role", "content"] },
  ),
  fc.record({ role: fc.constant("tool"), tool_call_id: fc.string({ maxLength: 20 }), content: fc.oneof(text, fc.array(oText, { minLength: 1, maxLength: 2 })) }),
);
const openaiBody = fc.record(
  {
    model: fc.constant("to-claude"),
    messages: fc.array(oMessage, { minLength: 1, maxLength: 6 }),
    max_tokens: fc.integer({ min: 1, max: 8000 }),
    tools: fc.uniqueArray(
      fc.record({ type: fc.constant("function"), function: fc.record({ name: fc.constantFrom(...TOOL_NAMES), description: text, parameters: schema }, { requiredKeys: ["name"] }) }),
      { selector: (t) => t.function.name, maxLength: 3 },
    ),
    tool_choice: fc.oneof(fc.constantFrom("none", "auto", "required"), fc.constantFrom(...TOOL_NAMES).map((name) => ({ type: "function", function: { name } }))),
    parallel_tool_calls: fc.boolean(),
    response_format: fc.oneof(fc.constant({ type: "text" }), fc.constant({ type: "json_object" }), schema.map((s) => ({ type: "json_schema", json_schema: { name: "out", schema: s } }))),
    reasoning_effort: fc.constantFrom("none", "minimal", "low", "medium", "high"),
    stop: fc.array(text, { maxLength: 4 }),
    temperature: fc.double({ min: 0, max: 1, noNaN: true }),
    safety_identifier: fc.string({ maxLength: 20 }),
    stream: fc.boolean(),
  },
  { requiredKeys: ["model", "messages"] },
);

/** Texts, images and documents a body carries, as they must appear (JSON-escaped) in what the provider got. */
function payloads(body: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key: string): void => {
    if (typeof v === "string") {
      if (v === "") return;
      if (key === "url" && v.startsWith("data:")) out.push(v.slice(v.indexOf(",") + 1));
      else if (["text", "data", "url", "title", "filename", "context"].includes(key)) out.push(v);
      else if (key === "file_data") {
        const [head, data] = v.split(",", 2) as [string, string];
        out.push(head.startsWith("data:text/plain") ? Buffer.from(data, "base64").toString("utf8") : data);
      } else if ((key === "content" || key === "system") && v !== "") out.push(v);
      return;
    }
    if (Array.isArray(v)) for (const x of v) walk(x, key);
    else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      // Not sent across on purpose: thinking (only a provider's own signed blocks go back to it),
      // tool-use ids (made acceptable to the other side), and the client's reasoning text.
      if (o.type === "thinking" || o.type === "redacted_thinking") return;
      for (const [k, x] of Object.entries(o)) if (!["thinking_blocks", "reasoning_content", "tool_calls", "id", "tool_use_id", "tool_call_id", "signature", "input_schema", "parameters", "tools", "metadata", "output_config", "response_format", "stop", "stop_sequences"].includes(k)) walk(x, k);
    }
  };
  walk((body as { messages: unknown }).messages, "messages");
  walk((body as { system?: unknown }).system, "system");
  return out;
}

describe("translation of generated requests, both directions", () => {
  let rig: TwoProviders;

  before(async () => {
    rig = await startTwoProviders([
      { id: "c", match: { kind: "exact", pattern: "to-claude" }, targets: [{ backend: "claude", model: "claude-up" }] },
      { id: "o", match: { kind: "exact", pattern: "to-openai" }, targets: [{ backend: "oai", model: "gpt-up" }] },
    ]);
  });

  after(() => rig.close());

  /** Sends a body; a refusal must be a 4xx problem, a success must have reached the provider with every payload. */
  async function check(path: string, body: Record<string, unknown>, provider: FakeProvider): Promise<"served" | "refused"> {
    const before = provider.received.length;
    const res = await fetch(`${rig.s.url}${path}`, { method: "POST", headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" }, body: JSON.stringify(body) });
    const answer = await res.text();
    const where = `${res.status} for ${JSON.stringify(body).slice(0, 400)}\n→ ${answer.slice(0, 300)}`;
    assert.ok(res.status < 500, where);
    if (res.status !== 200) {
      assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/, where);
      return "refused";
    }
    assert.doesNotMatch(answer, /"type":"error"|"error":\{/, `no in-band error: ${where}`);
    assert.equal(provider.received.length, before + 1, where);
    const sent = JSON.stringify(provider.received.at(-1)!.body);
    for (const p of payloads(body)) assert.ok(sent.includes(JSON.stringify(p).slice(1, -1)), `${JSON.stringify(p)} reached the provider: ${where}\nsent ${sent.slice(0, 600)}`);
    return "served";
  }

  const directions = [
    { name: "Anthropic client → OpenAI provider", path: "/v1/messages", bodies: anthropicBody, provider: () => rig.oai },
    { name: "OpenAI client → Anthropic provider", path: "/v1/chat/completions", bodies: openaiBody, provider: () => rig.claude },
  ];
  for (const d of directions) {
    it(`${d.name}: never a 5xx; what it sent arrives`, async () => {
      const outcomes = { served: 0, refused: 0 };
      await fc.assert(
        fc.asyncProperty(d.bodies as fc.Arbitrary<Record<string, unknown>>, async (body) => {
          outcomes[await check(d.path, body, d.provider())]++;
        }),
        { numRuns: 200, verbose: 1 },
      );
      // The refusals are the combinations either API refuses (a budget over max_tokens, a forced tool without tools,
      // tool arguments that are not an object, a conversation of system messages only, …).
      assert.ok(outcomes.served >= 50, `generated requests are mostly served, not refused: ${JSON.stringify(outcomes)}`);
    });
  }
});
