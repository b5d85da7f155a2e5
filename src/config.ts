import { availableParallelism, homedir } from "node:os";
import { join } from "node:path";
import { corsOriginsFromEnv } from "./http/security-headers.js";
import { envInt } from "./util/env.js";

/** Everything `llmux serve` needs to start; flags override environment, which overrides these defaults. */
export interface ServeConfig {
  host: string;
  port: number;
  /** Data folder: database, models, key files. */
  home: string;
  engine: EngineConfig;
  /**
   * Largest accepted request body, in bytes (`LLMUX_BODY_LIMIT_MB`, default 32 MiB: what Anthropic's
   * Messages API takes, so that a PDF or images a provider would read are not refused here first).
   */
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
/** Request bodies up to this many MiB by default: Anthropic's own limit for a Messages request. */
export const DEFAULT_BODY_LIMIT_MB = 32;

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

const LOG_LEVELS: readonly ServeConfig["logLevel"][] = ["fatal", "error", "warn", "info", "debug", "silent"];

/** Resolves the serve settings: explicit options over `LLMUX_*` environment over defaults. */
export function resolveServeConfig(opts: Partial<{ host: string; port: number; home: string; requireApiKey: boolean; insecureNoAuth: boolean }> & {
  engine?: Partial<EngineConfig>;
} = {}): ServeConfig {
  const env = process.env;
  const engineDefaults = defaultEngineConfig();
  const cpus = engineDefaults.threads;
  const threads = opts.engine?.threads ?? envInt(env, "LLMUX_THREADS", 1, cpus, " (this machine's CPUs)") ?? engineDefaults.threads;
  // More llama.cpp threads than CPUs stalls every model: refused whether it came from a flag or the environment.
  if (threads > cpus) throw new Error(`--threads must be at most ${cpus} (this machine's CPUs), not ${threads}`);
  const logLevel = env.LLMUX_LOG_LEVEL?.trim() || "info";
  if (!LOG_LEVELS.includes(logLevel as ServeConfig["logLevel"])) throw new Error(`LLMUX_LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, not '${logLevel.slice(0, 40)}'`);
  return {
    host: opts.host ?? env.LLMUX_HOST ?? "127.0.0.1",
    port: opts.port ?? envInt(env, "LLMUX_PORT", 0, 65535) ?? DEFAULT_PORT,
    home: opts.home ?? defaultHome(),
    engine: {
      threads,
      parallel: opts.engine?.parallel ?? envInt(env, "LLMUX_PARALLEL", 1, 64) ?? engineDefaults.parallel,
      contextSize: opts.engine?.contextSize ?? envInt(env, "LLMUX_CONTEXT_SIZE", 64, 1_048_576) ?? engineDefaults.contextSize,
      useMmap: opts.engine?.useMmap ?? (env.LLMUX_MMAP === "1" ? true : engineDefaults.useMmap),
    },
    bodyLimit: (envInt(env, "LLMUX_BODY_LIMIT_MB", 1, 1024) ?? DEFAULT_BODY_LIMIT_MB) * 1024 * 1024,
    shutdownGraceMs: 10_000,
    logLevel: logLevel as ServeConfig["logLevel"],
    audit: env.LLMUX_AUDIT !== "off",
    requireApiKey: opts.requireApiKey ?? (env.LLMUX_REQUIRE_API_KEY === "1" || env.LLMUX_REQUIRE_API_KEY === "true"),
    insecureNoAuth: opts.insecureNoAuth ?? false,
    corsOrigins: corsOriginsFromEnv(env),
  };
}
