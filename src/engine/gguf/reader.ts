/**
 * Fast GGUF header reader: magic, version, all metadata and tensor infos, never the tensor data.
 *
 * Reads through a buffered file handle. Large arrays (token lists, merges, scores...) are skipped and
 * summarised as `{ type, length }` unless `fullArrays` is set. Every count and length is checked
 * against the bytes left in the file before anything is allocated from it.
 */
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import {
  GGML_TYPE_TRAITS,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPE_SIZE,
  GgufValueType,
  isGgufValueType,
} from "./constants.js";

/** Thrown when a file is not a valid (supported) GGUF file. */
export class GgufFormatError extends Error {
  override readonly name = "GgufFormatError";
  constructor(
    message: string,
    /** The file that failed. */
    readonly path: string,
    /** Byte offset where the problem was found, when known. */
    readonly offset?: number,
  ) {
    super(`${path}: ${message}${offset !== undefined ? ` (at byte ${offset})` : ""}`);
  }
}

/** A metadata array as read. `values` is present when the array is small or `fullArrays` was set. */
export interface GgufArrayValue {
  /** Element type. */
  type: GgufValueType;
  length: number;
  values?: (number | bigint | boolean | string | GgufArrayValue)[];
}

/** A metadata value. 64-bit integers are numbers when safe, bigint otherwise. */
export type GgufValue = number | bigint | boolean | string | GgufArrayValue;

export interface GgufKvEntry {
  key: string;
  type: GgufValueType;
  value: GgufValue;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the row length. */
  dims: number[];
  /** ggml tensor type. */
  type: number;
  typeName: string;
  /** Offset relative to the start of the data section. */
  offset: number;
  /** Absolute offset in the file. */
  fileOffset: number;
  elements: number;
  byteSize: number;
}

export interface GgufHeader {
  path: string;
  version: number;
  fileSize: number;
  alignment: number;
  /** Metadata in file order. */
  entries: GgufKvEntry[];
  /** Metadata by key (a null-prototype object). */
  metadata: Record<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** Absolute file offset of the tensor data section. */
  dataOffset: number;
  /** Sum of tensor element counts. */
  totalElements: number;
}

export interface ReadGgufOptions {
  /** Keep the values of every array (default false: arrays longer than `smallArrayLimit` are summarised). */
  fullArrays?: boolean;
  /** Arrays with at most this many items keep their values anyway (default 64). */
  smallArrayLimit?: number;
  /** Longest accepted string, in bytes (default 64 MiB). */
  maxStringBytes?: number;
}

const MAX_TENSORS = 1 << 20;
const MAX_KV = 1 << 20;
const MAX_DIMS = 4;
const MAX_ARRAY_DEPTH = 8;

class BufferedReader {
  private buf: Buffer;
  private bufStart = 0;
  private bufLen = 0;
  pos = 0;

  constructor(
    private readonly fh: FileHandle,
    readonly fileSize: number,
    private readonly path: string,
    private readonly chunk = 1 << 20,
  ) {
    this.buf = Buffer.allocUnsafe(chunk);
  }

  get remaining(): number {
    return this.fileSize - this.pos;
  }

  /** Bytes available in the buffer from `pos`. */
  get available(): number {
    return this.bufStart + this.bufLen - this.pos;
  }

  fail(message: string, offset = this.pos): never {
    throw new GgufFormatError(message, this.path, offset);
  }

