import type { Db } from "./db.js";

/** One user's use of the inference API, from the audit log. */
export interface Usage {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  by_model: { model: string | null; requests: number; total_tokens: number }[];
  by_key: { api_key_id: string | null; requests: number; total_tokens: number }[];
}

/** Per-user request counts and tokens, read from the audit log (so users see only their own). */
export class UsageRepository {
  constructor(private readonly db: Db) {}

  async of(userId: string): Promise<Usage> {
    const base = this.db.selectFrom("audit_log").where("user_id", "=", userId);
    const totals = await base
      .select((eb) => [
        eb.fn.countAll<number>().as("requests"),
        eb.fn.sum<number>("prompt_tokens").as("prompt_tokens"),
        eb.fn.sum<number>("completion_tokens").as("completion_tokens"),
        eb.fn.sum<number>("total_tokens").as("total_tokens"),
      ])
      .executeTakeFirstOrThrow();
    const byModel = await base
      .select((eb) => ["model_requested as model", eb.fn.countAll<number>().as("requests"), eb.fn.sum<number>("total_tokens").as("total_tokens")])
      .groupBy("model_requested")
      .orderBy("requests", "desc")
      .execute();
    const byKey = await base
      .select((eb) => ["api_key_id", eb.fn.countAll<number>().as("requests"), eb.fn.sum<number>("total_tokens").as("total_tokens")])
      .groupBy("api_key_id")
      .orderBy("requests", "desc")
      .execute();
    const n = (v: unknown) => Number(v ?? 0);
    return {
      requests: n(totals.requests),
      prompt_tokens: n(totals.prompt_tokens),
      completion_tokens: n(totals.completion_tokens),
      total_tokens: n(totals.total_tokens),
      by_model: byModel.map((r) => ({ model: r.model, requests: n(r.requests), total_tokens: n(r.total_tokens) })),
      by_key: byKey.map((r) => ({ api_key_id: r.api_key_id, requests: n(r.requests), total_tokens: n(r.total_tokens) })),
    };
  }
}
