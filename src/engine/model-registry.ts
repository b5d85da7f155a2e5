import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { LlmuxError } from "../errors/llmux-error.js";
import { readModelInfo, type ModelInfo } from "./gguf/model-info.js";

/** Model ids are file names: letters, digits, dot, dash, underscore; never a path. */
export const MODEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const isValidModelId = (id: string): boolean => MODEL_ID_PATTERN.test(id) && !id.includes("..");

interface Entry {
  info: ModelInfo | null;
  /** Why the metadata could not be read (shown in listings; the model cannot be served). */
  error?: string;
  mtimeMs: number;
  size: number;
}

/**
 * The GGUF files in `<home>/models`, with metadata read from their headers
 * (weights are never loaded here). Re-reads a file only when it changed.
 */
export class ModelRegistry {
  private entries = new Map<string, Entry>();

  constructor(readonly modelsDir: string) {
    mkdirSync(modelsDir, { recursive: true });
  }

  /** Rescans the folder; cheap when nothing changed (one stat per file). */
  async refresh(): Promise<void> {
    const next = new Map<string, Entry>();
    for (const name of readdirSync(this.modelsDir)) {
      if (!name.endsWith(".gguf")) continue;
      const id = name.slice(0, -".gguf".length);
      if (!isValidModelId(id)) continue;
      const path = join(this.modelsDir, name);
      let st;
      try {
        st = statSync(path);
      } catch {
        continue;
      }
      if (!st.isFile()) continue;
      const old = this.entries.get(id);
      if (old && old.mtimeMs === st.mtimeMs && old.size === st.size) {
        next.set(id, old);
        continue;
      }
      try {
        next.set(id, { info: await readModelInfo(path), mtimeMs: st.mtimeMs, size: st.size });
      } catch (err) {
        // Name the file, not where the home folder is.
        const error = (err as Error).message.replaceAll(path, name);
        next.set(id, { info: null, error, mtimeMs: st.mtimeMs, size: st.size });
      }
    }
    this.entries = next;
  }

  /** Models whose metadata could be read. */
  list(): ModelInfo[] {
    return [...this.entries.values()].flatMap((e) => (e.info ? [e.info] : [])).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Files that are not readable GGUF models, with the reason. */
  unreadable(): { id: string; error: string }[] {
    return [...this.entries.entries()].flatMap(([id, e]) => (e.info ? [] : [{ id, error: e.error ?? "unreadable" }]));
  }

  /** Finds a model, rescanning once on a miss so files copied in by hand are found. */
  async get(id: string): Promise<ModelInfo> {
    if (!isValidModelId(id)) throw new LlmuxError("model_not_found", `model '${truncate(id)}' does not exist`, { param: "model" });
    let entry = this.entries.get(id);
    if (!entry) {
      await this.refresh();
      entry = this.entries.get(id);
    }
    if (!entry) throw new LlmuxError("model_not_found", `model '${id}' does not exist`, { param: "model" });
    if (!entry.info) throw new LlmuxError("model_load_failed", `model '${id}' is not a readable GGUF file: ${entry.error}`);
    return entry.info;
  }

  has(id: string): boolean {
    return this.entries.get(id)?.info != null;
  }
}

const truncate = (s: string): string => (s.length > 64 ? `${s.slice(0, 64)}…` : s);
