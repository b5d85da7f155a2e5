/**
 * Messages between the server and an embedding runner process (one per loaded embedding model).
 * Plain JSON-compatible objects over Node's IPC channel; a request's inputs travel in one
 * message and its vectors come back in one message.
 */

export interface EmbedRunnerLoadOptions {
  modelPath: string;
  /** Tokens of context: the longest input (special tokens included) is one less. */
  contextSize: number;
  /** CPU threads for llama.cpp. */
  threads: number;
  /** Keep weights in anonymous memory instead of mapping the file. */
  useMmap: boolean;
  /** Tokens in the vocabulary (from the GGUF header): token-id inputs are checked against it. */
  vocabSize: number;
}

/** One input: text (tokenized in the runner, special-token text not parsed) or token ids. */
export type EmbedInput = string | number[];

export type ToEmbedRunner =
  | { t: "load"; options: EmbedRunnerLoadOptions }
  | { t: "embed"; id: number; inputs: EmbedInput[] }
  | { t: "cancel"; id: number }
  | { t: "shutdown" };

export type EmbedFailureCode = "context_length_exceeded" | "validation_failed" | "internal";

export type FromEmbedRunner =
  | { t: "loaded"; contextSize: number; dimensions: number; loadMs: number }
  | { t: "load_failed"; reason: string }
  | {
      t: "embedded";
      id: number;
      /** Vector length. */
      dimensions: number;
      /** All vectors, L2-normalised, back to back, as little-endian float32 bytes in base64 (exact and compact over JSON). */
      data: string;
      /** Tokens evaluated per input, `[CLS]`/`[SEP]` (or BOS/EOS) included. */
      tokenCounts: number[];
    }
  | { t: "failed"; id: number; code: EmbedFailureCode; message: string; param?: string };
