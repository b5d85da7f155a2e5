import type { Db } from "./db.js";

/** Default sampling a model gets when a request leaves a field out. */
export interface ModelSamplingDefaults {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  repeat_penalty?: number;
}

/**
 * One model's own settings (snake_case, as the admin API shows them). Load settings apply at the
 * model's next load; sampling and the system prompt at its next request. Absent: the server's default.
 */
export interface ModelSettings {
  context_size?: number;
  parallel?: number;
  threads?: number;
  gpu_layers?: number;
  sampling?: ModelSamplingDefaults;
  /** Put first when a request has no system message of its own. */
  system_prompt?: string;
}

/**
 * Per-model settings in the `model_settings` table, all held in memory after `load()` so the
 * engine reads them without a query on every request.
 */
export class ModelSettingsRepository {
  private cache = new Map<string, ModelSettings>();

  constructor(private readonly db: Db) {}

  async load(): Promise<void> {
    const rows = await this.db.selectFrom("model_settings").select(["model_id", "value"]).execute();
    this.cache = new Map(rows.map((r) => [r.model_id, JSON.parse(r.value) as ModelSettings]));
  }

  get(modelId: string): ModelSettings {
    return this.cache.get(modelId) ?? {};
  }

  /** Replaces a model's settings (an empty object clears them). */
  async put(modelId: string, settings: ModelSettings): Promise<ModelSettings> {
    const json = JSON.stringify(settings);
    const now = Date.now();
    await this.db
      .insertInto("model_settings")
      .values({ model_id: modelId, value: json, updated_at: now })
      .onConflict((oc) => oc.column("model_id").doUpdateSet({ value: json, updated_at: now }))
      .execute();
    this.cache.set(modelId, settings);
    return settings;
  }
}
