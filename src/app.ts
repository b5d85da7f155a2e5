import type { FastifyInstance } from "fastify";
import { join } from "node:path";
import type { ServeConfig } from "./config.js";
import { LocalBackend } from "./engine/local-backend.js";
import { ModelPool } from "./engine/model-pool.js";
import { ModelRegistry } from "./engine/model-registry.js";
import { synthesizeModel } from "./engine/synth/synthesize.js";
import { buildHttpServer } from "./http/server.js";
import { Router } from "./routing/router.js";
import { openDatabase, type Db } from "./store/db.js";
import { VERSION } from "./version.js";

/** The name of the tiny synthetic model a fresh install creates so it can answer at once. */
export const DEMO_MODEL = "llmux-demo";

/** A running llmux: every long-lived part, wired once. */
export interface App {
  config: ServeConfig;
  http: FastifyInstance;
  db: Db;
  registry: ModelRegistry;
  pool: ModelPool;
  /** The base URL it listens on, once started. */
  url: string;
  close(): Promise<void>;
}

/**
 * Opens the store, scans the models, builds the HTTP server and starts listening.
 * On a first start with an empty models folder it writes the tiny `llmux-demo` model.
 */
export async function startApp(config: ServeConfig, options: { logStream?: NodeJS.WritableStream } = {}): Promise<App> {
  const db = await openDatabase(join(config.home, "llmux.db"));
  const registry = new ModelRegistry(join(config.home, "models"));
  await registry.refresh();
  if (registry.list().length === 0 && registry.unreadable().length === 0) {
    await synthesizeModel(join(registry.modelsDir, `${DEMO_MODEL}.gguf`), { preset: "tiny", seed: 1 });
    await registry.refresh();
  }
  const pool = new ModelPool(config.engine);
  const router = new Router(registry, new LocalBackend(registry, pool));
  const http = buildHttpServer(
    { registry, router, version: VERSION },
    { bodyLimit: config.bodyLimit, logLevel: config.logLevel, logStream: options.logStream },
  );
  await http.listen({ host: config.host, port: config.port });
  const addr = http.server.address();
  const port = typeof addr === "object" && addr ? addr.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Stop accepting; in-flight requests get a bounded grace period.
      const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref());
      await Promise.race([http.close(), grace]);
      await pool.closeAll();
      await db.destroy();
    })();
    return closing;
  };
  return { config, http, db, registry, pool, url: `http://${host}:${port}`, close };
}
