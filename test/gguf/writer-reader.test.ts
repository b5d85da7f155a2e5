import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, open, readFile, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GgmlType, GgufValueType } from "../../src/engine/gguf/constants.js";
import { readGgufHeader } from "../../src/engine/gguf/reader.js";
import type { GgufArrayValue } from "../../src/engine/gguf/reader.js";
import {
  dequantizeQ8_0,
  encodeF16,
  f16ToF32,
  f32ToF16,
  kv,
  quantizeQ8_0,
  writeGguf,
} from "../../src/engine/gguf/writer.js";
import type { GgufKv, GgufTensorSpec } from "../../src/engine/gguf/writer.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "llmux-gguf-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bigStrings = Array.from({ length: 1000 }, (_, i) => `tok_${i}_ü€😀`);

const metadata: GgufKv[] = [
  kv.str("general.architecture", "test"),
  kv.u8("t.u8", 255),
  kv.i8("t.i8", -128),
  kv.u16("t.u16", 65535),
  kv.i16("t.i16", -32768),
  kv.u32("t.u32", 0xffffffff),
  kv.i32("t.i32", -0x80000000),
  kv.f32("t.f32", 1.5),
  kv.bool("t.bool.true", true),
  kv.bool("t.bool.false", false),
  kv.str("t.str", "héllo\n\u0000wörld 😀"),
  kv.str("t.str.empty", ""),
  kv.u64("t.u64.small", 12345),
  kv.u64("t.u64.big", 0xffffffffffffffffn),
  kv.i64("t.i64", -(2n ** 63n)),
  kv.i64("t.i64.small", -5),
  kv.f64("t.f64", Math.PI),
  kv.arr("t.arr.u8", GgufValueType.UINT8, [0, 1, 255]),
  kv.arr("t.arr.i8", GgufValueType.INT8, [-128, 0, 127]),
  kv.arr("t.arr.u16", GgufValueType.UINT16, [0, 65535]),
  kv.arr("t.arr.i16", GgufValueType.INT16, [-32768, 32767]),
  kv.arr("t.arr.u32", GgufValueType.UINT32, [0, 0xffffffff]),
  kv.arr("t.arr.i32", GgufValueType.INT32, Int32Array.of(-1, 2, -3)),
  kv.arr("t.arr.f32", GgufValueType.FLOAT32, Float32Array.of(0.5, -2.25)),
  kv.arr("t.arr.bool", GgufValueType.BOOL, [true, false, true]),
  kv.arr("t.arr.str", GgufValueType.STRING, ["a", "", "ßç"]),
  kv.arr("t.arr.u64", GgufValueType.UINT64, [1n, 2n ** 60n]),
  kv.arr("t.arr.i64", GgufValueType.INT64, [-1, 7]),
  kv.arr("t.arr.f64", GgufValueType.FLOAT64, [1e300, -0.125]),
  kv.arr("t.arr.empty", GgufValueType.STRING, []),
  kv.arr("t.arr.nested", GgufValueType.ARRAY, [
    { type: GgufValueType.INT32, values: [1, 2] },
    { type: GgufValueType.STRING, values: ["x"] },
  ]),
  kv.arr("t.arr.bigstr", GgufValueType.STRING, bigStrings),
  kv.arr("t.arr.bigi32", GgufValueType.INT32, Int32Array.from({ length: 5000 }, (_, i) => i - 2500)),
  kv.arr("t.arr.bigf32", GgufValueType.FLOAT32, new Float32Array(65)),
];

const f32Data = Float32Array.from({ length: 3 * 5 }, (_, i) => i * 0.25 - 1);
const q8Src = Float32Array.from({ length: 64 * 2 }, (_, i) => Math.sin(i) * 0.1);
const rawBytes = Uint8Array.from({ length: 7 * 4 }, (_, i) => i);

