import { envInt } from "../../util/env.js";
import { LlmuxError, type FieldError } from "../../errors/llmux-error.js";
import { isValidModelId } from "../model-registry.js";
import { parseBudget } from "./memory-budget.js";

/** The pool's limits as stored and as the admin API shows them. */
export interface PoolSettingsValue {
  /** As written: bytes ("8589934592"), a size ("8GB") or a share of memory ("50%"). */
  budget: string;
  /** Most models loaded at once. */
  maxModels: number;
  /** Seconds an idle model stays loaded; 0 keeps it until it must make room. */
  keepAliveS: number;
  /** Models loaded at start, never evicted and never unloaded for idleness. */
  pinned: string[];
}

/** Where the settings are kept: the settings table (`SettingsRepository` fits). */
export interface SettingsStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
}

export const POOL_LIMITS = { maxModels: { min: 1, max: 64 }, keepAliveS: { min: 0, max: 7 * 24 * 3600 } } as const;

const KEY = "pool";

/** Defaults: 75% of memory, 4 models, 5 minutes; `LLMUX_POOL_BUDGET`, `LLMUX_MAX_MODELS`, `LLMUX_KEEP_ALIVE` override them (a malformed value throws, naming it). */
export function defaultPoolSettings(env: NodeJS.ProcessEnv = process.env): PoolSettingsValue {
  const raw = env.LLMUX_POOL_BUDGET?.trim();
  if (raw) {
    const parsed = parseBudget(raw);
    if ("error" in parsed) throw new Error(`LLMUX_POOL_BUDGET: ${parsed.error}; not '${raw.slice(0, 40)}'`);
  }
  return {
    budget: raw || "75%",
    maxModels: envInt(env, "LLMUX_MAX_MODELS", POOL_LIMITS.maxModels.min, POOL_LIMITS.maxModels.max) ?? 4,
    keepAliveS: envInt(env, "LLMUX_KEEP_ALIVE", POOL_LIMITS.keepAliveS.min, POOL_LIMITS.keepAliveS.max, " seconds") ?? 300,
    pinned: [],
  };
}

/**
 * The pool's budget, model limit, keep-alive and pins, stored in the settings table and held
 * in memory: a change through the admin API applies at once (the pool reads them on every decision).
 */
export class PoolSettings {
  private value: PoolSettingsValue;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly store: SettingsStore,
    private readonly totalMemoryBytes?: number,
    defaults: PoolSettingsValue = defaultPoolSettings(),
  ) {
    this.value = defaults;
  }

  /** Reads the stored settings (a value that no longer parses is ignored, keeping the default). */
  async load(): Promise<void> {
    const stored = await this.store.get<Partial<PoolSettingsValue>>(KEY);
    if (!stored) return;
    const next = { ...this.value };
    if (typeof stored.budget === "string" && "bytes" in parseBudget(stored.budget, this.totalMemoryBytes)) next.budget = stored.budget;
    if (Number.isInteger(stored.maxModels)) next.maxModels = stored.maxModels!;
    if (Number.isInteger(stored.keepAliveS)) next.keepAliveS = stored.keepAliveS!;
    if (Array.isArray(stored.pinned)) next.pinned = stored.pinned.filter((p) => typeof p === "string" && isValidModelId(p));
    this.value = next;
  }

  get current(): Readonly<PoolSettingsValue> {
    return this.value;
  }

  get budgetBytes(): number {
    const r = parseBudget(this.value.budget, this.totalMemoryBytes);
    return "bytes" in r ? r.bytes : Number.MAX_SAFE_INTEGER;
  }

  /** Called after every change (the pool evicts to fit a smaller budget). */
  onChange(fn: () => void): void {
    this.listeners.add(fn);
  }

  /** Validates every field (errors name it, e.g. `budget`, `pinned.1`), then stores and applies them together. */
  async update(patch: { budget?: unknown; max_models?: unknown; keep_alive_s?: unknown; pinned?: unknown }): Promise<PoolSettingsValue> {
    const next = { ...this.value, pinned: [...this.value.pinned] };
    const errors: FieldError[] = [];
    if (patch.budget !== undefined) {
      if (typeof patch.budget !== "string" && typeof patch.budget !== "number") errors.push({ field: "budget", message: "expected a string such as '8GB' or '50%', or a number of bytes" });
      else {
        const r = parseBudget(patch.budget, this.totalMemoryBytes);
        if ("error" in r) errors.push({ field: "budget", message: r.error });
        else next.budget = String(patch.budget).trim();
      }
    }
    const intField = (field: string, v: unknown, lim: { min: number; max: number }, set: (n: number) => void) => {
      if (v === undefined) return;
      if (typeof v !== "number" || !Number.isInteger(v) || v < lim.min || v > lim.max) errors.push({ field, message: `expected an integer from ${lim.min} to ${lim.max}` });
      else set(v);
    };
    intField("max_models", patch.max_models, POOL_LIMITS.maxModels, (n) => (next.maxModels = n));
    intField("keep_alive_s", patch.keep_alive_s, POOL_LIMITS.keepAliveS, (n) => (next.keepAliveS = n));
    if (patch.pinned !== undefined) {
      if (!Array.isArray(patch.pinned) || patch.pinned.length > 64) errors.push({ field: "pinned", message: "expected an array of at most 64 model ids" });
      else {
        patch.pinned.forEach((p, i) => {
          if (typeof p !== "string" || !isValidModelId(p)) errors.push({ field: `pinned.${i}`, message: "expected a model id (letters, digits, '.', '-', '_')" });
        });
        next.pinned = [...new Set(patch.pinned as string[])];
      }
    }
    if (errors.length > 0) {
      throw new LlmuxError("validation_failed", `invalid '${errors[0].field}': ${errors[0].message}`, { param: errors[0].field, fieldErrors: errors });
    }
    await this.store.set(KEY, next);
    this.value = next;
    for (const fn of this.listeners) fn();
    return next;
  }

  /** Adds or removes one pin. */
  async setPinned(id: string, pinned: boolean): Promise<void> {
    const set = new Set(this.value.pinned);
    if (pinned) set.add(id);
    else set.delete(id);
    await this.update({ pinned: [...set] });
  }
}
