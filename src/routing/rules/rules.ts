import { LlmuxError } from "../../errors/llmux-error.js";
import { compileMatcher, type MatchSpec } from "./match.js";

/** A backend a rule can send to: `local` (the embedded engine) or a configured provider's name. */
export interface RuleTarget {
  backend: string;
  /** The model name to send instead of the requested one (rename). */
  model?: string;
  /** Relative share for the `weighted` strategy (default 1; 0 never picked while others are available). */
  weight?: number;
}

export type RoutingStrategy = "first" | "weighted" | "least_inflight";

export interface RoutingRule {
  id: string;
  match: MatchSpec;
  targets: RuleTarget[];
  /** Default `first`. */
  strategy?: RoutingStrategy;
  /** Tried, in order, after the rule's other targets when the chosen one fails. */
  fallbacks?: RuleTarget[];
}

/** A target with the model name it will be asked for. */
export interface ResolvedTarget {
  backend: string;
  model: string;
}

export interface ResolvedRoute {
  ruleId: string;
  target: ResolvedTarget;
  /** Where to fail over, in order: the rule's other targets, then its `fallbacks` (duplicates removed). */
  fallbacks: ResolvedTarget[];
  /** The name sent to the chosen target when the rule renames the model; `null` when it keeps the requested name. */
  rename: string | null;
}

/** What routing may consult; every member is optional. */
export interface RouteState {
  /** In [0, 1); default `Math.random`. Inject a seeded source for tests. */
  random?: () => number;
  /** Requests in flight on a target (for `least_inflight`); default 0. */
  inflight?: (target: ResolvedTarget) => number;
  /** False for targets to skip now (e.g. an open circuit breaker); default true. */
  available?: (target: ResolvedTarget) => boolean;
}

const resolve = (t: RuleTarget, model: string): ResolvedTarget => ({ backend: t.backend, model: t.model ?? model });
const sameTarget = (a: ResolvedTarget, b: ResolvedTarget) => a.backend === b.backend && a.model === b.model;

/** Checks rules once (ids, patterns, targets, weights), throwing `validation_failed` with the offending `param`. */
export function validateRules(rules: RoutingRule[]): void {
  const ids = new Set<string>();
  rules.forEach((rule, i) => {
    const at = `routing.rules.${i}`;
    if (!rule.id || typeof rule.id !== "string") throw new LlmuxError("validation_failed", `invalid '${at}.id': a rule needs an id`, { param: `${at}.id` });
    if (ids.has(rule.id)) throw new LlmuxError("validation_failed", `invalid '${at}.id': duplicate rule id '${rule.id}'`, { param: `${at}.id` });
    ids.add(rule.id);
    compileMatcher(rule.match, `${at}.match.pattern`);
    if (!Array.isArray(rule.targets) || rule.targets.length === 0) {
      throw new LlmuxError("validation_failed", `invalid '${at}.targets': a rule needs at least one target`, { param: `${at}.targets` });
    }
    if (rule.strategy !== undefined && !["first", "weighted", "least_inflight"].includes(rule.strategy)) {
      throw new LlmuxError("validation_failed", `invalid '${at}.strategy': unknown strategy '${String(rule.strategy)}'`, { param: `${at}.strategy` });
    }
    rule.targets.forEach((t, j) => {
      if (!t.backend) throw new LlmuxError("validation_failed", `invalid '${at}.targets.${j}.backend': a target needs a backend`, { param: `${at}.targets.${j}.backend` });
      if (t.weight !== undefined && !(Number.isFinite(t.weight) && t.weight >= 0)) {
        throw new LlmuxError("validation_failed", `invalid '${at}.targets.${j}.weight': must be a finite number >= 0`, { param: `${at}.targets.${j}.weight` });
      }
    });
  });
}

/** Matchers compiled once per rules array (rules are treated as immutable once routed). */
const compiled = new WeakMap<RoutingRule[], ((model: string) => boolean)[]>();
function matchers(rules: RoutingRule[]): ((model: string) => boolean)[] {
  let m = compiled.get(rules);
  if (!m) {
    m = rules.map((r, i) => compileMatcher(r.match, `routing.rules.${i}.match.pattern`));
    compiled.set(rules, m);
  }
  return m;
}

