import type { EngineConfig } from "../../config.js";
import { LlmuxError } from "../../errors/llmux-error.js";
import type { ModelInfo } from "../gguf/model-info.js";
import type { ModelRegistry } from "../model-registry.js";
import { EmbedRunnerClient } from "./embed-runner-client.js";

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

interface LoadedEmbedder {
  id: string;
  /** The registry's facts it was loaded from: the registry re-reads a changed file into a new object, which gets a fresh runner. */
  info: ModelInfo;
  runner: EmbedRunnerClient;
  lastUsed: number;
}

/**
 * Embeddings from local GGUF models, each embedding model in its own runner process
 * (loaded on first use, concurrent first requests share the load, reloaded after a crash).
 * Models come from the {@link ModelRegistry}; a model whose metadata says it cannot embed
 * is refused before anything is loaded.
 */
export class EmbeddingService implements EmbeddingBackend {
  private readonly loaded = new Map<string, LoadedEmbedder>();
  private readonly loading = new Map<string, Promise<LoadedEmbedder>>();
  private closed = false;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly engine: EngineConfig,
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
    const loaded = await this.acquire(info);
    const dims = loaded.runner.info?.dimensions ?? info.embeddingLength;
    if (options.dimensions !== undefined && options.dimensions !== dims) {
      throw new LlmuxError(
        "unsupported_parameter",
        `'dimensions' ${options.dimensions} is not supported by model '${info.id}': its embeddings have ${dims} dimensions (omit 'dimensions' or pass ${dims})`,
        { param: "dimensions" },
      );
    }
    const { vectors, tokenCounts } = await loaded.runner.embed(inputs, options.signal);
    return { vectors, tokenCounts, promptTokens: tokenCounts.reduce((a, b) => a + b, 0), model: info.id };
  }

  /** Loaded embedding models. */
  list(): { id: string; pid?: number; lastUsed: number; dimensions?: number }[] {
    return [...this.loaded.values()].map((m) => ({ id: m.id, pid: m.runner.pid, lastUsed: m.lastUsed, dimensions: m.runner.info?.dimensions }));
  }

  /** Ends a model's runner. */
  async unload(id: string): Promise<boolean> {
    const model = this.loaded.get(id);
    if (!model) return false;
    this.loaded.delete(id);
    await model.runner.stop();
    return true;
  }

  /** Ends every runner (and those still loading); later requests get `shutting_down`. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.loading.values()]);
    await Promise.all([...this.loaded.keys()].map((id) => this.unload(id)));
  }

  private async acquire(info: ModelInfo): Promise<LoadedEmbedder> {
    const ready = this.loaded.get(info.id);
    if (ready?.runner.alive && ready.info === info) {
      ready.lastUsed = Date.now();
      return ready;
    }
    if (ready) await this.unload(info.id);
    let pending = this.loading.get(info.id);
    if (!pending) {
      pending = this.load(info).finally(() => this.loading.delete(info.id));
      this.loading.set(info.id, pending);
    }
    const model = await pending;
    model.lastUsed = Date.now();
    return model;
  }

  private async load(info: ModelInfo): Promise<LoadedEmbedder> {
    const runner = new EmbedRunnerClient(info.id);
    await runner.start({
      modelPath: info.path,
      contextSize: Math.min(this.engine.contextSize, info.contextLength || this.engine.contextSize),
      threads: this.engine.threads,
      useMmap: this.engine.useMmap,
      vocabSize: info.vocabSize,
    });
    if (this.closed) {
      await runner.stop();
      throw new LlmuxError("shutting_down", "the server is shutting down");
    }
    const model: LoadedEmbedder = { id: info.id, info, runner, lastUsed: Date.now() };
    this.loaded.set(info.id, model);
    runner.once("exit", () => {
      if (this.loaded.get(info.id) === model) this.loaded.delete(info.id);
    });
    return model;
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
