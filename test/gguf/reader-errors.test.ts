import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GgmlType, GgufValueType } from "../../src/engine/gguf/constants.js";
import { GgufFormatError, readGgufHeader } from "../../src/engine/gguf/reader.js";
import { kv, writeGguf } from "../../src/engine/gguf/writer.js";

let dir: string;
let valid: Buffer;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "llmux-gguf-err-"));
  const path = join(dir, "valid.gguf");
  await writeGguf(path, {
    metadata: [
      kv.str("general.architecture", "test"),
      kv.u32("t.n", 7),
      kv.arr("t.tokens", GgufValueType.STRING, Array.from({ length: 100 }, (_, i) => `t${i}`)),
      kv.arr("t.scores", GgufValueType.FLOAT32, new Float32Array(100)),
    ],
    tensors: [
      { name: "w", dims: [32, 4], type: GgmlType.Q8_0, data: new Float32Array(128) },
      { name: "b", dims: [4], type: GgmlType.F32, data: new Float32Array(4) },
    ],
  });
  valid = await readFile(path);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function readBytes(bytes: Uint8Array) {
  const path = join(dir, `case-${n++}.gguf`);
  await writeFile(path, bytes);
  return readGgufHeader(path);
}

async function expectFormatError(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  await assert.rejects(readBytes(bytes), (err: unknown) => {
    assert.ok(err instanceof GgufFormatError, `expected GgufFormatError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

/** A header prefix: magic, version, tensor count, kv count. */
function header(version: number, tensors: bigint, kvs: bigint): Buffer {
  const b = Buffer.alloc(24);
  b.write("GGUF", 0, "latin1");
  b.writeUInt32LE(version, 4);
  b.writeBigUInt64LE(tensors, 8);
  b.writeBigUInt64LE(kvs, 16);
  return b;
}

function str(s: string): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(Buffer.byteLength(s)));
  return Buffer.concat([b, Buffer.from(s)]);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}

describe("readGgufHeader errors", () => {
  it("reads the valid file", async () => {
    const h = await readBytes(valid);
    assert.equal(h.tensors.length, 2);
    assert.equal(h.metadata["t.n"], 7);
  });

  it("rejects bad magic, empty files and garbage", async () => {
    await expectFormatError(Buffer.from("GGML\x03\x00\x00\x00" + "\x00".repeat(16), "latin1"), /bad magic "GGML"/);
    await expectFormatError(Buffer.alloc(0), /not a GGUF file: only 0 bytes/);
    await expectFormatError(Buffer.from("{}"), /not a GGUF file/);
    let seed = 12345;
    const garbage = Buffer.alloc(4096);
    for (let i = 0; i < garbage.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      garbage[i] = seed >>> 24;
    }
    await expectFormatError(garbage, /bad magic/);
  });

  it("rejects unsupported versions and big-endian files", async () => {
    await expectFormatError(header(1, 0n, 0n), /unsupported GGUF version 1/);
    await expectFormatError(header(4, 0n, 0n), /unsupported GGUF version 4/);
    await expectFormatError(header(0x03000000, 0n, 0n), /big-endian/);
  });

  it("rejects every truncation of a valid file", async () => {
    // Every prefix that cuts into the header or the tensor data must fail with a GgufFormatError
    // (never a RangeError or a hang). Only the final alignment padding may be missing.
    const h = await readBytes(valid);
    const dataEnd = Math.max(...h.tensors.map((t) => t.fileOffset + t.byteSize));
    assert.ok(dataEnd < valid.length, "the fixture ends with padding");
    const cuts = new Set<number>();
    for (let i = 0; i < 400 && i < dataEnd; i++) cuts.add(i);
    for (let i = 400; i < dataEnd; i += 37) cuts.add(i);
    cuts.add(dataEnd - 1);
    for (const cut of cuts) {
      await expectFormatError(valid.subarray(0, cut), /truncated|not a GGUF file/);
    }
    await readBytes(valid.subarray(0, dataEnd));
  });

  it("rejects absurd counts and lengths without allocating them", async () => {
    await expectFormatError(header(3, 2n ** 40n, 0n), /absurd tensor count 1099511627776/);
    await expectFormatError(header(3, 2n ** 63n, 0n), /absurd tensor count/);
    await expectFormatError(header(3, 0n, 2n ** 62n), /absurd metadata count/);
    await expectFormatError(header(3, 0n, 1000n), /truncated or corrupt file: 1000 metadata entries and 0 tensor infos cannot fit/);
    await expectFormatError(header(3, 3n, 0n), /truncated or corrupt file: 0 metadata entries and 3 tensor infos cannot fit/);
    // key length of 2^60
    await expectFormatError(Buffer.concat([header(3, 0n, 1n), u64(2n ** 60n), Buffer.alloc(16)]), /absurd metadata key #0 length/);
    // string value longer than the file
    await expectFormatError(
      Buffer.concat([header(3, 0n, 1n), str("k"), u32(GgufValueType.STRING), u64(1000n), Buffer.alloc(10)]),
      /truncated file: k of 1000 bytes/,
    );
    // array of 2^40 uint32 in a small file
    await expectFormatError(
      Buffer.concat([header(3, 0n, 1n), str("k"), u32(GgufValueType.ARRAY), u32(GgufValueType.UINT32), u64(2n ** 40n), Buffer.alloc(64)]),
      /array k of 1099511627776 items cannot fit in the remaining 64 bytes/,
    );
    // array of 1e6 strings in a small file
    await expectFormatError(
      Buffer.concat([header(3, 0n, 1n), str("k"), u32(GgufValueType.ARRAY), u32(GgufValueType.STRING), u64(1000000n), Buffer.alloc(64)]),
      /array k of 1000000 items cannot fit/,
    );
    // unknown value type
    await expectFormatError(Buffer.concat([header(3, 0n, 1n), str("k"), u32(99), Buffer.alloc(16)]), /unknown value type 99 for k/);
    // duplicate keys
    await expectFormatError(
      Buffer.concat([header(3, 0n, 2n), str("k"), u32(GgufValueType.UINT8), Buffer.of(1), str("k"), u32(GgufValueType.UINT8), Buffer.of(2), Buffer.alloc(16)]),
      /duplicate metadata key k/,
    );
    // bad bool
    await expectFormatError(Buffer.concat([header(3, 0n, 1n), str("k"), u32(GgufValueType.BOOL), Buffer.of(2), Buffer.alloc(32)]), /invalid bool/);
  });

  it("rejects bad tensor infos", async () => {
    const tensor = (dims: bigint[], type: number, offset: bigint) =>
      Buffer.concat([str("t"), u32(dims.length), ...dims.map(u64), u32(type), u64(offset)]);
    const file = (t: Buffer, pad = 256) => Buffer.concat([header(3, 1n, 0n), t, Buffer.alloc(pad)]);
    await expectFormatError(file(tensor([], GgmlType.F32, 0n)), /has 0 dims/);
    await expectFormatError(file(tensor([1n, 1n, 1n, 1n, 1n], GgmlType.F32, 0n)), /has 5 dims/);
    await expectFormatError(file(tensor([4n], 77, 0n)), /unknown type 77/);
    await expectFormatError(file(tensor([2n ** 40n, 2n ** 40n], GgmlType.F32, 0n)), /absurd element count/);
    await expectFormatError(file(tensor([33n], GgmlType.Q8_0, 0n)), /not a multiple of the Q8_0 block size/);
    await expectFormatError(file(tensor([4n], GgmlType.F32, 3n)), /not aligned/);
    await expectFormatError(file(tensor([1024n], GgmlType.F32, 0n)), /truncated file: tensor t data ends at byte/);
    const ok = await readBytes(file(tensor([4n], GgmlType.F32, 0n)));
    assert.equal(ok.tensors[0].byteSize, 16);
  });

  it("rejects an invalid general.alignment", async () => {
    await expectFormatError(
      Buffer.concat([header(3, 0n, 1n), str("general.alignment"), u32(GgufValueType.UINT32), u32(24), Buffer.alloc(16)]),
      /invalid general.alignment 24/,
    );
  });
});
