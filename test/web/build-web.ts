/**
 * Makes sure web/build is there and newer than the UI's sources (and the shared API
 * types), building it once when it is missing or stale, so browser tests run the UI
 * they are testing.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

export function ensureWebBuild(): void {
  const index = join(ROOT, "web/build/index.html");
  const inputs = ["web/src", "web/static", "web/svelte.config.js", "web/vite.config.ts", "src/http/api-types.ts"].map((p) => join(ROOT, p));
  if (existsSync(index) && statSync(index).mtimeMs >= Math.max(...inputs.map(newestMtime))) return;
  execFileSync("npm", ["run", "--silent", "build:web"], { cwd: ROOT, stdio: "inherit" });
}
