/**
 * What a chat model will cost in memory once loaded, from its GGUF header alone.
 * The parts follow what llama.cpp allocates (its load log names the same buffers):
 * the weights, the KV cache for every slot's context, the output (logits) buffer,
 * the compute buffer reserved for one micro-batch, and the runner process itself.
 */
import type { ModelInfo } from "../gguf/model-info.js";

/** Memory of a runner process before any model is in it (Node, the llama.cpp addon), measured on Linux x64. */
export const RUNNER_BASE_BYTES = 150 * 2 ** 20;

/** Tokens of one micro-batch: node-llama-cpp's default batch, `min(context × sequences, 512)`. */
const MAX_UBATCH = 512;

export interface MemoryEstimate {
  /** Tensor data (the file less its header). */
  weightsBytes: number;
  /** K and V in f16 for `contextSize × parallel` cells. */
  kvCacheBytes: number;
  /** Logits output buffer and the compute buffer of one micro-batch. */
  computeBytes: number;
  /** The runner process without a model. */
  runtimeBytes: number;
  totalBytes: number;
}

export interface LoadShape {
  /** Context tokens per slot. */
  contextSize: number;
  /** Slots (parallel sequences). */
  parallel: number;
  /**
   * Tokens evaluated in one batch; node-llama-cpp's default (at most 512) when absent. An
   * embedding context evaluates a whole input at once (encoders need it), so it is the context size.
   */
  batchSize?: number;
}

/**
 * Estimates a model's memory for a context shape. Errs high: the compute buffer is
 * reserved for the worst micro-batch (full logits or the attention scores of a
 * full batch over the whole cache, whichever is larger), which RSS only reaches
 * when such a batch runs.
 */
export function estimateModelMemory(info: ModelInfo, shape: LoadShape): MemoryEstimate {
  const cells = shape.contextSize * shape.parallel;
  const headDim = info.headDim || (info.headCount > 0 ? info.embeddingLength / info.headCount : 0);
  const kvCacheBytes = 2 * info.blockCount * cells * info.headCountKv * headDim * 2;
  const ubatch = Math.min(cells, shape.batchSize ?? MAX_UBATCH);
  const logits = info.vocabSize * ubatch * 4;
  const attention = info.headCount * ubatch * cells * 4;
  // Hidden states and the FFN's intermediate of one micro-batch, a few alive at once.
  const activations = ubatch * info.embeddingLength * 4 * 8;
  const outputBytes = info.vocabSize * shape.parallel * 4;
  const computeBytes = Math.max(logits, attention) + activations + outputBytes;
  const weightsBytes = info.tensorBytes;
  const runtimeBytes = RUNNER_BASE_BYTES;
  return { weightsBytes, kvCacheBytes, computeBytes, runtimeBytes, totalBytes: weightsBytes + kvCacheBytes + computeBytes + runtimeBytes };
}

/**
 * The JS heap an embedding runner needs for one request in flight: the inputs arrive in one
 * IPC message (up to 2,048 inputs, an 8 MB body), are tokenized all at once, and the vectors
 * go back in one message. Measured on the tiny-embed model: 2,048 inputs of ~500 tokens
 * raised the runner's RSS by ~31 MB over idle.
 */
export const EMBED_REQUEST_BYTES = 48 * 2 ** 20;

/**
 * Estimates an embedding model's memory in its runner: one sequence of `contextSize`, the
 * whole input evaluated in one batch (encoders need it), and one request's buffers.
 */
export function estimateEmbeddingMemory(info: ModelInfo, contextSize: number): MemoryEstimate {
  const e = estimateModelMemory(info, { contextSize, parallel: 1, batchSize: contextSize });
  const runtimeBytes = e.runtimeBytes + EMBED_REQUEST_BYTES;
  return { ...e, runtimeBytes, totalBytes: e.totalBytes + EMBED_REQUEST_BYTES };
}
