import { availableParallelism, homedir } from "node:os";
import { join } from "node:path";
import { corsOriginsFromEnv } from "./http/security-headers.js";

/** Everything `llmux serve` needs to start; flags override environment, which overrides these defaults. */
export interface ServeConfig {
  host: string;
  port: number;
  /** Data folder: database, models, key files. */
  home: string;
  engine: EngineConfig;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** How long a shutdown waits for in-flight requests before ending them. */
  shutdownGraceMs: number;
  /** Log level for the server's own log (never holds prompt text). */
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "silent";
  /** Write the audit log (on unless `LLMUX_AUDIT=off`; off exists to measure its cost). */
  audit: boolean;
  /** `/v1` needs an API key (`--require-api-key`, `LLMUX_REQUIRE_API_KEY=1`); required to bind a non-loopback address. */
  requireApiKey: boolean;
  /** Bind a non-loopback address with an open `/v1` anyway (`--insecure-no-auth`); warned about at every start. */
  insecureNoAuth: boolean;
  /** Browser origins allowed by CORS (`LLMUX_CORS_ORIGINS`, comma-separated; empty: closed). */
  corsOrigins: string[];
}

/** Settings every runner process gets unless a model overrides them. */
export interface EngineConfig {
  /** llama.cpp threads; defaults to the cores available (never more: oversubscription is catastrophic). */
  threads: number;
  /** Parallel sequences per model (continuous batching slots). */
  parallel: number;
  /** Context tokens per sequence, capped by the model's own context length. */
  contextSize: number;
  /** Map the GGUF instead of reading it into memory; reading is faster for decode on small machines. */
  useMmap: boolean;
}

export const DEFAULT_PORT = 11435;

export function defaultHome(): string {
  return process.env.LLMUX_HOME || join(homedir(), ".llmux");
}

export function defaultEngineConfig(): EngineConfig {
  return {
    threads: Math.max(1, availableParallelism()),
    parallel: 4,
    contextSize: 4096,
    useMmap: false,
  };
}

const int = (v: string | undefined): number | undefined => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);

/** Resolves the serve settings: explicit options over `LLMUX_*` environment over defaults. */
export function resolveServeConfig(opts: Partial<{ host: string; port: number; home: string; requireApiKey: boolean; insecureNoAuth: boolean }> & {
  engine?: Partial<EngineConfig>;
} = {}): ServeConfig {
  const env = process.env;
  const engineDefaults = defaultEngineConfig();
  return {
    host: opts.host ?? env.LLMUX_HOST ?? "127.0.0.1",
    port: opts.port ?? int(env.LLMUX_PORT) ?? DEFAULT_PORT,
    home: opts.home ?? defaultHome(),
    engine: {
      threads: opts.engine?.threads ?? int(env.LLMUX_THREADS) ?? engineDefaults.threads,
      parallel: opts.engine?.parallel ?? int(env.LLMUX_PARALLEL) ?? engineDefaults.parallel,
      contextSize: opts.engine?.contextSize ?? int(env.LLMUX_CONTEXT_SIZE) ?? engineDefaults.contextSize,
      useMmap: opts.engine?.useMmap ?? (env.LLMUX_MMAP === "1" ? true : engineDefaults.useMmap),
    },
    bodyLimit: 8 * 1024 * 1024,
    shutdownGraceMs: 10_000,
    logLevel: (env.LLMUX_LOG_LEVEL as ServeConfig["logLevel"]) ?? "info",
    audit: env.LLMUX_AUDIT !== "off",
    requireApiKey: opts.requireApiKey ?? (env.LLMUX_REQUIRE_API_KEY === "1" || env.LLMUX_REQUIRE_API_KEY === "true"),
    insecureNoAuth: opts.insecureNoAuth ?? false,
    corsOrigins: corsOriginsFromEnv(env),
  };
}