function* chunked(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  // reuses one buffer, as a memory-conscious generator would
  const buf = new Uint8Array(size);
  for (let i = 0; i < bytes.length; i += size) {
    const n = Math.min(size, bytes.length - i);
    buf.set(bytes.subarray(i, i + n));
    yield buf.subarray(0, n);
  }
}

const tensors: GgufTensorSpec[] = [
  { name: "a.f32", dims: [5, 3], type: GgmlType.F32, data: f32Data },
  { name: "b.f16", dims: [5, 3], type: GgmlType.F16, data: f32Data },
  { name: "c.q8_0", dims: [64, 2], type: GgmlType.Q8_0, data: q8Src },
  { name: "d.raw.i32", dims: [7], type: GgmlType.I32, data: rawBytes },
  { name: "e.gen", dims: [4, 3, 2, 1], type: GgmlType.F32, data: () => chunked(new Uint8Array(96).fill(7), 10) },
  {
    name: "f.async",
    dims: [32],
    type: GgmlType.Q8_0,
    data: async function* () {
      yield quantizeQ8_0(new Float32Array(32).fill(0.5));
    },
  },
];

function values(v: unknown): unknown[] {
  const arr = v as GgufArrayValue;
  assert.ok(arr.values, "array values kept");
  return arr.values;
}

