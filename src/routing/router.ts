import type { ChatBackend } from "../core/chat.js";
import type { ModelRegistry } from "../engine/model-registry.js";
import { LlmuxError, isLlmuxError } from "../errors/llmux-error.js";
import type { RoutingRulesRepository } from "../store/routing-rules-repo.js";
import type { ProviderEntry, ProviderSet } from "./provider-set.js";
import { CircuitBreaker, type BreakerState } from "./rules/breaker.js";
import { compileMatcher } from "./rules/match.js";
import { isRetryable, retryDelayMs } from "./rules/retry.js";
import { explain, resolveRoute, type ResolvedTarget, type RoutingRule } from "./rules/rules.js";

/** Where a request goes: the backend and the model name that backend knows it by. */
export interface RouteTarget {
  backend: ChatBackend;
  model: string;
}

/** One target of a plan: `local` or a provider (with its entry, for pass-through). */
export interface PlannedTarget extends RouteTarget {
  /** `local` or the provider's name. */
  backendName: string;
  provider?: ProviderEntry;
}

/** The targets to try for one request, in order: the chosen one first, then the fallbacks. */
export interface RoutePlan {
  ruleId: string | null;
  targets: PlannedTarget[];
}

/** Retries and breaker settings; mutable through {@link Router.configure} (tests shorten them). */
export interface FailoverPolicy {
  /** Retries on the same provider before moving to the next target (default 1; the local engine is not retried in place). */
  retries: number;
  /** Backoff: first retry waits up to this (full jitter), doubling each time (default 250 ms). */
  baseMs: number;
  /** No wait exceeds this, `Retry-After` included (default 5 s). */
  maxMs: number;
  /** Consecutive failures that open a provider's circuit (default 5). */
  breakerThreshold: number;
  /** How long an open circuit skips the provider (default 30 s). */
  breakerCooldownMs: number;
}

export const DEFAULT_FAILOVER: FailoverPolicy = { retries: 1, baseMs: 250, maxMs: 5000, breakerThreshold: 5, breakerCooldownMs: 30_000 };

/** What the caller observes of the attempts (the inference tracker: spans and metrics). */
export interface AttemptHooks {
  /** Runs one attempt (inside its span). */
  attempt<T>(target: PlannedTarget, n: number, fn: () => Promise<T>): Promise<T>;
  /** An attempt on `target` failed and another (same target after a delay, or the next one) follows. */
  retried(target: PlannedTarget, err: unknown): void;
  /**
   * When the request's time is up (epoch ms; the endpoint's timeout). A retry whose backoff or
   * `Retry-After` would end past it is not waited for: the next target is tried at once, or the
   * upstream's own error is returned, rather than a timeout after a pointless wait.
   */
  readonly deadline?: number;
  /** The request's cancellation (client gone, timeout); read only once an attempt has failed. */
  readonly signal: AbortSignal;
}

/** A committed attempt: what it opened, where, and `done()` to call when the response has ended. */
export interface Opened<T> {
  value: T;
  target: PlannedTarget;
  done(): void;
}

const keyOf = (t: { backendName?: string; backend: string | ChatBackend; model: string }): string =>
  `${t.backendName ?? (t.backend as string)}\u0000${t.model}`;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Who a rule's names are listed as served by: `llmux` for the local engine, else its first target's provider. */
const ownerOf = (rule: RoutingRule): string => (rule.targets[0]!.backend === "local" ? "llmux" : rule.targets[0]!.backend);

/**
 * Chooses backends for a model name: the first routing rule that matches picks among its
 * targets (first / weighted / least in-flight, skipping providers whose circuit is open),
 * and no match means a local model. Rules and providers are re-read on change (`setRules`,
 * `ProviderSet.reload`) and apply to the next request. {@link Router.open} runs the attempts:
 * retries with backoff and jitter (honouring `Retry-After`), then the fallbacks, until one
 * attempt commits — never after that.
 */
