import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { checkExposure, isLoopbackHost } from "../../src/auth/exposure.js";
import { resolveServeConfig } from "../../src/config.js";
import { makeHome, startTestServer } from "../helpers/server.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** Runs the real CLI until it prints `until` (then SIGTERM) or exits; returns its exit code and output. */
async function runCli(args: string[], opts: { stdin?: string; until?: RegExp; env?: Record<string, string> } = {}): Promise<{ code: number | null; out: string }> {
  const env = { ...process.env, ...opts.env };
  delete env.LLMUX_REQUIRE_API_KEY;
  const proc = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { env: { ...env, ...opts.env }, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  proc.stdout.on("data", (d) => (out += String(d)));
  proc.stderr.on("data", (d) => (out += String(d)));
  proc.stdin.end(opts.stdin ?? "");
  const exited = once(proc, "exit");
  if (opts.until) {
    const timer = setInterval(() => {
      if (opts.until!.test(out)) proc.kill("SIGTERM");
    }, 20);
    await exited;
    clearInterval(timer);
  } else await exited;
  return { code: proc.exitCode, out };
}

describe("exposure policy", () => {
  let home: string;
  before(async () => {
    home = await makeHome({ tiny: { preset: "tiny" } });
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  it("loopback names are recognised; other addresses need keys or an explicit opt-out", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"]) assert.ok(isLoopbackHost(h), h);
    for (const h of ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com"]) assert.ok(!isLoopbackHost(h), h);
    assert.throws(() => checkExposure({ host: "0.0.0.0", requireApiKey: false, insecureNoAuth: false }), /refusing to listen on 0\.0\.0\.0 without API keys/);
    assert.deepEqual(checkExposure({ host: "0.0.0.0", requireApiKey: true, insecureNoAuth: false }), {});
    assert.match(checkExposure({ host: "::", requireApiKey: false, insecureNoAuth: true }).warning!, /INSECURE/);
  });

  it("`llmux serve --host 0.0.0.0` without keys exits non-zero with a clear message", async () => {
    const r = await runCli(["serve", "--host", "0.0.0.0", "--port", "0", "--home", home, "--threads", "1"]);
    assert.equal(r.code, 1);
    assert.match(r.out, /refusing to listen on 0\.0\.0\.0 without API keys/);
    assert.match(r.out, /--require-api-key/);
    assert.doesNotMatch(r.out, /listening on/);
  });

  it("with --require-api-key (or LLMUX_REQUIRE_API_KEY=1) it starts and says keys are required", async () => {
    const r = await runCli(["serve", "--host", "0.0.0.0", "--port", "0", "--home", home, "--threads", "1", "--require-api-key"], { until: /admin API/ });
    assert.match(r.out, /llmux listening on http:\/\/0\.0\.0\.0:\d+/);
    assert.match(r.out, /inference API \(\/v1\): API key required/);
    const saved = process.env.LLMUX_REQUIRE_API_KEY;
    try {
      process.env.LLMUX_REQUIRE_API_KEY = "1";
      assert.equal(resolveServeConfig().requireApiKey, true);
      assert.equal(resolveServeConfig({ requireApiKey: false }).requireApiKey, false, "an explicit option wins");
    } finally {
      if (saved === undefined) delete process.env.LLMUX_REQUIRE_API_KEY;
      else process.env.LLMUX_REQUIRE_API_KEY = saved;
    }
  });

  it("--insecure-no-auth starts but warns at every start", async () => {
    const r = await runCli(["serve", "--host", "0.0.0.0", "--port", "0", "--home", home, "--threads", "1", "--insecure-no-auth"], { until: /admin API/ });
    assert.match(r.out, /INSECURE: listening on 0\.0\.0\.0 with an open inference API/);
    assert.match(r.out, /llmux listening on/);
  });
});

describe("llmux users create-admin", () => {
  let home: string;
  before(() => {
    home = mkdtempSync(join(tmpdir(), "llmux-users-"));
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  it("creates an approved admin from a password on stdin, refuses bad input and duplicates", async () => {
    const short = await runCli(["users", "create-admin", "--email", "ops@llmux.test", "--password-stdin", "--home", home], { stdin: "short\n" });
    assert.equal(short.code, 1);
    assert.match(short.out, /password must be 8-1024 characters/);
    const badEmail = await runCli(["users", "create-admin", "--email", "not-an-email", "--password-stdin", "--home", home], { stdin: "long-enough-password\n" });
    assert.equal(badEmail.code, 1);
    assert.match(badEmail.out, /is not an email address/);

    const ok = await runCli(["users", "create-admin", "--email", "ops@llmux.test", "--password-stdin", "--home", home], { stdin: "ops-password-1\n" });
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /created admin ops@llmux\.test \(usr_[0-9a-f]{32}\)/);
    assert.doesNotMatch(ok.out, /ops-password-1/);
    // A second admin on a home that has users: also an approved admin (not pending).
    const second = await runCli(["users", "create-admin", "--email", "ops2@llmux.test", "--home", home], { env: { LLMUX_ADMIN_PASSWORD: "ops2-password" } });
    assert.equal(second.code, 0, second.out);
    const dup = await runCli(["users", "create-admin", "--email", "OPS@llmux.test", "--password-stdin", "--home", home], { stdin: "ops-password-1\n" });
    assert.equal(dup.code, 1);
    assert.match(dup.out, /already exists/);

    // The server on that home: both sign in as admins (the trailing newline was not part of the password).
    const s = await startTestServer({ home, models: {} });
    try {
      for (const [email, password] of [["ops@llmux.test", "ops-password-1"], ["ops2@llmux.test", "ops2-password"]]) {
        const res = await fetch(`${s.url}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
        assert.equal(res.status, 200, email);
        const { user } = (await res.json()) as { user: { role: string; status: string } };
        assert.deepEqual([user.role, user.status], ["admin", "approved"]);
      }
    } finally {
      await s.close();
    }
  });
});
