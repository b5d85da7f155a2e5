import type { Command } from "commander";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { defaultHome } from "../config.js";
import { ModelRegistry } from "../engine/model-registry.js";
import { deleteLocalModel } from "../engine/pool/delete-model.js";
import { formatBytes } from "../engine/pool/memory-budget.js";
import type { PoolStatus } from "../engine/model-pool.js";
import { ServerClient, ServerError, ServerUnreachable } from "./server-client.js";

/** Rows as aligned columns. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd()).join("\n") + "\n";
}

const params = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : `${(n / 1e6).toFixed(1)}M`);

/** `llmux ls`: the models folder read directly (no server needed). */
export async function listLocalModels(home: string): Promise<string> {
  const rows = [["NAME", "ARCH", "PARAMS", "QUANT", "CONTEXT", "SIZE", "CAPABILITIES"]];
  const dir = join(home, "models");
  // Listing writes nothing: a home that is not there (a mistyped --home) is not created.
  if (!existsSync(dir)) return table(rows);
  const registry = new ModelRegistry(dir);
  await registry.refresh();
  for (const m of registry.list()) {
    const caps = [m.capabilities.chat && "chat", m.capabilities.tools && "tools", m.capabilities.reasoning && "reasoning", m.capabilities.embeddings && "embeddings", m.synthetic && "synthetic"].filter(Boolean).join(",");
    rows.push([m.id, m.architecture, params(m.parameterCount), m.quantization, String(m.contextLength), formatBytes(m.sizeBytes), caps]);
  }
  for (const u of registry.unreadable()) rows.push([u.id, "?", "", "", "", "", `unreadable: ${u.error}`]);
  return table(rows);
}

/** `llmux ps`: what a running server holds, from `GET /admin/pool`. */
export async function listLoaded(client: ServerClient): Promise<string> {
  const st = await client.request<PoolStatus>("GET", "/admin/pool");
  if (!Array.isArray(st?.models)) throw new ServerError(200, "not_llmux", `${client.url} answered GET /admin/pool without a model list: is it an llmux server?`);
  const ago = (t: number) => `${Math.max(0, Math.round((Date.now() - t) / 1000))}s ago`;
  const rows = [["NAME", "KIND", "STATE", "ESTIMATE", "RSS", "SLOTS", "CONTEXT", "REQUESTS", "LAST USED", "PINNED"]];
  for (const m of st.models) {
    rows.push([m.id, m.kind ?? "chat", m.state, formatBytes(m.estimated_bytes), m.rss_bytes === null ? "-" : formatBytes(m.rss_bytes), `${m.slots_busy}/${m.slots}`, String(m.context_size), String(m.requests_served), ago(m.last_used), m.pinned ? "yes" : ""]);
  }
  return `${table(rows)}pool: ${formatBytes(st.used_bytes)} of ${formatBytes(st.budget_bytes)}, ${st.models.length} of ${st.max_models} models, keep-alive ${st.keep_alive_s}s\n`;
}

/**
 * `llmux rm`: a running server deletes the model itself (`DELETE /api/models/:id`: it unloads
 * the model, refusing while it serves a request, then deletes the file(s) in its own models
 * folder), so the file removed is the one the server serves. Only when no server answers at
 * the URL is the file deleted from `home` directly.
 */
export async function removeModel(home: string, id: string, client: ServerClient): Promise<string> {
  try {
    await client.request("DELETE", `/api/models/${encodeURIComponent(id)}`);
    return `removed ${id} (unloaded and deleted by the server at ${client.url})\n`;
  } catch (err) {
    if (!(err instanceof ServerUnreachable)) {
      if (err instanceof ServerError && err.status === 404) throw new Error(`${err.message} on the server at ${client.url}`);
      throw err;
    }
  }
  const registry = new ModelRegistry(join(home, "models"));
  await deleteLocalModel(registry, { unload: async () => {} }, id);
  return `removed ${id} from ${join(home, "models")} (no server at ${client.url})\n`;
}

interface ServerOpts {
  url?: string;
  apiKey?: string;
}

/** `llmux ls`, `llmux ps`, `llmux rm`. */
export function registerLocalModelCommands(program: Command): void {
  program
    .command("ls")
    .description("list local models with their metadata (reads <home>/models; no server needed)")
    .option("--home <dir>", "data folder (env LLMUX_HOME, default ~/.llmux)")
    .action(async (opts: { home?: string }) => {
      process.stdout.write(await listLocalModels(opts.home ?? defaultHome()));
    });

  program
    .command("ps")
    .description("show what a running server has loaded (GET /admin/pool)")
    .option("--url <url>", "server URL (env LLMUX_URL, default http://127.0.0.1:11435)")
    .option("--api-key <key>", "API key or session token (env LLMUX_API_KEY)")
    .action(async (opts: ServerOpts) => {
      process.stdout.write(await listLoaded(new ServerClient(opts)));
    });

  program
    .command("rm <model>")
    .description("delete a local model: a running server at --url unloads and deletes it; with no server up, it is deleted from --home")
    .option("--home <dir>", "data folder when no server answers (env LLMUX_HOME, default ~/.llmux)")
    .option("--url <url>", "server URL (env LLMUX_URL, default http://127.0.0.1:11435)")
    .option("--api-key <key>", "API key or session token (env LLMUX_API_KEY)")
    .action(async (model: string, opts: ServerOpts & { home?: string }) => {
      process.stdout.write(await removeModel(opts.home ?? defaultHome(), model, new ServerClient(opts)));
    });
}
