/**
 * Shapes of the synthetic models llmux can generate.
 */
import { GgmlType } from "../gguf/constants.js";
import type { ChatTemplateKind } from "./tokenizer.js";

export type SynthPresetName = "tiny" | "bench" | "tiny-think" | "broken-spm" | "tiny-embed" | "bench-embed";

export interface SynthPreset {
  name: SynthPresetName;
  /** `general.name` written to the file. */
  displayName: string;
  /** "bert": an embedding-only encoder (WordPiece vocabulary, mean pooling, no chat template). */
  architecture: "qwen2" | "llama" | "bert";
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  nFf: number;
  contextLength: number;
  /** Total tokens, specials included. */
  vocabSize: number;
  ropeFreqBase: number;
  /** RMS norm epsilon (qwen2, llama); the LayerNorm epsilon for bert. */
  rmsEps: number;
  /** Type of the 2D weight matrices (norms and biases are always F32). */
  weightType: GgmlType.F32 | GgmlType.F16 | GgmlType.Q8_0;
  /** No `output.weight`: llama.cpp reuses `token_embd.weight` (like Qwen2.5-0.5B). */
  tiedEmbeddings: boolean;
  /** q/k/v biases (qwen2 has them). */
  qkvBias: boolean;
  /**
   * "gpt2": a real byte-level BPE vocabulary; "broken-spm": an SPM vocabulary without byte tokens or scores;
   * "wordpiece": a real BERT WordPiece vocabulary.
   */
  tokenizer: "gpt2" | "broken-spm" | "wordpiece";
  /** The chat template to embed; null: none (embedding models). */
  template: ChatTemplateKind | null;
  /** `<arch>.pooling_type` (1 = mean), for embedding models. */
  poolingType?: number;
  /** Std of the random weights. */
  weightStd: number;
}

const TINY: SynthPreset = {
  name: "tiny",
  displayName: "llmux synthetic tiny",
  architecture: "qwen2",
  nEmbd: 64,
  nLayer: 2,
  nHead: 4,
  nHeadKv: 2,
  nFf: 192,
  contextLength: 4096,
  vocabSize: 2000,
  ropeFreqBase: 1_000_000,
  rmsEps: 1e-6,
  weightType: GgmlType.F32,
  tiedEmbeddings: false,
  qkvBias: true,
  tokenizer: "gpt2",
  template: "tools",
  weightStd: 0.02,
};

export const SYNTH_PRESETS: Readonly<Record<SynthPresetName, SynthPreset>> = {
  tiny: TINY,
  "tiny-think": { ...TINY, name: "tiny-think", displayName: "llmux synthetic tiny (think)", template: "think" },
  bench: {
    name: "bench",
    displayName: "llmux synthetic bench (Qwen2.5-0.5B shape)",
    architecture: "qwen2",
    nEmbd: 896,
    nLayer: 24,
    nHead: 14,
    nHeadKv: 2,
    nFf: 4864,
    contextLength: 32768,
    vocabSize: 151936,
    ropeFreqBase: 1_000_000,
    rmsEps: 1e-6,
    weightType: GgmlType.Q8_0,
    tiedEmbeddings: true,
    qkvBias: true,
    tokenizer: "gpt2",
    template: "tools",
    weightStd: 0.02,
  },
  "broken-spm": {
    ...TINY,
    name: "broken-spm",
    displayName: "llmux synthetic broken SPM vocab",
    architecture: "llama",
    vocabSize: 512,
    ropeFreqBase: 10000,
    rmsEps: 1e-5,
    qkvBias: false,
    tokenizer: "broken-spm",
  },
  "tiny-embed": {
    name: "tiny-embed",
    displayName: "llmux synthetic tiny embedding (BERT)",
    architecture: "bert",
    nEmbd: 64,
    nLayer: 2,
    nHead: 4,
    nHeadKv: 4,
    nFf: 256,
    contextLength: 512,
    vocabSize: 1024,
    ropeFreqBase: 0,
    rmsEps: 1e-12,
    weightType: GgmlType.F32,
    tiedEmbeddings: false,
    qkvBias: true,
    tokenizer: "wordpiece",
    template: null,
    poolingType: 1,
    weightStd: 0.02,
  },
  "bench-embed": {
    // bge-small-en-v1.5's shape (the common small embedding model), so embedding benchmarks do
    // real work: ~33M parameters, F16 like its usual GGUF, mean pooling.
    name: "bench-embed",
    displayName: "llmux synthetic bench embedding (bge-small-en-v1.5 shape)",
    architecture: "bert",
    nEmbd: 384,
    nLayer: 12,
    nHead: 12,
    nHeadKv: 12,
    nFf: 1536,
    contextLength: 512,
    vocabSize: 30522,
    ropeFreqBase: 0,
    rmsEps: 1e-12,
    weightType: GgmlType.F16,
    tiedEmbeddings: false,
    qkvBias: true,
    tokenizer: "wordpiece",
    template: null,
    poolingType: 1,
    weightStd: 0.02,
  },
};
