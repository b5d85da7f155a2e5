import { rm } from "node:fs/promises";
import { LlmuxError } from "../../errors/llmux-error.js";
import { isValidModelId, type ModelRegistry } from "../model-registry.js";

/**
 * Deletes a local model: unloads it first (refused with `model_busy` while it serves a
 * request), then removes its file or every part of its split set, and rescans.
 */
export async function deleteLocalModel(registry: ModelRegistry, pool: { unload(id: string): Promise<unknown> }, id: string): Promise<void> {
  if (!isValidModelId(id)) throw new LlmuxError("model_not_found", "no model has that id", { param: "id" });
  await registry.refresh();
  const files = registry.files(id);
  if (files.length === 0) throw new LlmuxError("model_not_found", `model '${id}' does not exist`, { param: "id" });
  await pool.unload(id);
  await Promise.all(files.map((f) => rm(f, { force: true })));
  await registry.refresh();
}
