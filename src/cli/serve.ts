import type { Command } from "commander";
import { resolveServeConfig } from "../config.js";
import { startApp } from "../app.js";
import { limitHeapGrowth, releaseYoungGeneration } from "../runtime/heap.js";
import { releaseHeapWhenIdle } from "../runtime/idle-heap.js";
import { port, positiveInt } from "./options.js";

/** `llmux serve`: starts the server and shuts it down cleanly on SIGINT/SIGTERM. */
export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("serve the OpenAI-compatible API and the local engine")
    .option("--host <host>", "address to bind (env LLMUX_HOST)")
    .option("--port <port>", "port (env LLMUX_PORT, default 11435)", port)
    .option("--home <dir>", "data folder (env LLMUX_HOME, default ~/.llmux)")
    .option("--threads <n>", "llama.cpp threads per model (env LLMUX_THREADS)", positiveInt("--threads"))
    .option("--parallel <n>", "parallel sequences per model (env LLMUX_PARALLEL, default 4)", positiveInt("--parallel"))
    .option("--context-size <n>", "context tokens per sequence (env LLMUX_CONTEXT_SIZE)", positiveInt("--context-size"))
    .option("--require-api-key", "/v1 needs an API key (env LLMUX_REQUIRE_API_KEY=1); needed to bind a non-loopback address")
    .option("--insecure-no-auth", "bind a non-loopback address with an open /v1 anyway (warned at every start)")
    .action(async (opts: { host?: string; port?: number; home?: string; threads?: number; parallel?: number; contextSize?: number; requireApiKey?: boolean; insecureNoAuth?: boolean }) => {
      limitHeapGrowth();
      const config = resolveServeConfig({
        host: opts.host,
        port: opts.port,
        home: opts.home,
        requireApiKey: opts.requireApiKey ? true : undefined,
        insecureNoAuth: opts.insecureNoAuth,
        engine: { threads: opts.threads, parallel: opts.parallel, contextSize: opts.contextSize },
      });
      const app = await startApp(config);
      // Start-up is over: V8 may grow the young generation again when load asks (src/runtime/heap.ts).
      releaseYoungGeneration();
      // …and give a burst's young generation back once quiet again (src/runtime/idle-heap.ts).
      releaseHeapWhenIdle();
      const models = app.registry.list();
      const out = process.stdout;
      out.write(`llmux listening on ${app.url}\n`);
      out.write(`data folder: ${config.home}\n`);
      out.write(`inference API (/v1): ${config.requireApiKey ? "API key required" : "open (no key needed)"}; admin API: sign-in required\n`);
      if ((await app.auth.users.count()) === 0) out.write(`no users yet: the first to register (web UI or POST /api/auth/register) becomes the admin, or run: llmux users create-admin --email …\n`);
      out.write(`engine: ${config.engine.threads} threads, ${config.engine.parallel} parallel sequences per model\n`);
      out.write(`models (${models.length}): ${models.map((m) => (m.synthetic ? `${m.id} (synthetic)` : m.id)).join(", ") || "none"}\n`);
      for (const bad of app.registry.unreadable()) out.write(`  unreadable: ${bad.id}: ${bad.error}\n`);

      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        out.write(`${signal}: shutting down (waiting up to ${config.shutdownGraceMs / 1000}s for requests in flight)\n`);
        app.close().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`shutdown failed: ${(err as Error).message}\n`);
            process.exit(1);
          },
        );
      };
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("SIGTERM", () => stop("SIGTERM"));
    });
}
