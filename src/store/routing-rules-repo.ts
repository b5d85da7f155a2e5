import { LlmuxError } from "../errors/llmux-error.js";
import type { RoutingRule, RuleTarget } from "../routing/rules/rules.js";
import { validateRules } from "../routing/rules/rules.js";
import type { Db } from "./db.js";

/** The ordered routing rules, stored one row per rule. Replaced as a whole list. */
export class RoutingRulesRepository {
  constructor(private readonly db: Db) {}

  async list(): Promise<RoutingRule[]> {
    const rows = await this.db.selectFrom("routing_rules").select(["rule_json"]).orderBy("position").execute();
    return rows.map((r) => JSON.parse(r.rule_json) as RoutingRule);
  }

  /** Replaces every rule (already validated by {@link parseRules}) in one transaction. */
  async replace(rules: RoutingRule[]): Promise<void> {
    const now = Date.now();
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom("routing_rules").execute();
      if (rules.length === 0) return;
      await tx
        .insertInto("routing_rules")
        .values(rules.map((rule, position) => ({ position, id: rule.id, rule_json: JSON.stringify(rule), updated_at: now })))
        .execute();
    });
  }
}

const bad = (param: string, message: string): LlmuxError =>
  new LlmuxError("validation_failed", `invalid '${param}': ${message}`, { param, fieldErrors: [{ field: param, message }] });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function parseTarget(raw: unknown, at: string, backends: ReadonlySet<string>): RuleTarget {
  if (!isObject(raw)) throw bad(at, "a target is an object { backend, model?, weight? }");
  const { backend, model, weight } = raw;
  if (typeof backend !== "string" || backend === "") throw bad(`${at}.backend`, "must be 'local' or a provider's name");
  if (backend !== "local" && !backends.has(backend)) throw bad(`${at}.backend`, `unknown provider '${backend.slice(0, 64)}' (configured: local${[...backends].map((b) => `, ${b}`).join("")})`);
  if (model !== undefined && (typeof model !== "string" || model === "" || model.length > 256)) throw bad(`${at}.model`, "must be a non-empty string of at most 256 characters");
  if (weight !== undefined && (typeof weight !== "number" || !Number.isFinite(weight) || weight < 0)) throw bad(`${at}.weight`, "must be a finite number >= 0");
  return { backend, ...(model !== undefined ? { model: model as string } : {}), ...(weight !== undefined ? { weight: weight as number } : {}) };
}

/**
 * Checks a `{ rules }` body from the admin API and returns clean rules (unknown fields dropped).
 * Every problem is a `validation_failed` naming the field, e.g. `rules.2.match.pattern` for an
 * unsafe regex or `rules.0.targets.1.backend` for a provider that does not exist.
 */
export function parseRules(body: unknown, backends: ReadonlySet<string>): RoutingRule[] {
  if (!isObject(body) || !Array.isArray(body.rules)) throw bad("rules", "send { rules: [...] }, the whole ordered list");
  if (body.rules.length > 1000) throw bad("rules", "at most 1000 rules");
  const rules = body.rules.map((raw: unknown, i: number): RoutingRule => {
    const at = `rules.${i}`;
    if (!isObject(raw)) throw bad(at, "a rule is an object { id, match, targets, strategy?, fallbacks? }");
    if (typeof raw.id !== "string" || raw.id === "" || raw.id.length > 128) throw bad(`${at}.id`, "must be a non-empty string of at most 128 characters");
    if (!isObject(raw.match)) throw bad(`${at}.match`, "must be { kind: exact|prefix|glob|regex, pattern }");
    if (!Array.isArray(raw.targets) || raw.targets.length === 0) throw bad(`${at}.targets`, "a rule needs at least one target");
    if (raw.fallbacks !== undefined && !Array.isArray(raw.fallbacks)) throw bad(`${at}.fallbacks`, "must be a list of targets");
    const rule: RoutingRule = {
      id: raw.id,
      match: { kind: raw.match.kind as RoutingRule["match"]["kind"], pattern: raw.match.pattern as string },
      targets: raw.targets.map((t: unknown, j: number) => parseTarget(t, `${at}.targets.${j}`, backends)),
    };
    if (raw.strategy !== undefined) rule.strategy = raw.strategy as RoutingRule["strategy"];
    if (raw.fallbacks !== undefined) rule.fallbacks = (raw.fallbacks as unknown[]).map((t, j) => parseTarget(t, `${at}.fallbacks.${j}`, backends));
    // Rules that could never do what they say: refused here, on the way in (rules already
    // stored keep working as they did).
    if ((rule.match.kind === "exact" || rule.match.kind === "glob") && rule.match.pattern === "") {
      throw bad(`${at}.match.pattern`, `an empty ${rule.match.kind} pattern matches no model name`);
    }
    if (rule.strategy === "weighted" && rule.targets.every((t) => t.weight === 0)) {
      throw bad(`${at}.targets`, "a weighted rule needs at least one target with a weight above 0");
    }
    return rule;
  });
  try {
    validateRules(rules);
  } catch (err) {
    // validateRules names fields `routing.rules.N...`; the API's body calls them `rules.N...`.
    if (err instanceof LlmuxError && err.param?.startsWith("routing.")) {
      const param = err.param.slice("routing.".length);
      const detail = err.detail.replace(/routing\.rules\./g, "rules.");
      throw new LlmuxError("validation_failed", detail, { param, fieldErrors: [{ field: param, message: detail }] });
    }
    throw err;
  }
  return rules;
}
