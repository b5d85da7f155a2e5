import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TokenTextDecoder } from "../../src/engine/text/token-decoder.js";

/** A fake tokenizer: each token is a byte; decoding is lenient UTF-8 like N-API's. */
const detok = (tokens: number[]) => Buffer.from(tokens).toString("utf8");

describe("TokenTextDecoder", () => {
  it("holds a multi-byte character until it is complete", () => {
    const d = new TokenTextDecoder(detok);
    const bytes = [...Buffer.from("é你")];
    const out = bytes.map((b) => d.push(b));
    assert.deepEqual(out, ["", "é", "", "", "你"]);
    assert.equal(d.flush(), "");
  });

  it("turns bytes that never become valid into U+FFFD instead of failing", () => {
    const d = new TokenTextDecoder(detok);
    let text = "";
    for (const b of [0xe4, 0xbd, 0x41]) text += d.push(b);
    text += d.flush();
    assert.equal(text, "\uFFFDA");
  });

  it("flushes an unfinished character at the end as U+FFFD", () => {
    const d = new TokenTextDecoder(detok);
    assert.equal(d.push(0xe4), "");
    assert.equal(d.flush(), "\uFFFD");
  });

  it("gives up holding after a few tokens so output never stalls", () => {
    const d = new TokenTextDecoder(detok);
    const outs = [0xff, 0xff, 0xff, 0xff].map((b) => d.push(b));
    assert.equal(outs.slice(0, 3).join(""), "");
    assert.equal(outs[3], "\uFFFD\uFFFD\uFFFD\uFFFD");
  });
});
