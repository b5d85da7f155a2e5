/**
 * Shapes of the synthetic models llmux can generate.
 */
import { GgmlType } from "../gguf/constants.js";
import type { ChatTemplateKind } from "./tokenizer.js";

export type SynthPresetName = "tiny" | "bench" | "tiny-think" | "broken-spm";

export interface SynthPreset {
  name: SynthPresetName;
  /** `general.name` written to the file. */
  displayName: string;
  architecture: "qwen2" | "llama";
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  nFf: number;
  contextLength: number;
  /** Total tokens, specials included. */
  vocabSize: number;
  ropeFreqBase: number;
  rmsEps: number;
  /** Type of the 2D weight matrices (norms and biases are always F32). */
  weightType: GgmlType.F32 | GgmlType.F16 | GgmlType.Q8_0;
  /** No `output.weight`: llama.cpp reuses `token_embd.weight` (like Qwen2.5-0.5B). */
  tiedEmbeddings: boolean;
  /** q/k/v biases (qwen2 has them). */
  qkvBias: boolean;
  /** "gpt2": a real byte-level BPE vocabulary; "broken-spm": an SPM vocabulary without byte tokens or scores. */
  tokenizer: "gpt2" | "broken-spm";
  template: ChatTemplateKind;
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
};
