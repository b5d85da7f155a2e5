import { LlmuxError } from "../../errors/llmux-error.js";
import type { ModelPool } from "../model-pool.js";
import type { ModelRegistry } from "../model-registry.js";

/** Options of one embedding request. */
export interface EmbedOptions {
  /** Aborting it (client gone) drops the request; the runner skips the inputs it has not evaluated. */
  signal?: AbortSignal;
  /** The vector length the client asked for: only the model's own dimension is accepted (no truncation). */
  dimensions?: number;
}

/** Vectors for one request, in input order. */
export interface EmbeddingResult {
  /** One L2-normalised vector per input. */
  vectors: Float32Array[];
  /** Sum of the inputs' token counts, as evaluated (`[CLS]`/`[SEP]` or BOS/EOS included). */
  promptTokens: number;
  /** Token count of each input. */
  tokenCounts: number[];
  /** The model id that produced them. */
  model: string;
}

/**
 * What an embeddings route needs: models by id, text or token-id inputs, unit vectors.
 * Implemented by the local engine ({@link EmbeddingService}); a cloud provider could be another.
 */
export interface EmbeddingBackend {
  embed(modelId: string, inputs: string[] | number[][], options?: EmbedOptions): Promise<EmbeddingResult>;
}

/**
 * Embeddings from local GGUF models. Each embedding model runs in its own embedding runner
 * process held by the {@link ModelPool}: it counts against the same memory budget and model
 * count as chat models, is evicted when idle to make room (never while a request holds it),
 * and is reloaded after a crash. Models come from the {@link ModelRegistry}; a model whose
 * metadata says it cannot embed is refused before anything is loaded.
 */
export class EmbeddingService implements EmbeddingBackend {
  private closed = false;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly pool: ModelPool,
  ) {}

  async embed(modelId: string, inputs: string[] | number[][], options: EmbedOptions = {}): Promise<EmbeddingResult> {
    if (this.closed) throw new LlmuxError("shutting_down", "the server is shutting down");
    if (inputs.length === 0) throw invalidInput("input", "must hold at least one input");
    const info = await this.registry.get(modelId);
    if (!info.capabilities.embeddings) {
      throw new LlmuxError(
        "validation_failed",
        `model '${info.id}' cannot produce embeddings: it is a text generation model (architecture ${info.architecture}, no pooling); use an embedding model`,
        { param: "model" },
      );
    }
    checkInputs(inputs, info.vocabSize);
    options.signal?.throwIfAborted();
    const lease = await this.pool.acquireEmbedder(info);
    try {
      const dims = lease.runner.info?.dimensions ?? info.embeddingLength;
      if (options.dimensions !== undefined && options.dimensions !== dims) {
        throw new LlmuxError(
          "unsupported_parameter",
          `'dimensions' ${options.dimensions} is not supported by model '${info.id}': its embeddings have ${dims} dimensions (omit 'dimensions' or pass ${dims})`,
          { param: "dimensions" },
        );
      }
      const { vectors, tokenCounts } = await lease.runner.embed(inputs, options.signal);
      return { vectors, tokenCounts, promptTokens: tokenCounts.reduce((a, b) => a + b, 0), model: info.id };
    } finally {
      lease.release();
    }
  }

  /** Loaded embedding models. */
  list(): { id: string; pid?: number; lastUsed: number; dimensions?: number }[] {
    return this.pool.listEmbedders();
  }

  /** Ends a model's embedding runner (even while it serves: those requests fail). */
  unload(id: string): Promise<boolean> {
    return this.pool.unload(id, { kind: "embedding", force: true });
  }

  /** Ends every embedding runner; later requests get `shutting_down`. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.list().map((m) => this.unload(m.id)));
  }
}

const invalidInput = (field: string, message: string): LlmuxError =>
  new LlmuxError("validation_failed", `invalid '${field}': ${message}`, { param: field, fieldErrors: [{ field, message }] });

/** Empty inputs and token ids outside the vocabulary are the client's error, named by index. */
function checkInputs(inputs: string[] | number[][], vocabSize: number): void {
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i];
    if (input.length === 0) throw invalidInput(`input.${i}`, typeof input === "string" ? "must not be an empty string" : "must not be an empty token array");
    if (typeof input === "string") continue;
    for (let j = 0; j < input.length; j++) {
      const t = input[j];
      if (!Number.isInteger(t) || t < 0 || (vocabSize > 0 && t >= vocabSize)) {
        throw invalidInput(`input.${i}.${j}`, `${t} is not a token id of this model (0..${vocabSize - 1})`);
      }
    }
  }
}
