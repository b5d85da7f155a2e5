import OpenAI from "openai";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { startApp, type App } from "../../src/app.js";
import type { TracingOptions } from "../../src/observability/tracing.js";
import { resolveServeConfig, type EngineConfig } from "../../src/config.js";
import { synthesizeModel } from "../../src/engine/synth/synthesize.js";

export interface TestServer {
  app: App;
  url: string;
  home: string;
  /** Everything the server logged, for privacy and error assertions. */
  log: () => string;
  openai: OpenAI;
  /**
   * `fetch` on this server with an admin's credentials (path relative to the base URL).
   * Every admin and manager route (`/admin/*`, `/api/*`) in tests goes through this, so
   * the auth layer decides in one place what an admin request carries.
   */
  admin(path: string, init?: RequestInit): Promise<Response>;
  /** The headers an admin request carries (for WebSocket upgrades and clients other than fetch). */
  adminHeaders(): Record<string, string>;
  close(): Promise<void>;
}

type Preset = Parameters<typeof synthesizeModel>[1]["preset"];

/** A fresh home folder holding the given synthetic models. */
export async function makeHome(models: Record<string, { preset: Preset; seed?: number }>): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), "llmux-test-"));
  mkdirSync(join(home, "models"));
  for (const [name, spec] of Object.entries(models)) {
    await synthesizeModel(join(home, "models", `${name}.gguf`), { preset: spec.preset, seed: spec.seed ?? 1 });
  }
  return home;
}

/** Starts a real llmux on 127.0.0.1 with an ephemeral port. */
export async function startTestServer(
  options: {
    home?: string;
    models?: Record<string, { preset: Preset; seed?: number }>;
    engine?: Partial<EngineConfig>;
    /** Tracing for this server (e.g. an InMemorySpanExporter); the environment decides otherwise. */
    tracing?: Omit<TracingOptions, "serviceVersion">;
  } = {},
): Promise<TestServer> {
  const home = options.home ?? (await makeHome(options.models ?? { tiny: { preset: "tiny" } }));
  let logged = "";
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      logged += String(chunk);
      cb();
    },
  });
  const config = resolveServeConfig({ host: "127.0.0.1", port: 0, home, engine: { threads: 1, parallel: 4, contextSize: 2048, ...options.engine } });
  const app = await startApp(config, { logStream, tracing: options.tracing });
  // Credentials are added here once the server has users (the security issue).
  const adminHeaders = (): Record<string, string> => ({});
  const openai = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: "unused", maxRetries: 0, timeout: 60_000 });
  return {
    app,
    url: app.url,
    home,
    log: () => logged,
    openai,
    admin: (path, init = {}) => fetch(`${app.url}${path}`, { ...init, headers: { ...adminHeaders(), ...(init.headers as Record<string, string> | undefined) } }),
    adminHeaders,
    async close() {
      await app.close();
      if (!options.home) rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * Request fields that make the tiny model generate for a long time, whatever the
 * seed: random weights sample the end token every few hundred tokens, but a grammar
 * for 40 strings of exactly 500 characters allows no end before about 20,000 characters.
 */
export const LONG_GENERATION = {
  max_tokens: 30000,
  response_format: {
    type: "json_schema" as const,
    json_schema: {
      name: "long",
      schema: {
        type: "object",
        properties: { items: { type: "array", minItems: 40, maxItems: 40, items: { type: "string", minLength: 500, maxLength: 500 } } },
        required: ["items"],
      },
    },
  },
};
