import type { EngineConfig } from "../config.js";
import { withSpan } from "../observability/tracing-spans.js";
import type { ModelInfo } from "./gguf/model-info.js";
import { RunnerClient } from "./runner/runner-client.js";

/** One loaded model as the pool sees it. */
export interface LoadedModel {
  id: string;
  runner: RunnerClient;
  lastUsed: number;
  requestsServed: number;
}

/**
 * Loaded models, each in its own runner process. Loads on first use (concurrent
 * first requests share one load), forgets a runner that died so the next request
 * loads the model again, and unloads by ending the process.
 */
export class ModelPool {
  private readonly loaded = new Map<string, LoadedModel>();
  private readonly loading = new Map<string, Promise<LoadedModel>>();

  constructor(private readonly engine: EngineConfig) {}

  /** The runner for a model, loading it if needed, counted as one request served; rejects with `model_load_failed` on a bad file. */
  async acquire(info: ModelInfo): Promise<LoadedModel> {
    const model = await this.ensureLoaded(info);
    model.requestsServed++;
    return model;
  }

  /** The runner for a model, loading it if needed, without counting a request (token counting, preloads). */
  async ensureLoaded(info: ModelInfo): Promise<LoadedModel> {
    const ready = this.loaded.get(info.id);
    if (ready?.runner.alive) {
      ready.lastUsed = Date.now();
      return ready;
    }
    let pending = this.loading.get(info.id);
    if (!pending) {
      pending = this.load(info).finally(() => this.loading.delete(info.id));
      this.loading.set(info.id, pending);
    }
    const model = await pending;
    model.lastUsed = Date.now();
    return model;
  }

  private async load(info: ModelInfo): Promise<LoadedModel> {
    const runner = new RunnerClient(info.id);
    // A span only here: a model already loaded has no load to show.
    await withSpan("model.load", { "llmux.model": info.id }, () =>
      runner.start({
        modelPath: info.path,
        contextSize: Math.min(this.engine.contextSize, info.contextLength || this.engine.contextSize),
        parallel: this.engine.parallel,
        threads: this.engine.threads,
        useMmap: this.engine.useMmap,
        vocabSize: info.vocabSize,
      }),
    );
    const model: LoadedModel = { id: info.id, runner, lastUsed: Date.now(), requestsServed: 0 };
    this.loaded.set(info.id, model);
    runner.once("exit", () => {
      if (this.loaded.get(info.id) === model) this.loaded.delete(info.id);
    });
    return model;
  }

  list(): LoadedModel[] {
    return [...this.loaded.values()];
  }

  async unload(id: string): Promise<boolean> {
    const model = this.loaded.get(id);
    if (!model) return false;
    this.loaded.delete(id);
    await model.runner.stop();
    return true;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.loaded.keys()].map((id) => this.unload(id)));
  }
}
