import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { synthesizeModel } from "../../src/engine/synth/synthesize.js";
import { makeHome, startTestServer } from "../helpers/server.js";
import { FakeHub } from "./fake-hub.js";

const REPO = "acme/private-GGUF";
const STORED = "hf_storedToken1234567890";
const ROOT = join(import.meta.dirname, "..", "..");

/** Runs `llmux pull` as a user would, with exactly `env` (no HF_TOKEN unless given). */
function pull(home: string, hubUrl: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const base: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "LLMUX_SECRET", "TMPDIR"]) if (process.env[k] !== undefined) base[k] = process.env[k]!;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "pull", `${REPO}:Q8_0`, "--home", home, "--hub", hubUrl],
      { cwd: ROOT, timeout: 30_000, env: { ...base, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** `llmux pull` sends the token stored through `PUT /admin/hub/token` in its --home; HF_TOKEN wins. */
describe("llmux pull uses the hub token stored by the server", () => {
  let hub: FakeHub;
  let tmp: string;
  let tiny: Buffer;
  let home: string;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "llmux-pulltoken-"));
    await synthesizeModel(join(tmp, "src.gguf"), { preset: "tiny", seed: 7 });
    tiny = await readFile(join(tmp, "src.gguf"));
    hub = await new FakeHub().start();
    hub.repos.set(REPO, { files: new Map([["tiny-Q8_0.gguf", tiny]]) });
    hub.requiredToken = STORED;
    // The token is stored the way an admin stores it: through the running server's API.
    home = await makeHome({ tiny: { preset: "tiny" } });
    const s = await startTestServer({ home });
    try {
      const res = await s.admin("/admin/hub/token", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: STORED }) });
      assert.equal(res.status, 204);
    } finally {
      await s.close();
    }
  });
  after(async () => {
    await hub.stop();
    await rm(tmp, { recursive: true, force: true });
    await rm(home, { recursive: true, force: true });
  });

  it("sends the stored token (from the sealed store of --home) and downloads the private repo", async () => {
    hub.requests.length = 0;
    const r = await pull(home, hub.baseUrl);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await stat(join(home, "models", "tiny-Q8_0.gguf"))).size, tiny.length);
    assert.ok(hub.requests.length > 0 && hub.requests.every((q) => q.authorization === `Bearer ${STORED}`));
    assert.ok(!`${r.stdout}${r.stderr}`.includes(STORED), "the token is never printed");
    await rm(join(home, "models", "tiny-Q8_0.gguf"));
  });

  it("HF_TOKEN from the environment wins over the stored one", async () => {
    hub.requests.length = 0;
    const r = await pull(home, hub.baseUrl, { HF_TOKEN: "hf_fromTheEnvironment" });
    assert.notEqual(r.code, 0, "the hub refused the environment's token");
    assert.match(r.stderr, /HTTP 401.*check the hub token/);
    assert.ok(hub.requests.length > 0 && hub.requests.every((q) => q.authorization === "Bearer hf_fromTheEnvironment"));
    assert.ok(!existsSync(join(home, "models", "tiny-Q8_0.gguf")));
  });

  it("a home with no stored token sends none (and is left without a database or key file)", async () => {
    const fresh = join(tmp, "fresh-home");
    hub.requests.length = 0;
    const r = await pull(fresh, hub.baseUrl);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /HTTP 401/);
    assert.ok(hub.requests.length > 0 && hub.requests.every((q) => q.authorization === undefined));
    assert.ok(!existsSync(join(fresh, "llmux.db")) && !existsSync(join(fresh, "secret.key")));
  });
});
