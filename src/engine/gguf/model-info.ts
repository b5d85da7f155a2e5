/**
 * Model facts from a GGUF header, without loading the model.
 */
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { GgmlType, LLAMA_POOLING_TYPE_NAMES, ggmlTypeName, llamaFileTypeName } from "./constants.js";
import { metaArray, metaBool, metaNumber, metaString, readGgufHeader } from "./reader.js";
import type { GgufHeader } from "./reader.js";

/** What a model can be used for, judged from its metadata. */
export interface ModelCapabilities {
  /** Has a chat template and is not an embedding-only architecture. */
  chat: boolean;
  /** Embedding-only architecture (bert family, t5encoder...) or a pooling type other than none. */
  embeddings: boolean;
  /** The chat template mentions `tools`. */
  tools: boolean;
  /** The chat template mentions `<think>`. */
  reasoning: boolean;
}

/**
 * Facts about a GGUF model read from its header.
 * Numeric hyper-parameters the file lacks are 0.
 */
export interface ModelInfo {
  /** File name without the `.gguf` extension. */
  id: string;
  /** Path as given to {@link readModelInfo}. */
  path: string;
  /** File size in bytes. */
  sizeBytes: number;
  /** Bytes of tensor data (the file less its header and metadata): what the weights take once loaded. */
  tensorBytes: number;
  /** `general.architecture`, e.g. "qwen2", "llama", "bert". */
  architecture: string;
  /** `general.name`, when set. */
  name?: string;
  /** Sum of all tensor element counts (tied embeddings count once). */
  parameterCount: number;
  /** `general.file_type` name ("Q8_0", "F16"...), else the type holding most weights of the 2D tensors. */
  quantization: string;
  /** Raw `general.file_type`, when set. */
  fileType?: number;
  /** `<arch>.context_length`: the trained context size. */
  contextLength: number;
  /** `<arch>.embedding_length`. */
  embeddingLength: number;
  /** `<arch>.block_count` (layers). */
  blockCount: number;
  /** `<arch>.attention.head_count` (first value when given per layer). */
  headCount: number;
  /** `<arch>.attention.head_count_kv`, defaulting to headCount. */
  headCountKv: number;
  /** `<arch>.attention.key_length`, defaulting to embeddingLength / headCount. */
  headDim: number;
  /** Number of tokens in `tokenizer.ggml.tokens` (else `<arch>.vocab_size`). */
  vocabSize: number;
  /** `tokenizer.ggml.model` ("gpt2", "llama"...), when set. */
  tokenizerModel?: string;
  /** `tokenizer.chat_template`, when set. */
  chatTemplate?: string;
  bosTokenId?: number;
  eosTokenId?: number;
  /** `tokenizer.ggml.eot_token_id`, when set. */
  eotTokenId?: number;
  /** `tokenizer.ggml.add_bos_token`, else llama.cpp's default for the tokenizer model. */
  addBosToken: boolean;
  /** `<arch>.pooling_type` as a name ("none", "mean", "cls", "last", "rank"), when set. */
  poolingType?: string;
  /** The file was made by llmux's synthesizer (`llmux.synthetic` = true). */
  synthetic: boolean;
  capabilities: ModelCapabilities;
}

/** Architectures that only produce embeddings (no text generation). */
export const EMBEDDING_ARCHITECTURES: ReadonlySet<string> = new Set([
  "bert",
  "modern-bert",
  "nomic-bert",
  "nomic-bert-moe",
  "neo-bert",
  "jina-bert-v2",
  "jina-bert-v3",
  "eurobert",
  "t5encoder",
  "gemma-embedding",
]);

function firstNumber(h: GgufHeader, key: string): number | undefined {
  const n = metaNumber(h, key);
  if (n !== undefined) return n;
  const arr = metaArray(h, key);
  const v = arr?.values?.[0];
  return typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : undefined;
}

