import { invalidField } from "../errors/llmux-error.js";
import type { HubFile } from "./gguf-files.js";
import type { HubClient } from "./hub-client.js";
import { assertRepoId } from "./repo-id.js";

/**
 * The hub files to download for `repo`: the listed `files` (each must exist in the repo),
 * else the one entry of the `quant` group, else the repo's only GGUF entry. Refuses
 * (`validation_failed`) anything ambiguous or absent, naming the field.
 */
export async function resolveDownloadFiles(hub: HubClient, repo: string, pick: { quant?: string; files?: string[] }): Promise<HubFile[]> {
  assertRepoId(repo);
  if (pick.quant !== undefined && pick.files !== undefined) throw invalidField("quant", "give either 'quant' or 'files', not both");
  if (pick.files) {
    const listing = new Map((await hub.listFiles(repo)).map((f) => [f.path, f]));
    return pick.files.map((p, i) => {
      const f = listing.get(p);
      if (!f) throw invalidField(`files.${i}`, `'${p}' is not a file of ${repo}`);
      return f;
    });
  }
  const { groups } = await hub.repoFiles(repo);
  const entries = pick.quant === undefined ? groups.flatMap((g) => g.entries) : (groups.find((g) => g.quantization === pick.quant!.toUpperCase())?.entries ?? []);
  if (entries.length === 0) {
    const have = groups.map((g) => g.quantization).join(", ") || "none";
    throw invalidField(pick.quant === undefined ? "repo" : "quant", pick.quant === undefined ? `${repo} has no GGUF files` : `${repo} has no '${pick.quant}' GGUF (has: ${have})`);
  }
  if (entries.length > 1) {
    const hint = pick.quant === undefined ? "name a quantization or the files" : "name the files";
    throw invalidField(pick.quant === undefined ? "quant" : "files", `ambiguous: ${entries.map((e) => e.name).join(", ")}; ${hint}`);
  }
  return entries[0].files;
}