  /** Ensures `n` bytes from `pos` are buffered. `n` must already be checked against the file size. */
  async need(n: number, what: string): Promise<void> {
    if (this.pos >= this.bufStart && this.available >= n) return;
    if (n > this.remaining) {
      this.fail(`truncated file: needs ${n} more bytes for ${what} but only ${this.remaining} remain`);
    }
    const want = Math.min(Math.max(n, this.chunk), this.remaining);
    if (want > this.buf.length) this.buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(this.buf, got, want - got, this.pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.bufStart = this.pos;
    this.bufLen = got;
    if (got < n) this.fail(`truncated file: file shrank while reading ${what}`);
  }

  skip(n: number, what: string): void {
    if (n > this.remaining) this.fail(`truncated file: ${what} needs ${n} bytes but only ${this.remaining} remain`);
    this.pos += n;
  }

  private at(): number {
    return this.pos - this.bufStart;
  }

  // Sync getters: call need() first.
  u8(): number {
    const v = this.buf[this.at()];
    this.pos += 1;
    return v;
  }
  i8(): number {
    const v = this.buf.readInt8(this.at());
    this.pos += 1;
    return v;
  }
  u16(): number {
    const v = this.buf.readUInt16LE(this.at());
    this.pos += 2;
    return v;
  }
  i16(): number {
    const v = this.buf.readInt16LE(this.at());
    this.pos += 2;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32LE(this.at());
    this.pos += 4;
    return v;
  }
  i32(): number {
    const v = this.buf.readInt32LE(this.at());
    this.pos += 4;
    return v;
  }
  f32(): number {
    const v = this.buf.readFloatLE(this.at());
    this.pos += 4;
    return v;
  }
  f64(): number {
    const v = this.buf.readDoubleLE(this.at());
    this.pos += 8;
    return v;
  }
  u64(): bigint {
    const v = this.buf.readBigUInt64LE(this.at());
    this.pos += 8;
    return v;
  }
  i64(): bigint {
    const v = this.buf.readBigInt64LE(this.at());
    this.pos += 8;
    return v;
  }
  /** A u64 that must fit a safe integer (a length or count). */
  u64n(what: string): number {
    const start = this.pos;
    const lo = this.buf.readUInt32LE(this.at());
    const hi = this.buf.readUInt32LE(this.at() + 4);
    this.pos += 8;
    if (hi > 0x1fffff) this.fail(`absurd ${what}: ${(BigInt(hi) << 32n) | BigInt(lo)}`, start);
    return hi * 0x100000000 + lo;
  }
  utf8(n: number): string {
    const a = this.at();
    const s = this.buf.toString("utf8", a, a + n);
    this.pos += n;
    return s;
  }
}

function num64(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function valueTypeName(t: number): string {
  return GgufValueType[t] ?? String(t);
}

class HeaderParser {
  constructor(
    private readonly r: BufferedReader,
    private readonly full: boolean,
    private readonly smallLimit: number,
    private readonly maxString: number,
  ) {}

  async string(what: string): Promise<string> {
    const r: BufferedReader = this.r;
    await r.need(8, what);
    const start = r.pos;
    const len = r.u64n(`${what} length`);
    if (len > this.maxString) r.fail(`absurd ${what} length ${len} (limit ${this.maxString})`, start);
    if (len > r.remaining) r.fail(`truncated file: ${what} of ${len} bytes but only ${r.remaining} remain`, start);
    await r.need(len, what);
    return r.utf8(len);
  }

  async skipString(what: string): Promise<void> {
    const r: BufferedReader = this.r;
    if (r.available < 8) await r.need(8, what);
    const start = r.pos;
    const len = r.u64n(`${what} length`);
    if (len > r.remaining) r.fail(`truncated file: ${what} of ${len} bytes but only ${r.remaining} remain`, start);
    r.skip(len, what);
  }

  async scalar(type: GgufValueType, what: string): Promise<number | bigint | boolean | string> {
    const r: BufferedReader = this.r;
    if (type === GgufValueType.STRING) return this.string(what);
    const size = GGUF_VALUE_TYPE_SIZE[type];
    if (size === undefined) return r.fail(`unsupported value type ${type} in ${what}`);
    if (r.available < size) await r.need(size, what);
    switch (type) {
      case GgufValueType.UINT8:
        return r.u8();
      case GgufValueType.INT8:
        return r.i8();
      case GgufValueType.UINT16:
        return r.u16();
      case GgufValueType.INT16:
        return r.i16();
      case GgufValueType.UINT32:
        return r.u32();
      case GgufValueType.INT32:
        return r.i32();
      case GgufValueType.FLOAT32:
        return r.f32();
      case GgufValueType.BOOL: {
        const b = r.u8();
        if (b > 1) r.fail(`invalid bool value ${b} in ${what}`, r.pos - 1);
        return b === 1;
      }
      case GgufValueType.UINT64:
        return num64(r.u64());
      case GgufValueType.INT64:
        return num64(r.i64());
      case GgufValueType.FLOAT64:
        return r.f64();
      default:
        return r.fail(`unsupported value type ${type} in ${what}`);
    }
  }

  async array(what: string, depth: number): Promise<GgufArrayValue> {
    const r: BufferedReader = this.r;
    if (depth > MAX_ARRAY_DEPTH) r.fail(`arrays nested too deeply in ${what}`);
    await r.need(12, what);
    const start = r.pos;
    const type = r.u32();
    if (!isGgufValueType(type)) r.fail(`unknown array element type ${type} in ${what}`, start);
    const length = r.u64n(`${what} array length`);
    const minSize =
      type === GgufValueType.STRING ? 8 : type === GgufValueType.ARRAY ? 12 : (GGUF_VALUE_TYPE_SIZE[type] as number);
    if (length > r.remaining / minSize) {
      r.fail(`truncated or corrupt file: array ${what} of ${length} items cannot fit in the remaining ${r.remaining} bytes`, start + 4);
    }
    const keep = this.full || length <= this.smallLimit;
    if (!keep) {
      if (type === GgufValueType.STRING) {
        for (let i = 0; i < length; i++) await this.skipString(what);
      } else if (type === GgufValueType.ARRAY) {
        for (let i = 0; i < length; i++) await this.array(what, depth + 1);
      } else {
        r.skip(length * minSize, what);
      }
      return { type, length };
    }
    const values: (number | bigint | boolean | string | GgufArrayValue)[] = new Array(length);
    for (let i = 0; i < length; i++) {
      values[i] = type === GgufValueType.ARRAY ? await this.array(what, depth + 1) : await this.scalar(type, what);
    }
    return { type, length, values };
  }
}

/** Reads a GGUF file's header, metadata and tensor infos (not the tensor data). */
export async function readGgufHeader(path: string, opts: ReadGgufOptions = {}): Promise<GgufHeader> {
  const fh = await open(path, "r");
  try {
    const { size: fileSize } = await fh.stat();
    const r: BufferedReader = new BufferedReader(fh, fileSize, path);
    const p = new HeaderParser(r, opts.fullArrays ?? false, opts.smallArrayLimit ?? 64, opts.maxStringBytes ?? 64 << 20);

    if (fileSize < 4) r.fail(`not a GGUF file: only ${fileSize} bytes`, 0);
    await r.need(4, "magic");
    const magic = r.u32();
    if (magic !== GGUF_MAGIC) {
      const shown = Buffer.alloc(4);
      shown.writeUInt32LE(magic);
      r.fail(`not a GGUF file: bad magic ${JSON.stringify(shown.toString("latin1"))} (expected "GGUF")`, 0);
    }
    await r.need(4, "version");
    const version = r.u32();
    if (version !== 2 && version !== 3) {
      if (version === 0x03000000 || version === 0x02000000) r.fail("big-endian GGUF files are not supported", 4);
      r.fail(`unsupported GGUF version ${version} (supported: 2, 3)`, 4);
    }
    await r.need(16, "header counts");
    const tensorCount = r.u64n("tensor count");
    const kvCount = r.u64n("metadata count");
    // A tensor info takes at least 8+4+8+4+8 bytes, a key/value at least 8+1+4+1.
    if (tensorCount > MAX_TENSORS) r.fail(`absurd tensor count ${tensorCount} (limit ${MAX_TENSORS})`, 8);
    if (kvCount > MAX_KV) r.fail(`absurd metadata count ${kvCount} (limit ${MAX_KV})`, 16);
    if (tensorCount * 32 + kvCount * 14 > r.remaining) {
      r.fail(
        `truncated or corrupt file: ${kvCount} metadata entries and ${tensorCount} tensor infos cannot fit in the remaining ${r.remaining} bytes`,
        8,
      );
    }

    const entries: GgufKvEntry[] = [];
    const metadata: Record<string, GgufValue> = Object.create(null);
    for (let i = 0; i < kvCount; i++) {
      const keyAt = r.pos;
      const key = await p.string(`metadata key #${i}`);
      if (key.length === 0) r.fail(`empty metadata key #${i}`, keyAt);
      if (key in metadata) r.fail(`duplicate metadata key ${key}`, keyAt);
      await r.need(4, key);
      const typeAt = r.pos;
      const type = r.u32();
      if (!isGgufValueType(type)) r.fail(`unknown value type ${type} for ${key}`, typeAt);
      const value = type === GgufValueType.ARRAY ? await p.array(key, 0) : await p.scalar(type, key);
      entries.push({ key, type, value });
      metadata[key] = value;
    }

    let alignment = GGUF_DEFAULT_ALIGNMENT;
    if ("general.alignment" in metadata) {
      const a = metadata["general.alignment"];
      const entry = entries.find((e) => e.key === "general.alignment");
      if (entry?.type !== GgufValueType.UINT32 || typeof a !== "number" || a === 0 || (a & (a - 1)) !== 0) {
        r.fail(`invalid general.alignment ${String(a)} (${valueTypeName(entry?.type ?? -1)})`);
      }
      alignment = a;
    }

    const tensors: GgufTensorInfo[] = [];
    const names = new Set<string>();
    for (let i = 0; i < tensorCount; i++) {
      const at = r.pos;
      const name = await p.string(`tensor name #${i}`);
      if (names.has(name)) r.fail(`duplicate tensor ${name}`, at);
      names.add(name);
      await r.need(4, name);
      const nDims = r.u32();
      if (nDims < 1 || nDims > MAX_DIMS) r.fail(`tensor ${name} has ${nDims} dims (1 to ${MAX_DIMS} allowed)`, r.pos - 4);
      await r.need(8 * nDims + 12, name);
      const dims: number[] = [];
      let elements = 1;
      for (let d = 0; d < nDims; d++) {
        const dim = r.u64n(`dimension of ${name}`);
        dims.push(dim);
        elements *= dim;
      }
      if (!Number.isSafeInteger(elements)) r.fail(`tensor ${name} has an absurd element count`, at);
      const typeAt = r.pos;
      const type = r.u32();
      const traits = GGML_TYPE_TRAITS[type];
      if (!traits) r.fail(`tensor ${name} has unknown type ${type}`, typeAt);
      if (dims[0] % traits.blockSize !== 0) {
        r.fail(`tensor ${name}: row length ${dims[0]} is not a multiple of the ${traits.name} block size`, at);
      }
      const offset = r.u64n(`offset of ${name}`);
      if (offset % alignment !== 0) r.fail(`tensor ${name} offset ${offset} is not aligned to ${alignment}`, r.pos - 8);
      const byteSize = (elements / traits.blockSize) * traits.typeSize;
      tensors.push({ name, dims, type, typeName: traits.name, offset, fileOffset: 0, elements, byteSize });
    }
    const dataOffset = Math.ceil(r.pos / alignment) * alignment;
    let totalElements = 0;
    for (const t of tensors) {
      t.fileOffset = dataOffset + t.offset;
      totalElements += t.elements;
      if (t.fileOffset + t.byteSize > fileSize) {
        r.fail(
          `truncated file: tensor ${t.name} data ends at byte ${t.fileOffset + t.byteSize} but the file has ${fileSize}`,
          t.fileOffset,
        );
      }
    }
    return { path, version, fileSize, alignment, entries, metadata, tensors, dataOffset, totalElements };
  } finally {
    await fh.close();
  }
}

/** Reads a metadata value that must be a number (any numeric type), or undefined. */
export function metaNumber(h: GgufHeader, key: string): number | undefined {
  const v = h.metadata[key];
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  return undefined;
}

export function metaString(h: GgufHeader, key: string): string | undefined {
  const v = h.metadata[key];
  return typeof v === "string" ? v : undefined;
}

export function metaBool(h: GgufHeader, key: string): boolean | undefined {
  const v = h.metadata[key];
  return typeof v === "boolean" ? v : undefined;
}

/** An array value's summary, or undefined when the key is missing or not an array. */
export function metaArray(h: GgufHeader, key: string): GgufArrayValue | undefined {
  const v = h.metadata[key];
  return typeof v === "object" && v !== null ? v : undefined;
}