export class Router {
  private rules: RoutingRule[] = [];
  private policy: FailoverPolicy = { ...DEFAULT_FAILOVER };
  private breaker = new CircuitBreaker({ failureThreshold: this.policy.breakerThreshold, cooldownMs: this.policy.breakerCooldownMs });
  private readonly inflight = new Map<string, number>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly local: ChatBackend,
    readonly providers: ProviderSet,
    private readonly rulesRepo?: RoutingRulesRepository,
  ) {}

  /** Reads the stored rules and providers (at start). */
  async load(): Promise<void> {
    await this.providers.reload();
    if (this.rulesRepo) this.rules = await this.rulesRepo.list();
  }

  getRules(): RoutingRule[] {
    return this.rules;
  }

  /** Stores (when a repository is set) and applies a validated rule list. */
  async setRules(rules: RoutingRule[]): Promise<void> {
    await this.rulesRepo?.replace(rules);
    this.rules = rules;
  }

  /** Changes retries and breaker settings; a breaker change starts every circuit closed. */
  configure(patch: Partial<FailoverPolicy>): void {
    this.policy = { ...this.policy, ...patch };
    if (patch.breakerThreshold !== undefined || patch.breakerCooldownMs !== undefined) {
      this.breaker = new CircuitBreaker({ failureThreshold: this.policy.breakerThreshold, cooldownMs: this.policy.breakerCooldownMs });
    }
  }

  /** Each provider's circuit state, for metrics. */
  breakerStates(): { provider: string; state: BreakerState }[] {
    return [...this.providers.names()].map((provider) => ({ provider, state: this.breaker.state(provider) }));
  }

  /** The first target only (token counting, which does not fail over). */
  async resolve(model: string): Promise<RouteTarget> {
    const plan = await this.plan(model);
    const t = plan.targets[0]!;
    if (t.backendName === "local") await this.registry.get(t.model);
    return { backend: t.backend, model: t.model };
  }

  /** The targets for `model`, chosen now (weights drawn, in-flight counts and circuits read). */
  async plan(model: string): Promise<RoutePlan> {
    const route = resolveRoute(this.rules, model, {
      inflight: (t) => this.inflight.get(keyOf(t)) ?? 0,
      available: (t) => t.backend === "local" || (this.providers.get(t.backend) !== undefined && this.breaker.available(t.backend)),
    });
    if (!route) {
      const info = await this.registry.get(model); // throws model_not_found
      return { ruleId: null, targets: [{ backendName: "local", backend: this.local, model: info.id }] };
    }
    const targets: PlannedTarget[] = [];
    for (const t of [route.target, ...route.fallbacks]) {
      const planned = this.target(t);
      if (planned) targets.push(planned);
    }
    if (targets.length === 0) {
      const why = [route.target, ...route.fallbacks].map((t) => this.providers.unusable.get(t.backend)).find((m) => m !== undefined);
      throw new LlmuxError(
        "upstream_error",
        why ? `routing rule '${route.ruleId}' sends '${model}' to a provider that cannot be used: ${why}` : `routing rule '${route.ruleId}' sends '${model}' only to providers that are no longer configured`,
      );
    }
    return { ruleId: route.ruleId, targets };
  }

  private target(t: ResolvedTarget): PlannedTarget | undefined {
    if (t.backend === "local") return { backendName: "local", backend: this.local, model: t.model };
    const provider = this.providers.get(t.backend);
    return provider ? { backendName: t.backend, backend: provider.backend, model: t.model, provider } : undefined;
  }

  /**
   * Tries the plan's targets in order until `fn` commits one (resolves). A retryable failure
   * (connection error, timeout, 429, 5xx) is retried on the same target after a backoff (or the
   * upstream's `Retry-After`), then the next target is tried; a provider whose circuit is open is
   * skipped. Any other failure, or the client going away, ends the attempts at once. `fn` must
   * resolve only once nothing has been sent to the client yet and the upstream has answered.
   */
  async open<T>(plan: RoutePlan, hooks: AttemptHooks, fn: (target: PlannedTarget) => Promise<T>): Promise<Opened<T>> {
    let lastErr: unknown;
    let n = 0;
    for (const t of plan.targets) {
      const isProvider = t.backendName !== "local";
      if (isProvider && !this.breaker.allow(t.backendName)) {
        lastErr ??= new LlmuxError("upstream_error", `provider '${t.backendName}' is skipped for now: it failed repeatedly (circuit open)`);
        continue;
      }
      for (let retry = 0; ; retry++) {
        const key = keyOf(t);
        this.inflight.set(key, (this.inflight.get(key) ?? 0) + 1);
        let released = false;
        const done = () => {
          if (released) return;
          released = true;
          const left = (this.inflight.get(key) ?? 1) - 1;
          if (left <= 0) this.inflight.delete(key);
          else this.inflight.set(key, left);
        };
        try {
          if (!isProvider) await this.registry.get(t.model);
          const value = await hooks.attempt(t, n++, () => fn(t));
          if (isProvider) this.breaker.onSuccess(t.backendName);
          return { value, target: t, done };
        } catch (err) {
          done();
          const signal = hooks.signal;
          if (signal.aborted || !isRetryable(err)) {
            if (isProvider) this.breaker.release(t.backendName);
            throw err;
          }
          lastErr = err;
          if (isProvider) this.breaker.onFailure(t.backendName);
          // The local engine is not retried in place (a crashed runner is already restarted for the next request); its fallbacks are still tried.
          const retries = isProvider ? this.policy.retries : 0;
          const last = t === plan.targets[plan.targets.length - 1] && retry >= retries;
          if (!last) hooks.retried(t, err);
          if (retry >= retries || (isProvider && !this.breaker.available(t.backendName))) break;
          const retryAfter = isLlmuxError(err) ? err.headers?.["Retry-After"] : undefined;
          const delay = retryDelayMs(retry, { baseMs: this.policy.baseMs, maxMs: this.policy.maxMs, jitter: Math.random, retryAfter });
          if (hooks.deadline !== undefined && Date.now() + delay >= hooks.deadline) break;
          await sleep(delay, signal);
          if (signal.aborted) throw err;
          if (isProvider && !this.breaker.allow(t.backendName)) break;
        }
      }
    }
    throw lastErr ?? new LlmuxError("upstream_error", "no routing target could be tried");
  }

  /** Which target would serve `model` now, and why (for `GET /admin/routing/resolve`). */
  async explain(model: string): Promise<{
    model: string;
    rule_id: string | null;
    target: ResolvedTarget | null;
    fallbacks: ResolvedTarget[];
    explanation: string;
  }> {
    const why = explain(this.rules, model);
    if (!why.matched) {
      const info = await this.registry.get(model).catch(() => null);
      return {
        model,
        rule_id: null,
        target: info ? { backend: "local", model: info.id } : null,
        fallbacks: [],
        explanation: info ? `${why.summary}: the local model '${info.id}'` : `no rule matches '${model}' and no local model has that name`,
      };
    }
    let plan: RoutePlan | null = null;
    let planError = "";
    try {
      plan = await this.plan(model);
    } catch (err) {
      planError = isLlmuxError(err) ? `; ${err.detail}` : "";
    }
    const strip = (t: PlannedTarget): ResolvedTarget => ({ backend: t.backendName, model: t.model });
    const open = [...this.providers.names()].filter((p) => this.breaker.state(p) === "open");
    return {
      model,
      rule_id: why.matched.ruleId,
      target: plan ? strip(plan.targets[0]!) : null,
      fallbacks: plan ? plan.targets.slice(1).map(strip) : [],
      explanation: `${why.summary}${open.length ? `; circuit open for ${open.join(", ")}` : ""}${planError}`,
    };
  }

  /**
   * Who serves `model` by the first rule that matches it (`llmux` for the local engine, else the
   * first target's provider), or null when no rule matches: what `GET /v1/models/{id}` says of a
   * name a prefix, glob or regex rule routes, which the list cannot enumerate.
   */
  routedOwner(model: string): string | null {
    const rule = this.rules.find((r) => compileMatcher(r.match)(model));
    return rule ? ownerOf(rule) : null;
  }

  /**
   * Model names routing makes reachable, with who serves them: each `exact` rule's name, and
   * for other rules the models of their (non-renaming) provider targets that the rule matches
   * and no earlier rule takes.
   */
  async reachableModels(): Promise<{ id: string; ownedBy: string }[]> {
    const out = new Map<string, string>();
    const matchers = this.rules.map((r) => compileMatcher(r.match));
    const firstMatch = (name: string) => matchers.findIndex((m) => m(name));
    for (const [i, rule] of this.rules.entries()) {
      const owner = ownerOf(rule);
      if (rule.match.kind === "exact") {
        if (!out.has(rule.match.pattern)) out.set(rule.match.pattern, owner);
        continue;
      }
      for (const t of rule.targets) {
        if (t.backend === "local" || t.model !== undefined || !this.providers.get(t.backend)) continue;
        for (const id of await this.providers.models(t.backend)) {
          if (!out.has(id) && firstMatch(id) === i) out.set(id, t.backend);
        }
      }
    }
    return [...out].map(([id, ownedBy]) => ({ id, ownedBy }));
  }
}
