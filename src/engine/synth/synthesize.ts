/**
 * Synthetic GGUF models: random weights, real architecture, real tokenizer. Deterministic:
 * the same preset and seed give a byte-identical file.
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { GgmlType, GgufValueType, LlamaFileType, LlamaTokenType } from "../gguf/constants.js";
import { Q8_0_BLOCK, Q8_0_BLOCK_BYTES, f32ToF16, kv, writeGguf } from "../gguf/writer.js";
import type { GgufFileSpec, GgufKv, GgufTensorSpec } from "../gguf/writer.js";
import { IRWIN_HALL4_INV_STD, Xoshiro128, hashSeed } from "./prng.js";
import { SYNTH_PRESETS } from "./presets.js";
import type { SynthPreset, SynthPresetName } from "./presets.js";
import { CHATML_TOOLS_TEMPLATE } from "./templates.js";
import { buildTokenizer } from "./tokenizer.js";
import { buildWordPieceTokenizer } from "./wordpiece.js";

export interface SynthesizeOptions {
  preset: SynthPresetName;
  /** Seed of every random choice (weights and filler vocabulary). Integer 0..2^32-1, default 42. */
  seed?: number;
}

export const DEFAULT_SYNTH_SEED = 42;

/** Names of the synthetic presets. */
export const PRESETS = ["tiny", "bench", "tiny-think", "broken-spm", "tiny-embed", "bench-embed"] as const satisfies readonly SynthPresetName[];
export type { SynthPresetName } from "./presets.js";

const CHUNK_ELEMENTS = 1 << 18;

/** Random F32 (or F16) weights, N(0, std)-ish, in chunks. */
function* randomFloatChunks(seed: number, elements: number, std: number, f16: boolean): Generator<Uint8Array> {
  const rng = new Xoshiro128(seed);
  const n = Math.min(elements, CHUNK_ELEMENTS);
  const f32 = new Float32Array(n);
  const f32Bytes = new Uint8Array(f32.buffer);
  const f16Bytes = f16 ? new Uint8Array(n * 2) : f32Bytes;
  for (let done = 0; done < elements; ) {
    const k = Math.min(n, elements - done);
    for (let i = 0; i < k; i++) f32[i] = rng.nextNormalish() * std;
    if (f16) {
      for (let i = 0; i < k; i++) {
        const h = f32ToF16(f32[i]);
        f16Bytes[2 * i] = h & 0xff;
        f16Bytes[2 * i + 1] = h >>> 8;
      }
      yield f16Bytes.subarray(0, k * 2);
    } else {
      yield f32Bytes.subarray(0, k * 4);
    }
    done += k;
  }
}

/** Irwin–Hall(4) draws are integers in [-IH_MAX, IH_MAX]. */
const IH_MAX = 510;
const IH_SPAN = 2 * IH_MAX + 1;
let q8Lut: Uint8Array | undefined;

/** q8Lut[amax * IH_SPAN + IH_MAX + v] = round(127 v / amax) (half away from zero) as a byte. */
function q8Table(): Uint8Array {
  if (q8Lut) return q8Lut;
  const lut = new Uint8Array((IH_MAX + 1) * IH_SPAN);
  for (let amax = 1; amax <= IH_MAX; amax++) {
    for (let v = -amax; v <= amax; v++) {
      const q = (v * 127) / amax;
      lut[amax * IH_SPAN + IH_MAX + v] = (q < 0 ? -Math.round(-q) : Math.round(q)) & 0xff;
    }
  }
  q8Lut = lut;
  return lut;
}

/**
 * Fills `blocks` Q8_0 blocks from the PRNG state (updated in place). Each value is an Irwin–Hall(4)
 * integer v in [-510, 510] (std ≈ 147.8) standing for the weight v · std / 147.8; the block stores
 * d = max|v| · std / (147.8 · 127) as fp16 and q = round(127 v / max|v|): essentially what ggml's Q8_0 quantizer
 * gives for those weights. A plain function (not the generator) so V8 optimizes the hot loop.
 */
