import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StopMatcher } from "../../src/engine/text/stop-matcher.js";

const feed = (stops: string[], pieces: string[]) => {
  const m = new StopMatcher(stops);
  let out = "";
  for (const p of pieces) {
    const r = m.push(p);
    out += r.emit;
    if (r.stop !== undefined) return { out, stop: r.stop };
  }
  return { out: out + m.flush(), stop: undefined };
};

describe("StopMatcher", () => {
  it("passes text through when there are no stops", () => {
    assert.deepEqual(feed([], ["ab", "cd"]), { out: "abcd", stop: undefined });
  });

  it("finds a stop split across pieces and emits nothing of it", () => {
    assert.deepEqual(feed(["END"], ["hello E", "N", "D and more"]), { out: "hello ", stop: "END" });
  });

  it("holds back a partial match and releases it when it turns out not to be one", () => {
    const m = new StopMatcher(["STOP"]);
    assert.deepEqual(m.push("abc ST"), { emit: "abc " });
    assert.deepEqual(m.push("AR"), { emit: "STAR" });
  });

  it("picks the earliest of several stops", () => {
    assert.deepEqual(feed(["yz", "b"], ["xyzab"]), { out: "x", stop: "yz" });
  });

  it("flushes a dangling partial match at the end", () => {
    assert.deepEqual(feed(["\n\n"], ["line\n"]), { out: "line\n", stop: undefined });
  });

  it("handles a stop at the very start", () => {
    assert.deepEqual(feed(["<"], ["<tag>"]), { out: "", stop: "<" });
  });
});
