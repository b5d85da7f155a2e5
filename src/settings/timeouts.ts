import { LlmuxError } from "../errors/llmux-error.js";
import type { SettingsRepository } from "../store/settings-repo.js";

/** Endpoints with their own timeout. */
export const TIMEOUT_ENDPOINTS = ["chat", "messages", "completions", "embeddings"] as const;
export type TimeoutEndpoint = (typeof TIMEOUT_ENDPOINTS)[number];
export type Timeouts = Record<TimeoutEndpoint, number>;

/** Seconds; a timeout covers the whole request, streaming included. */
export const DEFAULT_TIMEOUTS: Timeouts = { chat: 900, messages: 900, completions: 600, embeddings: 120 };
export const TIMEOUT_BOUNDS = { min: 1, max: 7200 } as const;

const KEY = "timeouts";

/**
 * Per-endpoint timeouts, stored in the settings table and held in memory: a change
 * through the admin API applies to the next request, without a restart.
 */
export class TimeoutSettings {
  private current: Timeouts = { ...DEFAULT_TIMEOUTS };

  constructor(private readonly repo: SettingsRepository) {}

  async load(): Promise<void> {
    const stored = await this.repo.get<Partial<Timeouts>>(KEY);
    this.current = { ...DEFAULT_TIMEOUTS, ...(stored ?? {}) };
  }

  get(endpoint: TimeoutEndpoint): number {
    return this.current[endpoint];
  }

  all(): Timeouts {
    return { ...this.current };
  }

  /** Validates every value (1 s to 2 h), then stores and applies them together. */
  async update(patch: Partial<Record<string, unknown>>): Promise<Timeouts> {
    const next = { ...this.current };
    const errors = [];
    for (const [k, v] of Object.entries(patch)) {
      if (!(TIMEOUT_ENDPOINTS as readonly string[]).includes(k)) errors.push({ field: k, message: `unknown endpoint; use ${TIMEOUT_ENDPOINTS.join(", ")}` });
      else if (typeof v !== "number" || !Number.isFinite(v) || v < TIMEOUT_BOUNDS.min || v > TIMEOUT_BOUNDS.max) {
        errors.push({ field: k, message: `seconds between ${TIMEOUT_BOUNDS.min} and ${TIMEOUT_BOUNDS.max}` });
      } else next[k as TimeoutEndpoint] = v;
    }
    if (errors.length > 0) {
      throw new LlmuxError("validation_failed", `invalid '${errors[0].field}': ${errors[0].message}`, { param: errors[0].field, fieldErrors: errors });
    }
    await this.repo.set(KEY, next);
    this.current = next;
    return this.all();
  }
}
