import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ChatEvent } from "../../src/core/chat.js";
import { OutputParser, parseWholeAnswerCall } from "../../src/engine/output/output-parser.js";
import { toolCallFormatFor } from "../../src/engine/output/tool-format.js";

/** Feeds text in small pieces (markers split across chunks) and merges the events. */
function run(parser: OutputParser, text: string, chunk = 3, cutOff = false): ChatEvent[] {
  const events: ChatEvent[] = [];
  for (let i = 0; i < text.length; i += chunk) events.push(...parser.push(text.slice(i, i + chunk)));
  events.push(...parser.end(cutOff));
  const merged: ChatEvent[] = [];
  for (const e of events) {
    const last = merged.at(-1);
    if (last && last.type === e.type && (e.type === "text" || e.type === "reasoning")) (last as { text: string }).text += (e as { text: string }).text;
    else merged.push({ ...e });
  }
  return merged.map((e) => ("id" in e ? { ...e, id: "ID" } : e));
}

describe("OutputParser", () => {
  it("splits <think> reasoning from the answer, markers split across chunks", () => {
    const p = new OutputParser({ reasoning: true, startInReasoning: false, tools: null });
    assert.deepEqual(run(p, "<think>step one</think>\n\nThe answer."), [
      { type: "reasoning", text: "step one" },
      { type: "text", text: "The answer." },
    ]);
  });

  it("starts in reasoning when the prompt opened the think block", () => {
    const p = new OutputParser({ reasoning: true, startInReasoning: true, tools: null });
    assert.deepEqual(run(p, "hmm</think>ok", 1), [
      { type: "reasoning", text: "hmm" },
      { type: "text", text: "ok" },
    ]);
  });

  it("leaves <think> alone for models that do not reason", () => {
    const p = new OutputParser({ reasoning: false, startInReasoning: false, tools: null });
    assert.deepEqual(run(p, "<think>x</think>"), [{ type: "text", text: "<think>x</think>" }]);
  });

  it("parses Hermes/Qwen <tool_call> blocks, several in a row", () => {
    const p = new OutputParser({ reasoning: false, startInReasoning: false, tools: "hermes" });
    const text = 'Let me look.\n<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n<tool_call>\n{"name": "b", "arguments": {}}\n</tool_call>';
    assert.deepEqual(run(p, text), [
      { type: "text", text: "Let me look.\n" },
      { type: "tool_call_start", index: 0, id: "ID", name: "a" },
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"x":1}' },
      { type: "tool_call_end", index: 0 },
      { type: "tool_call_start", index: 1, id: "ID", name: "b" },
      { type: "tool_call_delta", index: 1, argumentsDelta: "{}" },
      { type: "tool_call_end", index: 1 },
    ]);
    assert.equal(p.toolCallCount, 2);
  });

  it("reads </tool_call> inside an argument's string as the argument's text, in any split", () => {
    const text = '<tool_call>\n{"name": "note", "arguments": {"text": "ends with </tool_call> and a \\" quote"}}\n</tool_call>';
    for (const chunk of [1, 3, 7, text.length]) {
      const p = new OutputParser({ reasoning: false, startInReasoning: false, tools: "hermes" });
      assert.deepEqual(
        run(p, text, chunk),
        [
          { type: "tool_call_start", index: 0, id: "ID", name: "note" },
          { type: "tool_call_delta", index: 0, argumentsDelta: '{"text":"ends with </tool_call> and a \\" quote"}' },
          { type: "tool_call_end", index: 0 },
        ],
        `chunks of ${chunk}`,
      );
    }
  });

  it("gives a tool call that does not parse back as text", () => {
    const p = new OutputParser({ reasoning: false, startInReasoning: false, tools: "hermes" });
    assert.deepEqual(run(p, "<tool_call>{not json</tool_call>"), [{ type: "text", text: "<tool_call>{not json</tool_call>" }]);
    const q = new OutputParser({ reasoning: false, startInReasoning: false, tools: "hermes" });
    assert.deepEqual(run(q, "<tool_call>{\"name\": \"cut"), [{ type: "text", text: "<tool_call>{\"name\": \"cut" }]);
  });

  it("a call the token limit cut short stays a call (name, arguments so far), never template markup as text", () => {
    const hermes = () => new OutputParser({ reasoning: false, startInReasoning: false, tools: "hermes" });
    assert.deepEqual(run(hermes(), '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Par', 3, true), [
      { type: "tool_call_start", index: 0, id: "ID", name: "get_weather" },
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"city": "Par' },
      { type: "tool_call_end", index: 0 },
    ]);
    assert.deepEqual(run(hermes(), '<tool_call>\n{"name": "get_wea', 3, true), [], "cut before the name is whole: nothing to call");
    assert.deepEqual(run(hermes(), '<tool_call>{"name": "a\\u12"', 3, true), [], "a name with a broken escape is no name");
    assert.deepEqual(run(hermes(), "Sure.<tool_c", 4, true), [{ type: "text", text: "Sure." }], "half a marker is dropped");
    // Not cut off: the text is given back as before, nothing lost.
    assert.deepEqual(run(hermes(), "Sure.<tool_c", 4), [{ type: "text", text: "Sure.<tool_c" }]);
  });

  it("parses Mistral [TOOL_CALLS] arrays", () => {
    const p = new OutputParser({ reasoning: false, startInReasoning: false, tools: "mistral" });
    assert.deepEqual(run(p, '[TOOL_CALLS] [{"name": "f", "arguments": {"q": "x"}}, {"name": "g", "arguments": {}}]'), [
      { type: "tool_call_start", index: 0, id: "ID", name: "f" },
      { type: "tool_call_delta", index: 0, argumentsDelta: '{"q":"x"}' },
      { type: "tool_call_end", index: 0 },
      { type: "tool_call_start", index: 1, id: "ID", name: "g" },
      { type: "tool_call_delta", index: 1, argumentsDelta: "{}" },
      { type: "tool_call_end", index: 1 },
    ]);
  });

  it("parses a Llama 3 whole-answer call, and leaves other answers alone", () => {
    const events = parseWholeAnswerCall('{"name": "f", "parameters": {"a": 2}}')!;
    assert.equal(events.length, 3);
    assert.deepEqual({ ...events[1] }, { type: "tool_call_delta", index: 0, argumentsDelta: '{"a":2}' });
    assert.equal(parseWholeAnswerCall("just words"), null);
    assert.equal(parseWholeAnswerCall('{"no_name": 1}'), null);
  });

  it("mints call_ ids", () => {
    const p = new OutputParser({ reasoning: false, startInReasoning: false, tools: "hermes" });
    const start = p.push('<tool_call>{"name":"f","arguments":{}}</tool_call>').find((e) => e.type === "tool_call_start");
    assert.match((start as { id: string }).id, /^call_[A-Za-z0-9_-]{16}$/);
  });

  it("reads the tool-call format from the chat template", () => {
    assert.equal(toolCallFormatFor("{{ '<tool_call>' }}"), "hermes");
    assert.equal(toolCallFormatFor("[TOOL_CALLS]"), "mistral");
    assert.equal(toolCallFormatFor("<|python_tag|> ipython"), "llama3");
    assert.equal(toolCallFormatFor(undefined), "hermes");
  });
});
