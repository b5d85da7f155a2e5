/**
 * GGUF format constants: value types, ggml tensor types and `general.file_type` names.
 * Values match llama.cpp (ggml.h / llama.h) as shipped with node-llama-cpp 3.21.1.
 */

/** "GGUF" read as a little-endian uint32. */
export const GGUF_MAGIC = 0x46554747;
/** The GGUF version written by {@link writeGguf}; the reader accepts 2 and 3. */
export const GGUF_VERSION = 3;
/** Default tensor data alignment (`general.alignment`). */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Types of metadata values (`gguf_type`). */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Byte size of fixed-size metadata value types (strings and arrays are variable). */
export const GGUF_VALUE_TYPE_SIZE: Readonly<Partial<Record<GgufValueType, number>>> = {
  [GgufValueType.UINT8]: 1,
  [GgufValueType.INT8]: 1,
  [GgufValueType.UINT16]: 2,
  [GgufValueType.INT16]: 2,
  [GgufValueType.UINT32]: 4,
  [GgufValueType.INT32]: 4,
  [GgufValueType.FLOAT32]: 4,
  [GgufValueType.BOOL]: 1,
  [GgufValueType.UINT64]: 8,
  [GgufValueType.INT64]: 8,
  [GgufValueType.FLOAT64]: 8,
};

export function isGgufValueType(t: number): t is GgufValueType {
  return Number.isInteger(t) && t >= 0 && t <= 12;
}

/** ggml tensor types (`ggml_type`). Gaps are types removed from ggml. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
  Q2_0 = 42,
}

/** Block size (elements per block) and byte size per block of each ggml type (from ggml's type_traits). */
export const GGML_TYPE_TRAITS: Readonly<Record<number, { name: string; blockSize: number; typeSize: number }>> = {
  [GgmlType.F32]: { name: "F32", blockSize: 1, typeSize: 4 },
  [GgmlType.F16]: { name: "F16", blockSize: 1, typeSize: 2 },
  [GgmlType.Q4_0]: { name: "Q4_0", blockSize: 32, typeSize: 18 },
  [GgmlType.Q4_1]: { name: "Q4_1", blockSize: 32, typeSize: 20 },
  [GgmlType.Q5_0]: { name: "Q5_0", blockSize: 32, typeSize: 22 },
  [GgmlType.Q5_1]: { name: "Q5_1", blockSize: 32, typeSize: 24 },
  [GgmlType.Q8_0]: { name: "Q8_0", blockSize: 32, typeSize: 34 },
  [GgmlType.Q8_1]: { name: "Q8_1", blockSize: 32, typeSize: 36 },
  [GgmlType.Q2_K]: { name: "Q2_K", blockSize: 256, typeSize: 84 },
  [GgmlType.Q3_K]: { name: "Q3_K", blockSize: 256, typeSize: 110 },
  [GgmlType.Q4_K]: { name: "Q4_K", blockSize: 256, typeSize: 144 },
  [GgmlType.Q5_K]: { name: "Q5_K", blockSize: 256, typeSize: 176 },
  [GgmlType.Q6_K]: { name: "Q6_K", blockSize: 256, typeSize: 210 },
  [GgmlType.Q8_K]: { name: "Q8_K", blockSize: 256, typeSize: 292 },
  [GgmlType.IQ2_XXS]: { name: "IQ2_XXS", blockSize: 256, typeSize: 66 },
  [GgmlType.IQ2_XS]: { name: "IQ2_XS", blockSize: 256, typeSize: 74 },
  [GgmlType.IQ3_XXS]: { name: "IQ3_XXS", blockSize: 256, typeSize: 98 },
  [GgmlType.IQ1_S]: { name: "IQ1_S", blockSize: 256, typeSize: 50 },
  [GgmlType.IQ4_NL]: { name: "IQ4_NL", blockSize: 32, typeSize: 18 },
  [GgmlType.IQ3_S]: { name: "IQ3_S", blockSize: 256, typeSize: 110 },
  [GgmlType.IQ2_S]: { name: "IQ2_S", blockSize: 256, typeSize: 82 },
  [GgmlType.IQ4_XS]: { name: "IQ4_XS", blockSize: 256, typeSize: 136 },
  [GgmlType.I8]: { name: "I8", blockSize: 1, typeSize: 1 },
  [GgmlType.I16]: { name: "I16", blockSize: 1, typeSize: 2 },
  [GgmlType.I32]: { name: "I32", blockSize: 1, typeSize: 4 },
  [GgmlType.I64]: { name: "I64", blockSize: 1, typeSize: 8 },
  [GgmlType.F64]: { name: "F64", blockSize: 1, typeSize: 8 },
  [GgmlType.IQ1_M]: { name: "IQ1_M", blockSize: 256, typeSize: 56 },
  [GgmlType.BF16]: { name: "BF16", blockSize: 1, typeSize: 2 },
  [GgmlType.TQ1_0]: { name: "TQ1_0", blockSize: 256, typeSize: 54 },
  [GgmlType.TQ2_0]: { name: "TQ2_0", blockSize: 256, typeSize: 66 },
  [GgmlType.MXFP4]: { name: "MXFP4", blockSize: 32, typeSize: 17 },
  [GgmlType.NVFP4]: { name: "NVFP4", blockSize: 64, typeSize: 36 },
  [GgmlType.Q1_0]: { name: "Q1_0", blockSize: 128, typeSize: 18 },
  [GgmlType.Q2_0]: { name: "Q2_0", blockSize: 64, typeSize: 18 },
};