function fillQ8_0Blocks(
  state: Int32Array,
  out: Uint8Array,
  blocks: number,
  dBits: Uint16Array,
  lut: Uint8Array,
  vals: Int32Array,
): void {
  let s0 = state[0];
  let s1 = state[1];
  let s2 = state[2];
  let s3 = state[3];
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      // xoshiro128** step, inlined
      const m = Math.imul(s1, 5);
      const r = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      const v = (r & 255) + ((r >>> 8) & 255) + ((r >>> 16) & 255) + ((r >>> 24) & 255) - IH_MAX;
      vals[j] = v;
      const a = (v ^ (v >> 31)) - (v >> 31); // branchless |v|
      amax = a > amax ? a : amax;
    }
    const o = b * Q8_0_BLOCK_BYTES;
    const h = dBits[amax];
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    const base = amax * IH_SPAN + IH_MAX; // amax = 0 only if all v = 0: row 0 of the table is zeros
    for (let j = 0; j < Q8_0_BLOCK; j++) out[o + 2 + j] = lut[base + vals[j]];
  }
  state[0] = s0;
  state[1] = s1;
  state[2] = s2;
  state[3] = s3;
}

/** Random Q8_0 blocks written straight from the PRNG (see {@link fillQ8_0Blocks}), in chunks. */
function* randomQ8_0Chunks(seed: number, elements: number, std: number): Generator<Uint8Array> {
  const rng = new Xoshiro128(seed);
  const state = Int32Array.of(rng.s0, rng.s1, rng.s2, rng.s3);
  const lut = q8Table();
  const dBits = new Uint16Array(IH_MAX + 1);
  for (let amax = 0; amax <= IH_MAX; amax++) dBits[amax] = f32ToF16((amax * std * IRWIN_HALL4_INV_STD) / 127);
  const vals = new Int32Array(Q8_0_BLOCK);
  const totalBlocks = elements / Q8_0_BLOCK;
  const chunkBlocks = Math.min(totalBlocks, CHUNK_ELEMENTS / Q8_0_BLOCK);
  const buf = new Uint8Array(chunkBlocks * Q8_0_BLOCK_BYTES);
  for (let done = 0; done < totalBlocks; ) {
    const k = Math.min(chunkBlocks, totalBlocks - done);
    fillQ8_0Blocks(state, buf, k, dBits, lut, vals);
    yield buf.subarray(0, k * Q8_0_BLOCK_BYTES);
    done += k;
  }
}

function* onesF32Chunks(elements: number): Generator<Uint8Array> {
  yield new Uint8Array(new Float32Array(elements).fill(1).buffer);
}

function* zerosF32Chunks(elements: number): Generator<Uint8Array> {
  yield new Uint8Array(elements * 4);
}

function fileTypeOf(weightType: GgmlType): LlamaFileType {
  switch (weightType) {
    case GgmlType.F32:
      return LlamaFileType.ALL_F32;
    case GgmlType.F16:
      return LlamaFileType.MOSTLY_F16;
    case GgmlType.Q8_0:
      return LlamaFileType.MOSTLY_Q8_0;
    default:
      throw new RangeError(`unsupported synthetic weight type ${weightType}`);
  }
}

function buildTensors(p: SynthPreset, seed: number): GgufTensorSpec[] {
  if (p.architecture === "bert") return buildBertTensors(p, seed);
  const headDim = p.nEmbd / p.nHead;
  const nEmbdKv = headDim * p.nHeadKv;
  const tensors: GgufTensorSpec[] = [];
  const weight = (name: string, dims: number[]): void => {
    const elements = dims.reduce((a, b) => a * b, 1);
    const s = hashSeed(seed, name);
    const type = p.weightType;
    tensors.push({
      name,
      dims,
      type,
      data:
        type === GgmlType.Q8_0
          ? () => randomQ8_0Chunks(s, elements, p.weightStd)
          : () => randomFloatChunks(s, elements, p.weightStd, type === GgmlType.F16),
    });
  };
  const bias = (name: string, n: number): void => {
    const s = hashSeed(seed, name);
    tensors.push({ name, dims: [n], type: GgmlType.F32, data: () => randomFloatChunks(s, n, p.weightStd, false) });
  };
  const norm = (name: string): void => {
    tensors.push({ name, dims: [p.nEmbd], type: GgmlType.F32, data: () => onesF32Chunks(p.nEmbd) });
  };

  weight("token_embd.weight", [p.nEmbd, p.vocabSize]);
  for (let i = 0; i < p.nLayer; i++) {
    const b = `blk.${i}`;
    norm(`${b}.attn_norm.weight`);
    weight(`${b}.attn_q.weight`, [p.nEmbd, p.nEmbd]);
    if (p.qkvBias) bias(`${b}.attn_q.bias`, p.nEmbd);
    weight(`${b}.attn_k.weight`, [p.nEmbd, nEmbdKv]);
    if (p.qkvBias) bias(`${b}.attn_k.bias`, nEmbdKv);
    weight(`${b}.attn_v.weight`, [p.nEmbd, nEmbdKv]);
    if (p.qkvBias) bias(`${b}.attn_v.bias`, nEmbdKv);
    weight(`${b}.attn_output.weight`, [p.nEmbd, p.nEmbd]);
    norm(`${b}.ffn_norm.weight`);
    weight(`${b}.ffn_gate.weight`, [p.nEmbd, p.nFf]);
    weight(`${b}.ffn_up.weight`, [p.nEmbd, p.nFf]);
    weight(`${b}.ffn_down.weight`, [p.nFf, p.nEmbd]);
  }
  norm("output_norm.weight");
  if (!p.tiedEmbeddings) weight("output.weight", [p.nEmbd, p.vocabSize]);
  return tensors;
}

