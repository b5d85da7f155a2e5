import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SseLineReader } from "../../src/providers/sse-reader.js";

const BODY = 'event: a\ndata: {"x":"é"}\n\n: comment\ndata: one\ndata: two\n\ndata: [DONE]\n\n';
const EXPECTED = [
  { event: "a", data: '{"x":"é"}' },
  { event: "", data: "one\ntwo" },
  { event: "", data: "[DONE]" },
];

const readAll = (chunks: Uint8Array[]) => {
  const r = new SseLineReader();
  return [...chunks.flatMap((c) => r.push(c)), ...r.end()];
};

describe("SseLineReader", () => {
  for (const eol of ["\n", "\r\n", "\r"]) {
    it(`parses ${JSON.stringify(eol)} bodies split at every byte boundary`, () => {
      const bytes = Buffer.from(BODY.replace(/\n/g, eol), "utf8");
      for (let cut = 0; cut <= bytes.length; cut++) {
        assert.deepEqual(readAll([bytes.subarray(0, cut), bytes.subarray(cut)]), EXPECTED, `cut at ${cut}`);
      }
      assert.deepEqual(readAll([...bytes].map((b) => Uint8Array.of(b))), EXPECTED);
    });
  }

  it("dispatches a last event without its blank line at the end", () => {
    assert.deepEqual(readAll([Buffer.from("data: tail")]), [{ event: "", data: "tail" }]);
  });
});
