import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { startTwoProviders, type TwoProviders } from "./gateway-fixtures.js";

/**
 * Generated provider answers (text, thinking, signed and redacted blocks, tool calls, each cut
 * into random pieces, and the network chunks cut anywhere), translated to the other protocol's
 * client, whole and streamed: the client gets all of it, nothing added.
 */

const text = fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), fc.constantFrom('say "hi"\n', "naïve ☕", "\\u0000 and \\n", "</tool_call>"));
/** A string cut into 1–4 pieces at random places (JSON may be cut inside a token or an escape). */
const pieces = (s: fc.Arbitrary<string>) =>
  s.chain((whole) =>
    fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, whole.length - 1) }), { maxLength: 3 }).map((cuts) => {
      const at = [0, ...cuts.filter((c) => c < whole.length).sort((a, b) => a - b), whole.length];
      return at.slice(1).map((end, i) => whole.slice(at[i], end));
    }),
  );
// Through JSON once: fast-check's objects may have no prototype, which a parsed answer always has.
const toolInput = fc
  .dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 3 })
  .map((o) => JSON.parse(JSON.stringify(o)) as Record<string, unknown>);
const TOOL_NAMES = ["get_weather", "search", "f-1"];

// ---- An Anthropic provider's stream ----

type ABlock =
  | { kind: "text"; pieces: string[] }
  | { kind: "thinking"; pieces: string[]; signature: string }
  | { kind: "redacted"; data: string }
  | { kind: "tool"; id: string; name: string; input: Record<string, unknown>; pieces: string[] };

const aBlock: fc.Arbitrary<ABlock> = fc.oneof(
  pieces(text).map((p) => ({ kind: "text" as const, pieces: p })),
  fc.record({ pieces: pieces(text), signature: fc.base64String({ minLength: 4, maxLength: 40 }) }).map((b) => ({ kind: "thinking" as const, ...b })),
  fc.base64String({ minLength: 4, maxLength: 40 }).map((data) => ({ kind: "redacted" as const, data })),
  fc
    .record({ id: fc.stringMatching(/^toolu_[A-Za-z0-9]{4,12}$/), name: fc.constantFrom(...TOOL_NAMES), input: toolInput })
    .chain((t) => pieces(fc.constant(JSON.stringify(t.input))).map((p) => ({ kind: "tool" as const, ...t, pieces: p }))),
);
const STOP_TO_FINISH = { end_turn: "stop", max_tokens: "length", tool_use: "tool_calls", refusal: "content_filter", stop_sequence: "stop" } as const;
const anthropicAnswer = fc.record({
  // Anthropic gives a message's thinking first, then what it says and calls.
  thinking: fc.array(aBlock.filter((b) => b.kind === "thinking" || b.kind === "redacted"), { maxLength: 2 }),
  rest: fc.array(aBlock.filter((b) => b.kind === "text" || b.kind === "tool"), { minLength: 1, maxLength: 3 }),
  stop: fc.constantFrom(...(Object.keys(STOP_TO_FINISH) as (keyof typeof STOP_TO_FINISH)[])),
  input: fc.integer({ min: 1, max: 5000 }),
  output: fc.integer({ min: 1, max: 5000 }),
  chunkSize: fc.integer({ min: 1, max: 200 }),
});

function anthropicSseOf(a: { thinking: ABlock[]; rest: ABlock[]; stop: string; input: number; output: number }): string {
  const ev = (name: string, data: Record<string, unknown>) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
  let out = ev("message_start", { message: { id: "msg_z", type: "message", role: "assistant", model: "up-claude", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: a.input, output_tokens: 1 } } });
  [...a.thinking, ...a.rest].forEach((b, index) => {
    const delta = (d: Record<string, unknown>) => (out += ev("content_block_delta", { index, delta: d }));
    if (b.kind === "text") {
      out += ev("content_block_start", { index, content_block: { type: "text", text: "" } });
      for (const p of b.pieces) delta({ type: "text_delta", text: p });
    } else if (b.kind === "thinking") {
      out += ev("content_block_start", { index, content_block: { type: "thinking", thinking: "", signature: "" } });
      for (const p of b.pieces) delta({ type: "thinking_delta", thinking: p });
      delta({ type: "signature_delta", signature: b.signature });
    } else if (b.kind === "redacted") {
      out += ev("content_block_start", { index, content_block: { type: "redacted_thinking", data: b.data } });
    } else {
      out += ev("content_block_start", { index, content_block: { type: "tool_use", id: b.id, name: b.name, input: {} } });
      for (const p of b.pieces) delta({ type: "input_json_delta", partial_json: p });
    }
    out += ev("content_block_stop", { index });
  });
  out += ev("message_delta", { delta: { stop_reason: a.stop, stop_sequence: a.stop === "stop_sequence" ? "END" : null }, usage: { output_tokens: a.output } });
  return out + ev("message_stop", {});
}

