/**
 * Messages between the server and a model runner process (one per loaded model).
 * Plain JSON-compatible objects sent over Node's IPC channel.
 */

export interface RunnerLoadOptions {
  modelPath: string;
  /** Tokens of context per parallel sequence. */
  contextSize: number;
  /** Parallel sequences decoded together (continuous batching). */
  parallel: number;
  /** CPU threads for llama.cpp. */
  threads: number;
  /** Keep weights in anonymous memory instead of mapping the file (faster decode on small machines). */
  useMmap: boolean;
  gpuLayers?: number;
  /** Tokens in the vocabulary (from the GGUF header). */
  vocabSize: number;
}

export interface RunnerSampling {
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  repeatPenalty?: number;
}

/** Constrained decoding: the output is `prefix`, then JSON valid against `schema`, then `suffix`. */
export interface RunnerGrammar {
  schema: Record<string, unknown>;
  prefix: string;
  suffix: string;
}

export interface GenerateParams {
  /** Rendered prompt text; special tokens in it are parsed as such. */
  prompt: string;
  maxTokens?: number;
  stop: string[];
  sampling: RunnerSampling;
  grammar?: RunnerGrammar;
}

export type ToRunner =
  | { t: "load"; options: RunnerLoadOptions }
  | { t: "generate"; id: number; params: GenerateParams }
  | { t: "cancel"; id: number }
  | { t: "tokenize"; id: number; text: string }
  | { t: "stats"; id: number }
  | { t: "shutdown" };

export type RunnerFinish = "stop" | "stop_sequence" | "length";

/** Where a generation's time went in the runner, in milliseconds (its own clock: durations only). */
export interface RunnerTimings {
  /** Submitted until a sequence was free and the prompt went in. */
  queueMs: number;
  /** Prompt evaluation and the first token. */
  prefillMs: number;
  /** Every later token. */
  decodeMs: number;
}

export interface RunnerStats {
  rssBytes: number;
  busySlots: number;
  queued: number;
  parallel: number;
  contextSize: number;
}

/** Sent from the runner as arrays (`FromRunner[]`), one per event-loop turn. */
export type FromRunner =
  | { t: "loaded"; contextSize: number; parallel: number; rssBytes: number; loadMs: number }
  | { t: "load_failed"; reason: string }
  | { t: "started"; id: number; promptTokens: number }
  | { t: "text"; id: number; text: string }
  | {
      t: "done";
      id: number;
      finish: RunnerFinish;
      stopSequence?: string;
      promptTokens: number;
      completionTokens: number;
      timings?: RunnerTimings;
    }
  | { t: "failed"; id: number; code: "context_length_exceeded" | "internal" | "validation_failed"; message: string }
  | { t: "tokens"; id: number; count: number }
  | { t: "stats"; id: number; stats: RunnerStats };
