import { mkdirSync, readdirSync, statSync, watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { LlmuxError } from "../errors/llmux-error.js";
import { readModelInfo, type ModelInfo } from "./gguf/model-info.js";

/** Model ids are file names: letters, digits, dot, dash, underscore; never a path. */
export const MODEL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const isValidModelId = (id: string): boolean => MODEL_ID_PATTERN.test(id) && !id.includes("..");

/** `name-00001-of-00003.gguf`: one part of a split set (llama.cpp loads the rest from the first). */
export const SPLIT_PART = /^(.+)-(\d{5})-of-(\d{5})\.gguf$/;

interface Entry {
  info: ModelInfo | null;
  /** Why the metadata could not be read (shown in listings; the model cannot be served). */
  error?: string;
  /** What the entry was read from: a change in any part's mtime or size re-reads it. */
  stamp: string;
  /** Every file of the model (all parts of a split set). */
  files: string[];
}

interface Candidate {
  id: string;
  /** Parts in order; one file for a plain GGUF. */
  files: { name: string; path: string; mtimeMs: number; size: number }[];
  /** A split set with missing parts. */
  missing?: string;
}

/**
 * The GGUF files in `<home>/models`, with metadata read from their headers
 * (weights are never loaded here). Re-reads a file only when it changed.
 * A split set (`x-00001-of-00003.gguf` …) is one model `x`, listed once.
 */
export class ModelRegistry {
  private entries = new Map<string, Entry>();

  constructor(readonly modelsDir: string) {
    mkdirSync(modelsDir, { recursive: true });
  }

  /** Rescans the folder; cheap when nothing changed (one stat per file). */
  async refresh(): Promise<void> {
    const next = new Map<string, Entry>();
    for (const c of this.scan()) {
      const stamp = c.files.map((f) => `${f.name}:${f.mtimeMs}:${f.size}`).join("|");
      const old = this.entries.get(c.id);
      if (old && old.stamp === stamp) {
        next.set(c.id, old);
        continue;
      }
      const files = c.files.map((f) => f.path);
      if (c.missing) {
        next.set(c.id, { info: null, error: c.missing, stamp, files });
        continue;
      }
      const first = c.files[0];
      try {
        const info = await readModelInfo(first.path);
        const rest = c.files.slice(1).reduce((n, f) => n + f.size, 0);
        next.set(c.id, { info: { ...info, id: c.id, sizeBytes: info.sizeBytes + rest, tensorBytes: info.tensorBytes + rest }, stamp, files });
      } catch (err) {
        // Name the file, not where the home folder is.
        const error = (err as Error).message.replaceAll(first.path, first.name);
        next.set(c.id, { info: null, error, stamp, files });
      }
    }
    this.entries = next;
  }

  /** The folder's models: plain files, and split sets grouped by their base name. */
  private scan(): Candidate[] {
    const plain: Candidate[] = [];
    const splits = new Map<string, { total: number; parts: Map<number, Candidate["files"][number]> }>();
    for (const name of readdirSync(this.modelsDir)) {
      if (!name.endsWith(".gguf")) continue;
      const path = join(this.modelsDir, name);
      let st;
      try {
        st = statSync(path);
      } catch {
        continue;
      }
      if (!st.isFile()) continue;
      const file = { name, path, mtimeMs: st.mtimeMs, size: st.size };
      const m = SPLIT_PART.exec(name);
      if (m && Number(m[3]) > 1) {
        if (!isValidModelId(m[1])) continue;
        let set = splits.get(m[1]);
        if (!set) splits.set(m[1], (set = { total: Number(m[3]), parts: new Map() }));
        set.parts.set(Number(m[2]), file);
        continue;
      }
      const id = name.slice(0, -".gguf".length);
      if (isValidModelId(id)) plain.push({ id, files: [file] });
    }
    for (const [id, set] of splits) {
      if (plain.some((p) => p.id === id)) continue; // a plain file of the same name wins
      const files = [...set.parts.entries()].sort((a, b) => a[0] - b[0]).map(([, f]) => f);
      const complete = files.length === set.total && files.every((_, i) => set.parts.has(i + 1));
      plain.push({ id, files, missing: complete ? undefined : `split set incomplete: ${files.length} of ${set.total} parts present` });
    }
    return plain;
  }

  /** The files a model is made of (every part of a split set); empty when unknown. */
  files(id: string): string[] {
    return this.entries.get(id)?.files ?? [];
  }

  /**
   * Watches the folder and rescans (debounced) when files come or go, so a GGUF copied in
   * appears and a removed one disappears without a request having to miss first.
   * `onChange` runs after each rescan. Returns a function that stops watching.
   */
  watch(onChange: () => void = () => {}, debounceMs = 250): () => void {
    let timer: NodeJS.Timeout | undefined;
    let watcher: FSWatcher;
    const fire = () => {
      timer = undefined;
      this.refresh().then(onChange, () => {});
    };
    try {
      watcher = watch(this.modelsDir, { persistent: false }, () => {
        clearTimeout(timer);
        timer = setTimeout(fire, debounceMs);
      });
      watcher.on("error", () => {}); // the folder went away: the rescan on a miss still works
    } catch {
      return () => {};
    }
    return () => {
      clearTimeout(timer);
      watcher.close();
    };
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