/**
 * A BERT encoder, as llama.cpp's `bert` architecture loads it: token, token-type and position
 * embeddings with a LayerNorm, then post-norm blocks (q/k/v/output with biases, LayerNorm,
 * GELU FFN up/down with biases, LayerNorm). No output head: the hidden states are the embeddings.
 */
function buildBertTensors(p: SynthPreset, seed: number): GgufTensorSpec[] {
  const tensors: GgufTensorSpec[] = [];
  const random = (name: string, dims: number[]): void => {
    const elements = dims.reduce((a, b) => a * b, 1);
    const s = hashSeed(seed, name);
    tensors.push({ name, dims, type: GgmlType.F32, data: () => randomFloatChunks(s, elements, p.weightStd, false) });
  };
  // Matrices in the preset's type (F32 or F16, as llama.cpp's converter writes them); biases,
  // norms and the token-type embeddings stay F32 (ggml adds those to F32 activations directly).
  const weight = (name: string, dims: number[]): void => {
    if (p.weightType === GgmlType.F32) return random(name, dims);
    if (p.weightType !== GgmlType.F16) throw new RangeError(`${p.name}: bert presets are F32 or F16`);
    const elements = dims.reduce((a, b) => a * b, 1);
    const s = hashSeed(seed, name);
    tensors.push({ name, dims, type: GgmlType.F16, data: () => randomFloatChunks(s, elements, p.weightStd, true) });
  };
  // LayerNorm: gamma 1, beta 0 (as a freshly initialised BERT).
  const layerNorm = (name: string): void => {
    tensors.push({ name: `${name}.weight`, dims: [p.nEmbd], type: GgmlType.F32, data: () => onesF32Chunks(p.nEmbd) });
    tensors.push({ name: `${name}.bias`, dims: [p.nEmbd], type: GgmlType.F32, data: () => zerosF32Chunks(p.nEmbd) });
  };

  weight("token_embd.weight", [p.nEmbd, p.vocabSize]);
  random("token_types.weight", [p.nEmbd, 2]);
  weight("position_embd.weight", [p.nEmbd, p.contextLength]);
  layerNorm("token_embd_norm");
  for (let i = 0; i < p.nLayer; i++) {
    const b = `blk.${i}`;
    for (const m of ["attn_q", "attn_k", "attn_v", "attn_output"]) {
      weight(`${b}.${m}.weight`, [p.nEmbd, p.nEmbd]);
      random(`${b}.${m}.bias`, [p.nEmbd]);
    }
    layerNorm(`${b}.attn_output_norm`);
    weight(`${b}.ffn_up.weight`, [p.nEmbd, p.nFf]);
    random(`${b}.ffn_up.bias`, [p.nFf]);
    weight(`${b}.ffn_down.weight`, [p.nFf, p.nEmbd]);
    random(`${b}.ffn_down.bias`, [p.nEmbd]);
    layerNorm(`${b}.layer_output_norm`);
  }
  return tensors;
}

/**
 * An SPM ("llama") vocabulary with no `<0xNN>` byte tokens and no scores. llama.cpp aborts the
 * whole process (SIGABRT, uncaught std::out_of_range) on such a vocabulary.
 */