// ---- An OpenAI provider's stream ----

const openaiAnswer = fc.record({
  reasoning: fc.option(pieces(text), { nil: undefined }),
  content: fc.option(pieces(text), { nil: undefined }),
  calls: fc.array(
    fc.record({ id: fc.stringMatching(/^call_[A-Za-z0-9]{4,12}$/), name: fc.constantFrom(...TOOL_NAMES), input: toolInput }).chain((c) => pieces(fc.constant(JSON.stringify(c.input))).map((p) => ({ ...c, pieces: p }))),
    { maxLength: 2 },
  ),
  finish: fc.constantFrom("stop", "length", "tool_calls", "content_filter"),
  prompt: fc.integer({ min: 1, max: 5000 }),
  completion: fc.integer({ min: 1, max: 5000 }),
  chunkSize: fc.integer({ min: 1, max: 200 }),
});
type OAnswer = typeof openaiAnswer extends fc.Arbitrary<infer T> ? T : never;
const FINISH_TO_STOP = { stop: "end_turn", length: "max_tokens", tool_calls: "tool_use", content_filter: "refusal" } as const;

function openaiSseOf(a: OAnswer): string {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: "chatcmpl-z", object: "chat.completion.chunk", created: 1, model: "gpt-up", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  let out = chunk({ role: "assistant", content: "" });
  for (const p of a.reasoning ?? []) out += chunk({ reasoning_content: p });
  for (const p of a.content ?? []) out += chunk({ content: p });
  a.calls.forEach((c, index) =>
    c.pieces.forEach((p, i) => (out += chunk({ tool_calls: [i === 0 ? { index, id: c.id, type: "function", function: { name: c.name, arguments: p } } : { index, function: { arguments: p } }] }))),
  );
  out += chunk({}, a.finish);
  out += `data: ${JSON.stringify({ id: "chatcmpl-z", object: "chat.completion.chunk", created: 1, model: "gpt-up", choices: [], usage: { prompt_tokens: a.prompt, completion_tokens: a.completion, total_tokens: a.prompt + a.completion } })}\n\n`;
  return out + "data: [DONE]\n\n";
}

/** An OpenAI chat stream's chunks put together, as a client does. */
function assembleOpenAI(sse: string): { content: string; reasoning: string; blocks: unknown[]; calls: { id: string; name: string; args: string }[]; finish: string | null; usage: unknown } {
  const r = { content: "", reasoning: "", blocks: [] as unknown[], calls: [] as { id: string; name: string; args: string }[], finish: null as string | null, usage: null as unknown };
  for (const frame of sse.split("\n\n")) {
    const data = frame.startsWith("data: ") ? frame.slice(6) : "";
    if (!data || data === "[DONE]") continue;
    const c = JSON.parse(data) as { choices: { delta: Record<string, unknown>; finish_reason: string | null }[]; usage?: unknown };
    if (c.usage) r.usage = c.usage;
    for (const ch of c.choices) {
      const d = ch.delta as { content?: string; reasoning_content?: string; thinking_blocks?: unknown[]; tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[] };
      r.content += d.content ?? "";
      r.reasoning += d.reasoning_content ?? "";
      r.blocks.push(...(d.thinking_blocks ?? []));
      for (const tc of d.tool_calls ?? []) {
        const slot = (r.calls[tc.index] ??= { id: "", name: "", args: "" });
        slot.id += tc.id ?? "";
        slot.name += tc.function?.name ?? "";
        slot.args += tc.function?.arguments ?? "";
      }
      if (ch.finish_reason) r.finish = ch.finish_reason;
    }
  }
  return r;
}

