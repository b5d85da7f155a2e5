import { invalidField } from "../../errors/llmux-error.js";

/** A model as llmux lists it, whatever the protocol: its name, when it was made (seconds), and any metadata of llmux's own. */
export interface ListedModel {
  id: string;
  created: number;
  extra?: Record<string, unknown>;
}

/**
 * One model in Anthropic's shape (`GET /v1/models/{id}`): `type`, `id`, `display_name`,
 * `created_at` as RFC 3339. The display name is the id: llmux knows no other. llmux's own
 * metadata rides alongside, as in the OpenAI list (SDKs ignore extra fields).
 */
export function encodeAnthropicModel(m: ListedModel): Record<string, unknown> {
  return { type: "model", id: m.id, display_name: m.id, created_at: new Date(m.created * 1000).toISOString(), ...m.extra };
}

/** `limit` and the cursors of Anthropic's model list. */
export interface AnthropicPageQuery {
  limit?: unknown;
  after_id?: unknown;
  before_id?: unknown;
}

/**
 * One page of Anthropic's model list (`GET /v1/models`): up to `limit` (1–1000, 20 by default)
 * models after `after_id` or before `before_id`, in the list's order, with `has_more`,
 * `first_id` and `last_id` as the SDK's paginator reads them. A cursor naming no listed model
 * starts from the beginning (after) or the end (before) of the list.
 */
export function anthropicModelPage(models: ListedModel[], q: AnthropicPageQuery): Record<string, unknown> {
  const limit = q.limit === undefined ? 20 : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalidField("limit", "must be a whole number from 1 to 1000");
  if (q.after_id !== undefined && q.before_id !== undefined) throw invalidField("before_id", "give after_id or before_id, not both");
  let page: ListedModel[];
  let more: boolean;
  if (typeof q.before_id === "string") {
    const end = models.findIndex((m) => m.id === q.before_id);
    const upTo = end < 0 ? models.length : end;
    page = models.slice(Math.max(0, upTo - limit), upTo);
    more = upTo - limit > 0;
  } else {
    const start = typeof q.after_id === "string" ? models.findIndex((m) => m.id === q.after_id) + 1 : 0;
    page = models.slice(start, start + limit);
    more = start + limit < models.length;
  }
  return { data: page.map(encodeAnthropicModel), has_more: more, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null };
}