function pick(strategy: RoutingStrategy, pool: { rule: RuleTarget; t: ResolvedTarget }[], state: RouteState): number {
  if (pool.length === 1 || strategy === "first") return 0;
  if (strategy === "least_inflight") {
    const count = (t: ResolvedTarget) => state.inflight?.(t) ?? 0;
    let best = 0;
    let bestCount = count(pool[0]!.t);
    for (let i = 1; i < pool.length; i++) {
      const c = count(pool[i]!.t);
      if (c < bestCount) {
        best = i;
        bestCount = c;
      }
    }
    return best;
  }
  const weights = pool.map((p) => p.rule.weight ?? 1);
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) return 0;
  const r = Math.min(Math.max((state.random ?? Math.random)(), 0), 1 - Number.EPSILON) * total;
  let acc = 0;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i]!;
    if (r < acc && weights[i]! > 0) return i;
  }
  return weights.findLastIndex((w) => w > 0);
}

/**
 * Routes a model name: the first rule whose match accepts it wins, and its strategy picks
 * among the targets that `state.available` allows. When none is available the rule's
 * available fallbacks are used in order, and when those are unavailable too the choice is
 * made among all targets (so the caller still gets an answer and fails fast). `null`: no
 * rule matches, and the caller falls back to local models.
 */
export function resolveRoute(rules: RoutingRule[], model: string, state: RouteState = {}): ResolvedRoute | null {
  const ms = matchers(rules);
  const index = ms.findIndex((m) => m(model));
  if (index < 0) return null;
  const rule = rules[index]!;
  const strategy = rule.strategy ?? "first";
  const all = rule.targets.map((r) => ({ rule: r, t: resolve(r, model) }));
  const fallbackPool = (rule.fallbacks ?? []).map((r) => ({ rule: r, t: resolve(r, model) }));
  const isUp = (p: { t: ResolvedTarget }) => state.available?.(p.t) ?? true;

  let chosen: { rule: RuleTarget; t: ResolvedTarget };
  const up = all.filter(isUp);
  if (up.length > 0) chosen = up[pick(strategy, up, state)]!;
  else chosen = fallbackPool.find(isUp) ?? all[pick(strategy, all, state)]!;

  const fallbacks: ResolvedTarget[] = [];
  for (const p of [...all, ...fallbackPool]) {
    if (sameTarget(p.t, chosen.t) || fallbacks.some((f) => sameTarget(f, p.t))) continue;
    fallbacks.push(p.t);
  }
  return { ruleId: rule.id, target: chosen.t, fallbacks, rename: chosen.rule.model !== undefined && chosen.rule.model !== model ? chosen.rule.model : null };
}

export interface RuleExplanation {
  ruleId: string;
  index: number;
  kind: MatchSpec["kind"];
  pattern: string;
  matched: boolean;
  reason: string;
}

export interface RouteExplanation {
  model: string;
  /** The rule that serves the model, or `null` when none matches (local models serve it). */
  matched: { ruleId: string; index: number; strategy: RoutingStrategy; targets: ResolvedTarget[]; fallbacks: ResolvedTarget[] } | null;
  /** Every rule checked, in order, up to and including the one that matched. */
  checked: RuleExplanation[];
  summary: string;
}

const describe = (spec: MatchSpec, ok: boolean): string => {
  const verb = ok ? "matches" : "does not match";
  switch (spec.kind) {
    case "exact":
      return `${verb} exactly '${spec.pattern}'`;
    case "prefix":
      return `${ok ? "starts" : "does not start"} with '${spec.pattern}'`;
    case "glob":
      return `${verb} glob '${spec.pattern}'`;
    case "regex":
      return `${verb} regex /^(?:${spec.pattern})$/`;
  }
};

/** Which rule would serve `model`, and why: for a "which target would serve this model" endpoint. Pure: picks nothing. */
export function explain(rules: RoutingRule[], model: string): RouteExplanation {
  const ms = matchers(rules);
  const checked: RuleExplanation[] = [];
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    const ok = ms[i]!(model);
    const tooLong = !ok && model.length > 256 ? " (model name over 256 characters never matches)" : "";
    checked.push({ ruleId: rule.id, index: i, kind: rule.match.kind, pattern: rule.match.pattern, matched: ok, reason: `'${model}' ${describe(rule.match, ok)}${tooLong}` });
    if (ok) {
      const strategy = rule.strategy ?? "first";
      const targets = rule.targets.map((t) => resolve(t, model));
      const fallbacks = (rule.fallbacks ?? []).map((t) => resolve(t, model));
      return {
        model,
        matched: { ruleId: rule.id, index: i, strategy, targets, fallbacks },
        checked,
        summary: `rule '${rule.id}' (#${i}) serves '${model}': ${describe(rule.match, true)}; strategy ${strategy} over ${targets
          .map((t) => `${t.backend}:${t.model}`)
          .join(", ")}`,
      };
    }
  }
  return { model, matched: null, checked, summary: `no rule matches '${model}'; local models serve it` };
}
