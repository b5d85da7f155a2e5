/**
 * Streaming GGUF v3 writer (little endian) plus fp16 / bf16 / Q8_0 encoders.
 *
 * The header (metadata + tensor infos) is written first, then each tensor's data, each one aligned
 * to `general.alignment` (32 unless the metadata says otherwise) and zero padded. Tensor data can be
 * given as a generator of byte chunks, so a large file never needs its tensors in memory at once.
 * The file is written to `path + ".tmp"` and renamed into place when complete.
 */
import { open, rename, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VERSION,
  GGML_TYPE_TRAITS,
  GgmlType,
  GgufValueType,
  ggmlTensorByteSize,
  ggmlTypeName,
} from "./constants.js";

/** A scalar metadata value. 64-bit integers may be given as bigint or number. */
export type GgufScalar = number | bigint | boolean | string;

/** An array metadata value for the writer: `type` is the element type. */
export interface GgufArrayInput {
  type: GgufValueType;
  /** Elements; nested arrays (type ARRAY) hold {@link GgufArrayInput} items. Typed arrays are accepted. */
  values: ArrayLike<GgufScalar | GgufArrayInput>;
}

/** One metadata key/value pair. `type` is the value's GGUF type (ARRAY for arrays). */
export interface GgufKv {
  key: string;
  type: GgufValueType;
  value: GgufScalar | GgufArrayInput;
}

/** Chunks of raw tensor bytes, already encoded in the tensor's type. */
export type GgufChunkSource = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * Tensor data:
 * - `Uint8Array`: raw bytes already encoded in the tensor's type;
 * - `Float32Array`: values converted by the writer to F32, F16, BF16 or Q8_0;
 * - a function returning (async) iterable byte chunks (raw bytes in the tensor's type). The writer
 *   consumes each chunk before asking for the next, so a generator may reuse one buffer.
 */
export type GgufTensorData = Uint8Array | Float32Array | (() => GgufChunkSource);

export interface GgufTensorSpec {
  name: string;
  /** ggml order: `dims[0]` is the row length (the fastest-varying dimension). At most 4 dims. */
  dims: number[];
  type: GgmlType;
  data: GgufTensorData;
}

export interface GgufFileSpec {
  metadata: GgufKv[];
  tensors: GgufTensorSpec[];
}

/** Helpers to build typed metadata entries. */
export const kv = {
  u8: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.UINT8, value }),
  i8: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.INT8, value }),
  u16: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.UINT16, value }),
  i16: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.INT16, value }),
  u32: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.UINT32, value }),
  i32: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.INT32, value }),
  f32: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.FLOAT32, value }),
  bool: (key: string, value: boolean): GgufKv => ({ key, type: GgufValueType.BOOL, value }),
  str: (key: string, value: string): GgufKv => ({ key, type: GgufValueType.STRING, value }),
  u64: (key: string, value: number | bigint): GgufKv => ({ key, type: GgufValueType.UINT64, value }),
  i64: (key: string, value: number | bigint): GgufKv => ({ key, type: GgufValueType.INT64, value }),
  f64: (key: string, value: number): GgufKv => ({ key, type: GgufValueType.FLOAT64, value }),
  arr: (key: string, elementType: GgufValueType, values: ArrayLike<GgufScalar | GgufArrayInput>): GgufKv => ({
    key,
    type: GgufValueType.ARRAY,
    value: { type: elementType, values },
  }),
};

// ---------------------------------------------------------------------------------------------
// Number encoders

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** float32 → IEEE half bits, round to nearest even (like ggml's FP32_TO_FP16). */
export function f32ToF16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) !== 0)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++;
  return sign | half;
}

/** IEEE half bits → number. */
export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float32 → bfloat16 bits, round to nearest even. */
export function f32ToBf16(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff; // quiet NaN
  return ((x + (0x7fff + ((x >>> 16) & 1))) >>> 16) & 0xffff;
}

