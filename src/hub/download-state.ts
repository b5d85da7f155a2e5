/**
 * The small JSON persisted next to each partial file (`<name>.part.json`), so an
 * interrupted download can be resumed after a restart. The byte offset is the
 * partial file's size; the token is never stored.
 */
import { readFile, readdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface PartialState {
  version: 1;
  downloadId: string;
  repo: string;
  /** Path of the file in the repo. */
  path: string;
  /** Local file name (`<id>.gguf`). */
  name: string;
  size: number;
  sha256: string;
  /** Position of this file in its download (to keep the order after recovery). */
  index: number;
  createdAt: string;
}

export const PARTIAL_DIR = ".partial";
export const partPath = (partialDir: string, name: string): string => join(partialDir, `${name}.part`);
export const statePath = (partialDir: string, name: string): string => join(partialDir, `${name}.part.json`);

/** Writes the state atomically (temp file then rename). */
export async function writeState(partialDir: string, s: PartialState): Promise<void> {
  const target = statePath(partialDir, s.name);
  const tmp = `${target}.tmp`;
  await writeFile(tmp, JSON.stringify(s, null, 2));
  await rename(tmp, target);
}

const isState = (v: any): v is PartialState =>
  v && v.version === 1 && typeof v.downloadId === "string" && typeof v.repo === "string" && typeof v.path === "string" &&
  typeof v.name === "string" && Number.isSafeInteger(v.size) && v.size >= 0 && typeof v.sha256 === "string" &&
  /^[0-9a-f]{64}$/.test(v.sha256) && Number.isInteger(v.index);

/** All readable state files of the folder; unreadable or foreign ones are skipped. */
export async function readAllStates(partialDir: string): Promise<PartialState[]> {
  let names: string[];
  try {
    names = await readdir(partialDir);
  } catch {
    return [];
  }
  const out: PartialState[] = [];
  for (const n of names) {
    if (!n.endsWith(".part.json")) continue;
    try {
      const v = JSON.parse(await readFile(join(partialDir, n), "utf8"));
      if (isState(v) && `${v.name}.part.json` === n) out.push(v);
    } catch {
      /* a torn or foreign file: ignore */
    }
  }
  return out;
}
