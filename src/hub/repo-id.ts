/**
 * Validation of Hugging Face repo ids and of file paths inside a repo, so neither can
 * escape the hub's URL space or llmux's models folder.
 */
import { invalidField } from "../errors/llmux-error.js";
import { isValidModelId } from "../engine/model-registry.js";

const REPO_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

/** Throws `validation_failed` unless `repo` is `owner/name` (no `..`, no extra slashes). */
export function assertRepoId(repo: unknown, field = "repo"): string {
  if (typeof repo !== "string") throw invalidField(field, "must be a string 'owner/name'");
  const parts = repo.split("/");
  if (parts.length !== 2 || !parts.every((p) => REPO_PART.test(p)) || repo.includes("..")) {
    throw invalidField(field, "must be a Hugging Face repo id 'owner/name' (letters, digits, '.', '-', '_'; no '..')");
  }
  return repo;
}

/** Throws `validation_failed` unless `path` is a relative `.gguf` path inside a repo. */
export function assertRepoFilePath(path: unknown, field = "path"): string {
  if (typeof path !== "string" || path.length === 0 || path.length > 512) throw invalidField(field, "must be a non-empty string");
  const segments = path.split("/");
  if (path.startsWith("/") || path.includes("\\") || segments.some((s) => s === "" || s === "." || s === "..") || /[\x00-\x1f]/.test(path)) {
    throw invalidField(field, "must be a relative path inside the repo");
  }
  if (!path.toLowerCase().endsWith(".gguf")) throw invalidField(field, "must name a .gguf file");
  return path;
}

/** The local file name (`<id>.gguf`) a repo file is saved under; its id must be a valid model id. */
export function localModelName(path: string, field = "path"): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  const id = base.slice(0, -".gguf".length);
  if (!isValidModelId(id)) throw invalidField(field, `file name '${base}' is not a valid local model id`);
  return `${id}.gguf`;
}

/** The URL path of a repo file, each segment encoded. */
export const encodeRepoPath = (path: string): string => path.split("/").map(encodeURIComponent).join("/");