describe("GGUF writer/reader round trip", () => {
  it("round-trips every value type, arrays, tensor infos and data offsets", async () => {
    const path = join(dir, "rt.gguf");
    await writeGguf(path, { metadata, tensors });
    assert.deepEqual(await readdir(dir).then((f) => f.filter((n) => n.endsWith(".tmp"))), []);

    const h = await readGgufHeader(path);
    assert.equal(h.version, 3);
    assert.equal(h.alignment, 32);
    assert.equal(h.dataOffset % 32, 0);
    // general.alignment was inserted right after general.architecture
    assert.deepEqual(
      h.entries.slice(0, 2).map((e) => [e.key, e.type, e.value]),
      [
        ["general.architecture", GgufValueType.STRING, "test"],
        ["general.alignment", GgufValueType.UINT32, 32],
      ],
    );
    assert.equal(h.entries.length, metadata.length + 1);
    const m = h.metadata;
    assert.equal(m["t.u8"], 255);
    assert.equal(m["t.i8"], -128);
    assert.equal(m["t.u16"], 65535);
    assert.equal(m["t.i16"], -32768);
    assert.equal(m["t.u32"], 0xffffffff);
    assert.equal(m["t.i32"], -0x80000000);
    assert.equal(m["t.f32"], 1.5);
    assert.equal(m["t.bool.true"], true);
    assert.equal(m["t.bool.false"], false);
    assert.equal(m["t.str"], "héllo\n\u0000wörld 😀");
    assert.equal(m["t.str.empty"], "");
    assert.equal(m["t.u64.small"], 12345);
    assert.equal(m["t.u64.big"], 0xffffffffffffffffn);
    assert.equal(m["t.i64"], -(2n ** 63n));
    assert.equal(m["t.i64.small"], -5);
    assert.equal(m["t.f64"], Math.PI);
    for (const e of h.entries) {
      const src = metadata.find((x) => x.key === e.key);
      if (src) assert.equal(e.type, src.type, e.key);
    }
    assert.deepEqual(values(m["t.arr.u8"]), [0, 1, 255]);
    assert.deepEqual(values(m["t.arr.i8"]), [-128, 0, 127]);
    assert.deepEqual(values(m["t.arr.u16"]), [0, 65535]);
    assert.deepEqual(values(m["t.arr.i16"]), [-32768, 32767]);
    assert.deepEqual(values(m["t.arr.u32"]), [0, 0xffffffff]);
    assert.deepEqual(values(m["t.arr.i32"]), [-1, 2, -3]);
    assert.deepEqual(values(m["t.arr.f32"]), [0.5, -2.25]);
    assert.deepEqual(values(m["t.arr.bool"]), [true, false, true]);
    assert.deepEqual(values(m["t.arr.str"]), ["a", "", "ßç"]);
    assert.deepEqual(values(m["t.arr.u64"]), [1, 2n ** 60n]);
    assert.deepEqual(values(m["t.arr.i64"]), [-1, 7]);
    assert.deepEqual(values(m["t.arr.f64"]), [1e300, -0.125]);
    assert.deepEqual(m["t.arr.empty"], { type: GgufValueType.STRING, length: 0, values: [] });
    assert.deepEqual(m["t.arr.nested"], {
      type: GgufValueType.ARRAY,
      length: 2,
      values: [
        { type: GgufValueType.INT32, length: 2, values: [1, 2] },
        { type: GgufValueType.STRING, length: 1, values: ["x"] },
      ],
    });
    // big arrays are summarised by default (64 items are kept, 65 are not)
    assert.deepEqual(m["t.arr.bigstr"], { type: GgufValueType.STRING, length: 1000 });
    assert.deepEqual(m["t.arr.bigi32"], { type: GgufValueType.INT32, length: 5000 });
    assert.deepEqual(m["t.arr.bigf32"], { type: GgufValueType.FLOAT32, length: 65 });

    const full = await readGgufHeader(path, { fullArrays: true });
    assert.deepEqual(values(full.metadata["t.arr.bigstr"]), bigStrings);
    assert.equal(values(full.metadata["t.arr.bigi32"])[4999], 2499);
    assert.deepEqual(full.tensors, h.tensors);

    // tensor infos
    assert.deepEqual(
      h.tensors.map((t) => [t.name, t.dims, t.typeName, t.elements, t.byteSize]),
      [
        ["a.f32", [5, 3], "F32", 15, 60],
        ["b.f16", [5, 3], "F16", 15, 30],
        ["c.q8_0", [64, 2], "Q8_0", 128, 136],
        ["d.raw.i32", [7], "I32", 7, 28],
        ["e.gen", [4, 3, 2, 1], "F32", 24, 96],
        ["f.async", [32], "Q8_0", 32, 34],
      ],
    );
    assert.equal(h.totalElements, 15 + 15 + 128 + 7 + 24 + 32);
    for (const t of h.tensors) {
      assert.equal(t.offset % 32, 0, `${t.name} aligned`);
      assert.equal(t.fileOffset, h.dataOffset + t.offset);
    }
    const last = h.tensors[h.tensors.length - 1];
    assert.equal(h.fileSize, Math.ceil((last.fileOffset + last.byteSize) / 32) * 32, "file padded to alignment");

    // tensor data lands at the recorded offsets
    const file = await readFile(path);
    const at = (name: string) => {
      const t = h.tensors.find((x) => x.name === name)!;
      return file.subarray(t.fileOffset, t.fileOffset + t.byteSize);
    };
    const a = at("a.f32");
    assert.deepEqual(new Float32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.length)), f32Data);
    assert.deepEqual(new Uint8Array(at("b.f16")), encodeF16(f32Data));
    assert.deepEqual(new Uint8Array(at("c.q8_0")), quantizeQ8_0(q8Src));
    assert.deepEqual(new Uint8Array(at("d.raw.i32")), rawBytes);
    assert.deepEqual(new Uint8Array(at("e.gen")), new Uint8Array(96).fill(7));
  });

  it("honours a custom general.alignment", async () => {
    const path = join(dir, "align64.gguf");
    await writeGguf(path, {
      metadata: [kv.str("general.architecture", "test"), kv.u32("general.alignment", 64)],
      tensors: [
        { name: "x", dims: [3], type: GgmlType.F32, data: new Float32Array(3) },
        { name: "y", dims: [5], type: GgmlType.F32, data: new Float32Array(5) },
      ],
    });
    const h = await readGgufHeader(path);
    assert.equal(h.alignment, 64);
    assert.equal(h.entries.length, 2);
    assert.equal(h.dataOffset % 64, 0);
    assert.deepEqual(
      h.tensors.map((t) => t.offset),
      [0, 64],
    );
  });

  it("rejects tensor data of the wrong size and leaves no file behind", async () => {
    const path = join(dir, "bad.gguf");
    await assert.rejects(
      writeGguf(path, {
        metadata: [kv.str("general.architecture", "test")],
        tensors: [{ name: "x", dims: [8], type: GgmlType.F32, data: () => chunked(new Uint8Array(31), 8) }],
      }),
      /got 31 bytes of data, expected 32/,
    );
    await assert.rejects(stat(path), { code: "ENOENT" });
    await assert.rejects(stat(`${path}.tmp`), { code: "ENOENT" });
    await assert.rejects(
      writeGguf(path, {
        metadata: [kv.str("general.architecture", "test")],
        tensors: [{ name: "q", dims: [33], type: GgmlType.Q8_0, data: new Float32Array(33) }],
      }),
      /not a multiple of the Q8_0 block size/,
    );
    await assert.rejects(
      writeGguf(path, { metadata: [kv.u8("k", 256)], tensors: [] }),
      /expected an integer in \[0, 255\]/,
    );
    await assert.rejects(writeGguf(path, { metadata: [kv.u8("k", 1), kv.u8("k", 2)], tensors: [] }), /duplicate/);
  });

  it("writes the documented header layout", async () => {
    const path = join(dir, "layout.gguf");
    await writeGguf(path, { metadata: [kv.u32("general.alignment", 32)], tensors: [] });
    const fh = await open(path, "r");
    const buf = Buffer.alloc(24);
    await fh.read(buf, 0, 24, 0);
    await fh.close();
    assert.equal(buf.toString("latin1", 0, 4), "GGUF");
    assert.equal(buf.readUInt32LE(4), 3);
    assert.equal(buf.readBigUInt64LE(8), 0n);
    assert.equal(buf.readBigUInt64LE(16), 1n);
  });
});