function dominantTensorType(h: GgufHeader): string {
  const byType = new Map<number, number>();
  for (const t of h.tensors) {
    if (t.dims.filter((d) => d > 1).length < 2) continue;
    byType.set(t.type, (byType.get(t.type) ?? 0) + t.elements);
  }
  let best: number = GgmlType.F32;
  let bestCount = -1;
  for (const [type, count] of byType) {
    if (count > bestCount) {
      best = type;
      bestCount = count;
    }
  }
  return bestCount < 0 ? "unknown" : ggmlTypeName(best);
}

/** Derives {@link ModelInfo} from an already-read header. */
export function modelInfoFromHeader(h: GgufHeader, sizeBytes = h.fileSize): ModelInfo {
  const architecture = metaString(h, "general.architecture");
  if (!architecture) throw new Error(`${h.path}: GGUF file has no general.architecture`);
  const a = architecture;
  const fileType = metaNumber(h, "general.file_type");
  const chatTemplate = metaString(h, "tokenizer.chat_template");
  const tokenizerModel = metaString(h, "tokenizer.ggml.model");
  const poolingRaw = metaNumber(h, `${a}.pooling_type`);
  const poolingType = poolingRaw === undefined ? undefined : (LLAMA_POOLING_TYPE_NAMES[poolingRaw] ?? String(poolingRaw));
  const headCount = firstNumber(h, `${a}.attention.head_count`) ?? 0;
  const tokens = metaArray(h, "tokenizer.ggml.tokens");
  const embeddingOnly = EMBEDDING_ARCHITECTURES.has(architecture);
  const defaultAddBos = tokenizerModel === "llama" || tokenizerModel === "bert";
  const fileName = basename(h.path);
  return {
    id: fileName.toLowerCase().endsWith(".gguf") ? fileName.slice(0, -5) : fileName,
    path: h.path,
    sizeBytes,
    tensorBytes: Math.max(0, sizeBytes - h.dataOffset),
    architecture,
    name: metaString(h, "general.name"),
    parameterCount: h.totalElements,
    quantization: (fileType !== undefined ? llamaFileTypeName(fileType) : undefined) ?? dominantTensorType(h),
    fileType,
    contextLength: metaNumber(h, `${a}.context_length`) ?? 0,
    embeddingLength: metaNumber(h, `${a}.embedding_length`) ?? 0,
    blockCount: metaNumber(h, `${a}.block_count`) ?? 0,
    headCount,
    headCountKv: firstNumber(h, `${a}.attention.head_count_kv`) ?? headCount,
    headDim: metaNumber(h, `${a}.attention.key_length`) ?? (headCount > 0 ? Math.floor((metaNumber(h, `${a}.embedding_length`) ?? 0) / headCount) : 0),
    vocabSize: tokens?.length ?? metaNumber(h, `${a}.vocab_size`) ?? 0,
    tokenizerModel,
    chatTemplate,
    bosTokenId: metaNumber(h, "tokenizer.ggml.bos_token_id"),
    eosTokenId: metaNumber(h, "tokenizer.ggml.eos_token_id"),
    eotTokenId: metaNumber(h, "tokenizer.ggml.eot_token_id"),
    addBosToken: metaBool(h, "tokenizer.ggml.add_bos_token") ?? defaultAddBos,
    poolingType,
    synthetic: metaBool(h, "llmux.synthetic") === true,
    capabilities: {
      chat: chatTemplate !== undefined && chatTemplate.length > 0 && !embeddingOnly,
      embeddings: embeddingOnly || (poolingType !== undefined && poolingType !== "none"),
      tools: chatTemplate !== undefined && /\btools\b/.test(chatTemplate),
      reasoning: chatTemplate !== undefined && chatTemplate.includes("<think>"),
    },
  };
}

/** Reads a GGUF file's header and summarises it. Throws GgufFormatError for invalid files. */
export async function readModelInfo(path: string): Promise<ModelInfo> {
  const [header, st] = await Promise.all([readGgufHeader(path), stat(path)]);
  return modelInfoFromHeader(header, st.size);
}