function brokenSpmTokenizer(p: SynthPreset, seed: number): GgufKv[] {
  const tokens = ["<unk>", "<s>", "</s>"];
  const types = [LlamaTokenType.UNKNOWN, LlamaTokenType.CONTROL, LlamaTokenType.CONTROL];
  const seen = new Set(tokens);
  const add = (t: string): void => {
    if (tokens.length >= p.vocabSize || seen.has(t)) return;
    seen.add(t);
    tokens.push(t);
    types.push(LlamaTokenType.NORMAL);
  };
  const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'\"-:;()";
  for (const c of chars) add(c);
  for (const c of chars) add(`▁${c}`);
  const rng = new Xoshiro128(hashSeed(seed, "broken-spm"));
  const letters = "abcdefghijklmnopqrstuvwxyz";
  while (tokens.length < p.vocabSize) {
    let w = rng.nextInt(2) === 0 ? "▁" : "";
    const len = 2 + rng.nextInt(5);
    for (let i = 0; i < len; i++) w += letters[rng.nextInt(letters.length)];
    add(w);
  }
  return [
    kv.str("tokenizer.ggml.model", "llama"),
    kv.str("tokenizer.ggml.pre", "default"),
    kv.arr("tokenizer.ggml.tokens", GgufValueType.STRING, tokens),
    kv.arr("tokenizer.ggml.token_type", GgufValueType.INT32, Int32Array.from(types)),
    kv.u32("tokenizer.ggml.bos_token_id", 1),
    kv.u32("tokenizer.ggml.eos_token_id", 2),
    kv.u32("tokenizer.ggml.unknown_token_id", 0),
    // A chat template, so that servers treat it as a chat model and actually try to load it.
    kv.str("tokenizer.chat_template", CHATML_TOOLS_TEMPLATE),
  ];
}

/** The full GGUF spec (metadata + lazily generated tensors) of a synthetic model. */
export function synthesizeSpec(opts: SynthesizeOptions): GgufFileSpec {
  const p = SYNTH_PRESETS[opts.preset];
  if (!p) throw new RangeError(`unknown synthetic preset ${String(opts.preset)}`);
  const seed = opts.seed ?? DEFAULT_SYNTH_SEED;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer in [0, 2^32 - 1], got ${seed}`);
  }
  if (p.nEmbd % p.nHead !== 0 || p.nHead % p.nHeadKv !== 0) throw new RangeError(`bad head layout in ${p.name}`);
  const a = p.architecture;
  const metadata: GgufKv[] = [
    kv.str("general.architecture", a),
    kv.str("general.type", "model"),
    kv.str("general.name", p.displayName),
    kv.u32("general.file_type", fileTypeOf(p.weightType)),
    kv.u32("general.quantization_version", 2),
    kv.bool("llmux.synthetic", true),
    kv.u32("llmux.seed", seed),
    kv.str("llmux.preset", p.name),
    kv.u32(`${a}.context_length`, p.contextLength),
    kv.u32(`${a}.embedding_length`, p.nEmbd),
    kv.u32(`${a}.block_count`, p.nLayer),
    kv.u32(`${a}.feed_forward_length`, p.nFf),
    kv.u32(`${a}.attention.head_count`, p.nHead),
  ];
  if (a === "bert") {
    // An encoder: bidirectional attention, LayerNorm, learned positions (no RoPE), pooled output.
    metadata.push(
      kv.f32(`${a}.attention.layer_norm_epsilon`, p.rmsEps),
      kv.bool(`${a}.attention.causal`, false),
      kv.u32(`${a}.pooling_type`, p.poolingType ?? 1),
    );
  } else {
    metadata.push(
      kv.u32(`${a}.attention.head_count_kv`, p.nHeadKv),
      kv.f32(`${a}.attention.layer_norm_rms_epsilon`, p.rmsEps),
      kv.f32(`${a}.rope.freq_base`, p.ropeFreqBase),
    );
  }
  if (p.tokenizer === "gpt2") {
    metadata.push(...buildTokenizer({ vocabSize: p.vocabSize, seed, template: p.template ?? undefined }).metadata);
  } else if (p.tokenizer === "wordpiece") {
    metadata.push(...buildWordPieceTokenizer({ vocabSize: p.vocabSize, seed }).metadata);
  } else {
    metadata.push(...brokenSpmTokenizer(p, seed));
  }
  return { metadata, tensors: buildTensors(p, seed) };
}

/** Writes a synthetic model to `path` (via `path + ".tmp"` and a rename). */
export async function synthesizeModel(path: string, opts: SynthesizeOptions): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeGguf(path, synthesizeSpec(opts));
}