/** Encodes values as little-endian F16. */
export function encodeF16(src: ArrayLike<number>, out = new Uint8Array(src.length * 2)): Uint8Array {
  for (let i = 0; i < src.length; i++) {
    const h = f32ToF16(src[i]);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

/** Encodes values as little-endian BF16. */
export function encodeBf16(src: ArrayLike<number>, out = new Uint8Array(src.length * 2)): Uint8Array {
  for (let i = 0; i < src.length; i++) {
    const h = f32ToBf16(src[i]);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

/** Encodes values as little-endian F32. */
export function encodeF32(src: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  const out = new Uint8Array(src.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < src.length; i++) dv.setFloat32(i * 4, src[i], true);
  return out;
}

export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;

/**
 * Q8_0 quantization as ggml's quantize_row_q8_0_ref: for each block of 32 values,
 * d = max|x| / 127 stored as fp16, then 32 int8 values round(x / d) (half away from zero).
 * `src.length` must be a multiple of 32.
 */
export function quantizeQ8_0(
  src: ArrayLike<number>,
  out = new Uint8Array((src.length / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES),
): Uint8Array {
  if (src.length % Q8_0_BLOCK !== 0) throw new RangeError(`Q8_0 needs a multiple of 32 values, got ${src.length}`);
  const blocks = src.length / Q8_0_BLOCK;
  for (let b = 0; b < blocks; b++) {
    const base = b * Q8_0_BLOCK;
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const a = Math.abs(src[base + j]);
      if (a > amax) amax = a;
    }
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? 1 / d : 0;
    const o = b * Q8_0_BLOCK_BYTES;
    const h = f32ToF16(d);
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const x = src[base + j] * id;
      const q = x < 0 ? -Math.round(-x) : Math.round(x);
      out[o + 2 + j] = (q < -128 ? -128 : q > 127 ? 127 : q) & 0xff;
    }
  }
  return out;
}

/** Decodes Q8_0 blocks back to floats (for tests and inspection). */
export function dequantizeQ8_0(bytes: Uint8Array): Float32Array {
  if (bytes.length % Q8_0_BLOCK_BYTES !== 0) throw new RangeError("Q8_0 data is not a whole number of blocks");
  const blocks = bytes.length / Q8_0_BLOCK_BYTES;
  const out = new Float32Array(blocks * Q8_0_BLOCK);
  for (let b = 0; b < blocks; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = f16ToF32(bytes[o] | (bytes[o + 1] << 8));
    for (let j = 0; j < Q8_0_BLOCK; j++) out[b * Q8_0_BLOCK + j] = d * ((bytes[o + 2 + j] << 24) >> 24);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Buffered file sink

class FileSink {
  private readonly buf: Buffer;
  private used = 0;
  /** Bytes written so far (including buffered ones). */
  position = 0;

  constructor(
    private readonly fh: FileHandle,
    size = 4 << 20,
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  async flush(): Promise<void> {
    let off = 0;
    while (off < this.used) {
      const { bytesWritten } = await this.fh.write(this.buf, off, this.used - off);
      off += bytesWritten;
    }
    this.used = 0;
  }

  /** Makes room for `n` bytes in the buffer (n <= buffer size). */
  async ensure(n: number): Promise<void> {
    if (this.used + n > this.buf.length) await this.flush();
  }

  async bytes(chunk: Uint8Array): Promise<void> {
    if (chunk.length <= this.buf.length - this.used) {
      this.buf.set(chunk, this.used);
      this.used += chunk.length;
    } else if (chunk.length < this.buf.length / 2) {
      await this.flush();
      this.buf.set(chunk, 0);
      this.used = chunk.length;
    } else {
      await this.flush();
      let off = 0;
      while (off < chunk.length) {
        const { bytesWritten } = await this.fh.write(chunk, off, chunk.length - off);
        off += bytesWritten;
      }
    }
    this.position += chunk.length;
  }

  async zeros(n: number): Promise<void> {
    while (n > 0) {
      const k = Math.min(n, this.buf.length);
      await this.ensure(k);
      this.buf.fill(0, this.used, this.used + k);
      this.used += k;
      this.position += k;
      n -= k;
    }
  }

  // Fixed-size writers: callers must `await ensure(size)` first (the header writer does).
  u8(v: number): void {
    this.buf.writeUInt8(v, this.used);
    this.used += 1;
    this.position += 1;
  }
  i8(v: number): void {
    this.buf.writeInt8(v, this.used);
    this.used += 1;
    this.position += 1;
  }
  u16(v: number): void {
    this.buf.writeUInt16LE(v, this.used);
    this.used += 2;
    this.position += 2;
  }
  i16(v: number): void {
    this.buf.writeInt16LE(v, this.used);
    this.used += 2;
    this.position += 2;
  }
  u32(v: number): void {
    this.buf.writeUInt32LE(v, this.used);
    this.used += 4;
    this.position += 4;
  }
  i32(v: number): void {
    this.buf.writeInt32LE(v, this.used);
    this.used += 4;
    this.position += 4;
  }
  f32(v: number): void {
    this.buf.writeFloatLE(v, this.used);
    this.used += 4;
    this.position += 4;
  }
  f64(v: number): void {
    this.buf.writeDoubleLE(v, this.used);
    this.used += 8;
    this.position += 8;
  }
  u64(v: bigint): void {
    this.buf.writeBigUInt64LE(v, this.used);
    this.used += 8;
    this.position += 8;
  }
  i64(v: bigint): void {
    this.buf.writeBigInt64LE(v, this.used);
    this.used += 8;
    this.position += 8;
  }

  async string(s: string): Promise<void> {
    const len = Buffer.byteLength(s, "utf8");
    await this.ensure(8);
    this.u64(BigInt(len));
    if (len <= this.buf.length) {
      await this.ensure(len);
      this.buf.write(s, this.used, len, "utf8");
      this.used += len;
      this.position += len;
    } else {
      await this.bytes(Buffer.from(s, "utf8"));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Metadata encoding

function fail(msg: string): never {
  throw new TypeError(`writeGguf: ${msg}`);
}

function toBigInt(v: GgufScalar, key: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  return fail(`${key}: expected an integer, got ${String(v)}`);
}

function checkInt(v: GgufScalar, min: number, max: number, key: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    return fail(`${key}: expected an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

async function writeScalar(sink: FileSink, type: GgufValueType, v: GgufScalar, key: string): Promise<void> {
  switch (type) {
    case GgufValueType.UINT8:
      await sink.ensure(1);
      return sink.u8(checkInt(v, 0, 0xff, key));
    case GgufValueType.INT8:
      await sink.ensure(1);
      return sink.i8(checkInt(v, -0x80, 0x7f, key));
    case GgufValueType.UINT16:
      await sink.ensure(2);
      return sink.u16(checkInt(v, 0, 0xffff, key));
    case GgufValueType.INT16:
      await sink.ensure(2);
      return sink.i16(checkInt(v, -0x8000, 0x7fff, key));
    case GgufValueType.UINT32:
      await sink.ensure(4);
      return sink.u32(checkInt(v, 0, 0xffffffff, key));
    case GgufValueType.INT32:
      await sink.ensure(4);
      return sink.i32(checkInt(v, -0x80000000, 0x7fffffff, key));
    case GgufValueType.FLOAT32:
      if (typeof v !== "number") fail(`${key}: expected a number`);
      await sink.ensure(4);
      return sink.f32(v);
    case GgufValueType.FLOAT64:
      if (typeof v !== "number") fail(`${key}: expected a number`);
      await sink.ensure(8);
      return sink.f64(v);
    case GgufValueType.BOOL:
      if (typeof v !== "boolean") fail(`${key}: expected a boolean`);
      await sink.ensure(1);
      return sink.u8(v ? 1 : 0);
    case GgufValueType.STRING:
      if (typeof v !== "string") fail(`${key}: expected a string`);
      return sink.string(v);
    case GgufValueType.UINT64: {
      const b = toBigInt(v, key);
      if (b < 0n || b > 0xffffffffffffffffn) fail(`${key}: out of uint64 range`);
      await sink.ensure(8);
      return sink.u64(b);
    }
    case GgufValueType.INT64: {
      const b = toBigInt(v, key);
      if (b < -(1n << 63n) || b >= 1n << 63n) fail(`${key}: out of int64 range`);
      await sink.ensure(8);
      return sink.i64(b);
    }
    default:
      return fail(`${key}: unsupported value type ${type}`);
  }
}

function isArrayInput(v: unknown): v is GgufArrayInput {
  return typeof v === "object" && v !== null && "type" in v && "values" in v;
}

async function writeArray(sink: FileSink, arr: GgufArrayInput, key: string, depth: number): Promise<void> {
  if (depth > 8) fail(`${key}: arrays nested too deeply`);
  await sink.ensure(12);
  sink.u32(arr.type);
  const n = arr.values.length;
  sink.u64(BigInt(n));
  if (arr.type === GgufValueType.ARRAY) {
    for (let i = 0; i < n; i++) {
      const item = arr.values[i];
      if (!isArrayInput(item)) fail(`${key}[${i}]: expected a nested array`);
      await writeArray(sink, item, `${key}[${i}]`, depth + 1);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const item = arr.values[i];
    if (isArrayInput(item)) fail(`${key}[${i}]: nested array in a non-ARRAY array`);
    await writeScalar(sink, arr.type, item, key);
  }
}

async function writeKv(sink: FileSink, entry: GgufKv): Promise<void> {
  await sink.string(entry.key);
  await sink.ensure(4);
  sink.u32(entry.type);
  if (entry.type === GgufValueType.ARRAY) {
    if (!isArrayInput(entry.value)) fail(`${entry.key}: ARRAY needs { type, values }`);
    await writeArray(sink, entry.value, entry.key, 0);
  } else {
    if (isArrayInput(entry.value)) fail(`${entry.key}: array value with scalar type ${entry.type}`);
    await writeScalar(sink, entry.type, entry.value, entry.key);
  }
}

// ---------------------------------------------------------------------------------------------
// Tensor data

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function encodeFloat32Data(type: GgmlType, values: Float32Array, name: string): Uint8Array {
  switch (type) {
    case GgmlType.F32:
      return encodeF32(values);
    case GgmlType.F16:
      return encodeF16(values);
    case GgmlType.BF16:
      return encodeBf16(values);
    case GgmlType.Q8_0:
      return quantizeQ8_0(values);
    default:
      return fail(`${name}: cannot convert Float32Array data to ${ggmlTypeName(type)}; give raw bytes`);
  }
}

function tensorChunks(t: GgufTensorSpec): GgufChunkSource {
  if (typeof t.data === "function") return t.data();
  if (t.data instanceof Float32Array) return [encodeFloat32Data(t.type, t.data, t.name)];
  return [t.data];
}

/**
 * Writes a GGUF v3 file. The metadata gets `general.alignment` (u32 32) added after
 * `general.architecture` (or first) when it is missing; an existing one sets the alignment.
 */
export async function writeGguf(path: string, spec: GgufFileSpec): Promise<void> {
  // Validate and lay out before touching the disk.
  const keys = new Set<string>();
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  for (const e of spec.metadata) {
    if (!e.key) fail("empty metadata key");
    if (keys.has(e.key)) fail(`duplicate metadata key ${e.key}`);
    keys.add(e.key);
    if (e.key === "general.alignment") {
      if (e.type !== GgufValueType.UINT32 || typeof e.value !== "number") fail("general.alignment must be a u32");
      alignment = e.value;
      if (alignment <= 0 || (alignment & (alignment - 1)) !== 0) fail(`alignment ${alignment} is not a power of two`);
    }
  }
  let metadata = spec.metadata;
  if (!keys.has("general.alignment")) {
    const at = metadata.findIndex((e) => e.key === "general.architecture") + 1;
    metadata = [...metadata.slice(0, at), kv.u32("general.alignment", alignment), ...metadata.slice(at)];
  }

  const names = new Set<string>();
  const layout: { offset: number; size: number; elements: number }[] = [];
  let dataSize = 0;
  for (const t of spec.tensors) {
    if (!t.name) fail("empty tensor name");
    if (names.has(t.name)) fail(`duplicate tensor name ${t.name}`);
    names.add(t.name);
    if (t.dims.length < 1 || t.dims.length > 4) fail(`${t.name}: needs 1 to 4 dims`);
    let elements = 1;
    for (const d of t.dims) {
      if (!Number.isSafeInteger(d) || d < 1) fail(`${t.name}: bad dimension ${d}`);
      elements *= d;
    }
    if (!Number.isSafeInteger(elements)) fail(`${t.name}: too many elements`);
    const traits = GGML_TYPE_TRAITS[t.type];
    if (!traits) fail(`${t.name}: unknown tensor type ${t.type}`);
    if (t.dims[0] % traits.blockSize !== 0) {
      fail(`${t.name}: row length ${t.dims[0]} is not a multiple of the ${traits.name} block size ${traits.blockSize}`);
    }
    const size = ggmlTensorByteSize(t.type, elements);
    dataSize = alignUp(dataSize, alignment);
    layout.push({ offset: dataSize, size, elements });
    dataSize += size;
  }

  const tmp = `${path}.tmp`;
  const fh = await open(tmp, "w");
  let ok = false;
  try {
    const sink = new FileSink(fh);
    await sink.ensure(24);
    sink.u32(GGUF_MAGIC);
    sink.u32(GGUF_VERSION);
    sink.u64(BigInt(spec.tensors.length));
    sink.u64(BigInt(metadata.length));
    for (const e of metadata) await writeKv(sink, e);
    for (let i = 0; i < spec.tensors.length; i++) {
      const t = spec.tensors[i];
      await sink.string(t.name);
      await sink.ensure(4 + 8 * t.dims.length + 4 + 8);
      sink.u32(t.dims.length);
      for (const d of t.dims) sink.u64(BigInt(d));
      sink.u32(t.type);
      sink.u64(BigInt(layout[i].offset));
    }
    await sink.zeros(alignUp(sink.position, alignment) - sink.position);
    const dataStart = sink.position;
    for (let i = 0; i < spec.tensors.length; i++) {
      const t = spec.tensors[i];
      const { offset, size } = layout[i];
      await sink.zeros(dataStart + offset - sink.position);
      let written = 0;
      for await (const chunk of tensorChunks(t)) {
        written += chunk.length;
        if (written > size) fail(`${t.name}: data is larger than ${size} bytes`);
        await sink.bytes(chunk);
      }
      if (written !== size) fail(`${t.name}: got ${written} bytes of data, expected ${size}`);
    }
    await sink.zeros(alignUp(sink.position, alignment) - sink.position);
    await sink.flush();
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await unlink(tmp).catch(() => undefined);
  }
  await rename(tmp, path);
}