describe("translation of generated provider answers, both directions", () => {
  let rig: TwoProviders;

  before(async () => {
    rig = await startTwoProviders([
      { id: "c", match: { kind: "exact", pattern: "to-claude" }, targets: [{ backend: "claude" }] },
      { id: "o", match: { kind: "exact", pattern: "to-openai" }, targets: [{ backend: "oai" }] },
    ]);
  });

  after(() => rig.close());

  it("Anthropic provider → OpenAI client: text, reasoning, signed and redacted blocks, tool calls, finish and usage arrive whole and streamed", async () => {
    await fc.assert(
      fc.asyncProperty(anthropicAnswer, async (a) => {
        const blocks = [...a.thinking, ...a.rest];
        const texts = blocks.flatMap((b) => (b.kind === "text" ? b.pieces : [])).join("");
        const reasoning = blocks.flatMap((b) => (b.kind === "thinking" ? b.pieces : [])).join("");
        const signed = a.thinking.map((b) => (b.kind === "thinking" ? { type: "thinking", thinking: b.pieces.join(""), signature: b.signature } : { type: "redacted_thinking", data: (b as { data: string }).data }));
        const calls = a.rest.flatMap((b) => (b.kind === "tool" ? [{ id: b.id, name: b.name, input: b.input }] : []));
        const body = { model: "to-claude", messages: [{ role: "user", content: "Go." }] };

        rig.claude.queue.push({ kind: "sse", body: anthropicSseOf(a), chunkSize: a.chunkSize });
        const whole = (await (await fetch(`${rig.s.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json()) as {
          choices: { message: { content: string | null; reasoning_content?: string; thinking_blocks?: unknown[]; tool_calls?: { id: string; function: { name: string; arguments: string } }[] }; finish_reason: string }[];
          usage: { prompt_tokens: number; completion_tokens: number };
        };
        const m = whole.choices[0]!.message;
        assert.equal(m.content ?? "", texts);
        assert.equal(m.reasoning_content ?? "", reasoning);
        assert.deepEqual(m.thinking_blocks ?? [], signed);
        assert.deepEqual((m.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, input: JSON.parse(c.function.arguments) as unknown })), calls);
        assert.equal(whole.choices[0]!.finish_reason, STOP_TO_FINISH[a.stop]);
        assert.deepEqual([whole.usage.prompt_tokens, whole.usage.completion_tokens], [a.input, a.output]);

        rig.claude.queue.push({ kind: "sse", body: anthropicSseOf(a), chunkSize: a.chunkSize });
        const res = await fetch(`${rig.s.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }) });
        const st = assembleOpenAI(await res.text());
        assert.equal(st.content, texts);
        assert.equal(st.reasoning, reasoning);
        assert.deepEqual(st.blocks, signed);
        assert.deepEqual(st.calls.map((c) => ({ id: c.id, name: c.name, input: JSON.parse(c.args) as unknown })), calls);
        assert.equal(st.finish, STOP_TO_FINISH[a.stop]);
        assert.deepEqual([(st.usage as { prompt_tokens: number }).prompt_tokens, (st.usage as { completion_tokens: number }).completion_tokens], [a.input, a.output]);
      }),
      { numRuns: 60, verbose: 1 },
    );
  });

  it("OpenAI provider → Anthropic client (the SDK): reasoning, text, tool calls, stop reason and usage arrive whole and streamed", async () => {
    await fc.assert(
      fc.asyncProperty(openaiAnswer, async (a) => {
        const expected = {
          thinking: (a.reasoning ?? []).join(""),
          text: (a.content ?? []).join(""),
          tools: a.calls.map((c) => ({ id: c.id.replace(/^call_/, "toolu_"), name: c.name, input: c.input })),
          stop: FINISH_TO_STOP[a.finish],
        };
        const req = { model: "to-openai", max_tokens: 100, messages: [{ role: "user" as const, content: "Go." }] };
        for (const stream of [false, true]) {
          rig.oai.queue.push({ kind: "sse", body: openaiSseOf(a), chunkSize: a.chunkSize });
          const m = stream ? await rig.anthropic.messages.stream(req).finalMessage() : await rig.anthropic.messages.create(req);
          const got = {
            thinking: m.content.flatMap((b) => (b.type === "thinking" ? [b.thinking] : [])).join(""),
            text: m.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join(""),
            tools: m.content.flatMap((b) => (b.type === "tool_use" ? [{ id: b.id, name: b.name, input: b.input }] : [])),
            stop: m.stop_reason,
          };
          assert.deepEqual(got, expected, `stream ${stream}`);
          assert.equal(m.usage.output_tokens, a.completion, `stream ${stream}`);
          assert.equal(m.usage.input_tokens, a.prompt, `stream ${stream}`);
        }
      }),
      { numRuns: 60, verbose: 1 },
    );
  });
});