describe("number encoders", () => {
  it("converts fp16 like IEEE half with round-to-nearest-even", () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65520, 0x7c00], // rounds to inf
      [1e6, 0x7c00],
      [Infinity, 0x7c00],
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -26, 0x0000],
      [1 + 2 ** -11, 0x3c00], // tie → even
      [1 + 3 * 2 ** -11, 0x3c02], // tie → even (up)
      [0.1, 0x2e66],
    ];
    for (const [x, bits] of cases) assert.equal(f32ToF16(x), bits, `f32ToF16(${x})`);
    assert.ok(Number.isNaN(f16ToF32(f32ToF16(NaN))));
    for (let bits = 0; bits < 0x7c00; bits += 7) assert.equal(f32ToF16(f16ToF32(bits)), bits);
  });

  it("quantizes Q8_0 like ggml (d = max|x|/127, round half away from zero)", () => {
    const src = new Float32Array(64);
    for (let i = 0; i < 32; i++) src[i] = (i - 16) / 16; // max |x| = 1
    src[32] = -0.5; // second block: only one value
    const q = quantizeQ8_0(src);
    assert.equal(q.length, 68);
    assert.equal(f16ToF32(q[0] | (q[1] << 8)), f16ToF32(f32ToF16(1 / 127)));
    assert.equal((q[2] << 24) >> 24, -127); // x = -1
    assert.equal((q[2 + 24] << 24) >> 24, 64); // x = 0.5 → 63.5 → 64 (away from zero)
    assert.equal((q[2 + 8] << 24) >> 24, -64); // x = -0.5 → -63.5 → -64
    assert.equal((q[36] << 24) >> 24, -127);
    const back = dequantizeQ8_0(q);
    for (let i = 0; i < 64; i++) assert.ok(Math.abs(back[i] - src[i]) < 0.01, `value ${i}`);
    assert.deepEqual(quantizeQ8_0(new Float32Array(32)), new Uint8Array(34));
  });
});
