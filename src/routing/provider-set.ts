import { Pool } from "./undici-parts.js";
import type { ChatBackend } from "../core/chat.js";
import { AnthropicBackend } from "../providers/anthropic-backend.js";
import { OpenAIBackend } from "../providers/openai-backend.js";
import { providerUrl } from "../providers/provider-config.js";
import type { ProviderModel } from "../providers/provider-models.js";
import type { ProvidersRepository, ProviderWithSecret } from "../store/providers-repo.js";

/** The wire protocol family of a provider kind. */
export type ProviderProtocol = "openai" | "anthropic";

/** One configured provider, ready to serve: its config (with the key), its canonical backend and its connection pool. */
export interface ProviderEntry {
  config: ProviderWithSecret;
  protocol: ProviderProtocol;
  backend: ChatBackend & { listModels(options?: { signal?: AbortSignal }): Promise<ProviderModel[]> };
  /** Keep-alive connections to the provider's origin, for pass-through requests. */
  pool: Pool;
  /** The path (and query) of the provider's chat endpoint, computed once. */
  chatPath: string;
  /** The path (and query) of the provider's embeddings endpoint (OpenAI protocol only; Anthropic has none). */
  embeddingsPath: string;
}

const MODELS_TTL_MS = 60_000;

export const protocolOf = (kind: ProviderWithSecret["kind"]): ProviderProtocol => (kind.startsWith("anthropic") ? "anthropic" : "openai");

/**
 * The configured cloud providers as backends, built from the providers repository and
 * rebuilt (`reload`) whenever an admin changes one, so the next request sees the change.
 * Old connection pools are closed once their in-flight requests end.
 */
export class ProviderSet {
  private entries = new Map<string, ProviderEntry>();
  /** Providers that could not be built (e.g. a key sealed under another secret), with why. */
  readonly unusable = new Map<string, string>();
  private readonly modelCache = new Map<string, { at: number; models: string[] }>();

  constructor(private readonly repo: ProvidersRepository) {}

  get(name: string): ProviderEntry | undefined {
    return this.entries.get(name);
  }

  /** Every configured provider's name, usable or not (rules may name any of them). */
  configuredNames(): Set<string> {
    return new Set([...this.entries.keys(), ...this.unusable.keys()]);
  }

  names(): Set<string> {
    return new Set(this.entries.keys());
  }

  list(): ProviderEntry[] {
    return [...this.entries.values()];
  }

  /** Reads every provider again and swaps the set in one step. */
  async reload(): Promise<void> {
    const next = new Map<string, ProviderEntry>();
    this.unusable.clear();
    for (const rec of await this.repo.list()) {
      // One provider whose key no longer opens must not stop the others (or the server's start).
      try {
        const config = await this.repo.getWithSecret(rec.name);
        if (config) next.set(rec.name, build(config));
      } catch (err) {
        this.unusable.set(rec.name, err instanceof Error ? err.message : String(err));
      }
    }
    const old = this.entries;
    this.entries = next;
    this.modelCache.clear();
    for (const e of old.values()) void e.pool.close().catch(() => undefined);
  }

  /**
   * The model ids a provider serves: its configured list, or what its models endpoint
   * lists (cached for a minute; an unreachable provider lists nothing rather than failing).
   */
  async models(name: string): Promise<string[]> {
    const e = this.entries.get(name);
    if (!e) return [];
    if (e.config.models) return e.config.models;
    const hit = this.modelCache.get(name);
    if (hit && Date.now() - hit.at < MODELS_TTL_MS) return hit.models;
    let models: string[] = [];
    try {
      models = (await e.backend.listModels({ signal: AbortSignal.timeout(Math.min(e.config.timeoutMs, 5000)) })).map((m) => m.id);
    } catch {
      models = [];
    }
    this.modelCache.set(name, { at: Date.now(), models });
    return models;
  }

  async close(): Promise<void> {
    const old = this.entries;
    this.entries = new Map();
    await Promise.all([...old.values()].map((e) => e.pool.close().catch(() => undefined)));
  }
}

/** Builds the backend and the pool of one provider (without contacting it). */
export function build(config: ProviderWithSecret): ProviderEntry {
  const protocol = protocolOf(config.kind);
  const backend = protocol === "anthropic" ? new AnthropicBackend(config) : new OpenAIBackend(config);
  const pool = new Pool(new URL(config.baseUrl).origin, {
    connections: 128,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: config.timeoutMs,
    bodyTimeout: config.timeoutMs,
  });
  const chat = new URL(providerUrl(config.baseUrl, protocol === "anthropic" ? "/messages" : "/chat/completions"));
  const embeddings = new URL(providerUrl(config.baseUrl, "/embeddings"));
  return { config, protocol, backend, pool, chatPath: chat.pathname + chat.search, embeddingsPath: embeddings.pathname + embeddings.search };
}