/** Name of a ggml tensor type ("Q8_0"), or `"TYPE_<n>"` when unknown. */
export function ggmlTypeName(type: number): string {
  return GGML_TYPE_TRAITS[type]?.name ?? `TYPE_${type}`;
}

/**
 * Byte size of a tensor of `type` with `elements` elements.
 * Throws when the type is unknown or the element count is not a whole number of blocks.
 */
export function ggmlTensorByteSize(type: number, elements: number): number {
  const traits = GGML_TYPE_TRAITS[type];
  if (!traits) throw new RangeError(`unknown ggml tensor type ${type}`);
  if (!Number.isSafeInteger(elements) || elements < 0) throw new RangeError(`invalid element count ${elements}`);
  if (elements % traits.blockSize !== 0) {
    throw new RangeError(`${traits.name} needs a multiple of ${traits.blockSize} elements, got ${elements}`);
  }
  return (elements / traits.blockSize) * traits.typeSize;
}

/** `general.file_type` values (`llama_ftype`). */
export enum LlamaFileType {
  ALL_F32 = 0,
  MOSTLY_F16 = 1,
  MOSTLY_Q4_0 = 2,
  MOSTLY_Q4_1 = 3,
  MOSTLY_Q8_0 = 7,
  MOSTLY_Q5_0 = 8,
  MOSTLY_Q5_1 = 9,
  MOSTLY_Q2_K = 10,
  MOSTLY_Q3_K_S = 11,
  MOSTLY_Q3_K_M = 12,
  MOSTLY_Q3_K_L = 13,
  MOSTLY_Q4_K_S = 14,
  MOSTLY_Q4_K_M = 15,
  MOSTLY_Q5_K_S = 16,
  MOSTLY_Q5_K_M = 17,
  MOSTLY_Q6_K = 18,
  MOSTLY_IQ2_XXS = 19,
  MOSTLY_IQ2_XS = 20,
  MOSTLY_Q2_K_S = 21,
  MOSTLY_IQ3_XS = 22,
  MOSTLY_IQ3_XXS = 23,
  MOSTLY_IQ1_S = 24,
  MOSTLY_IQ4_NL = 25,
  MOSTLY_IQ3_S = 26,
  MOSTLY_IQ3_M = 27,
  MOSTLY_IQ2_S = 28,
  MOSTLY_IQ2_M = 29,
  MOSTLY_IQ4_XS = 30,
  MOSTLY_IQ1_M = 31,
  MOSTLY_BF16 = 32,
  MOSTLY_TQ1_0 = 36,
  MOSTLY_TQ2_0 = 37,
  MOSTLY_MXFP4_MOE = 38,
  MOSTLY_NVFP4 = 39,
  MOSTLY_Q1_0 = 40,
  MOSTLY_Q2_0 = 41,
}

/** Short display names of `general.file_type` values. */
export const LLAMA_FILE_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: "F32",
  1: "F16",
  2: "Q4_0",
  3: "Q4_1",
  7: "Q8_0",
  8: "Q5_0",
  9: "Q5_1",
  10: "Q2_K",
  11: "Q3_K_S",
  12: "Q3_K_M",
  13: "Q3_K_L",
  14: "Q4_K_S",
  15: "Q4_K_M",
  16: "Q5_K_S",
  17: "Q5_K_M",
  18: "Q6_K",
  19: "IQ2_XXS",
  20: "IQ2_XS",
  21: "Q2_K_S",
  22: "IQ3_XS",
  23: "IQ3_XXS",
  24: "IQ1_S",
  25: "IQ4_NL",
  26: "IQ3_S",
  27: "IQ3_M",
  28: "IQ2_S",
  29: "IQ2_M",
  30: "IQ4_XS",
  31: "IQ1_M",
  32: "BF16",
  36: "TQ1_0",
  37: "TQ2_0",
  38: "MXFP4_MOE",
  39: "NVFP4",
  40: "Q1_0",
  41: "Q2_0",
};

/** Display name of a `general.file_type` value, or undefined when unknown. */
export function llamaFileTypeName(fileType: number): string | undefined {
  return LLAMA_FILE_TYPE_NAMES[fileType];
}

/** llama.cpp token types (`tokenizer.ggml.token_type`). */
export enum LlamaTokenType {
  UNDEFINED = 0,
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

/** `<arch>.pooling_type` values. */
export const LLAMA_POOLING_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: "none",
  1: "mean",
  2: "cls",
  3: "last",
  4: "rank",
};
