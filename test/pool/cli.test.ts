import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { listLoaded } from "../../src/cli/local-models.js";
import { ServerClient } from "../../src/cli/server-client.js";
import { LONG_GENERATION, startTestServer, type TestServer } from "../helpers/server.js";
import { chat, until } from "./helpers.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** Runs the real CLI; resolves its exit code and output. */
async function llmux(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", "tsx", CLI, ...args], { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout, err: err.stderr };
  }
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

describe("llmux ls, ps and rm", () => {
  let s: TestServer;
  /** An admin's API key: how a terminal reaches the pool's admin routes (a terminal has no session). */
  let key: string;
  before(async () => {
    s = await startTestServer({ models: { tiny: { preset: "tiny" }, emb: { preset: "tiny-embed" } } });
    const res = await s.admin("/api/keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "cli" }) });
    assert.equal(res.status, 201);
    key = ((await res.json()) as { secret: string }).secret;
  });
  after(() => s.close());

  it("ls lists the models folder with metadata, without a server", async () => {
    const r = await llmux(["ls", "--home", s.home]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split("\n");
    assert.match(lines[0], /^NAME\s+ARCH\s+PARAMS\s+QUANT\s+CONTEXT\s+SIZE\s+CAPABILITIES$/);
    assert.match(r.out, /^tiny\s+qwen2\s+[\d.]+M\s+F32\s+4096\s+[\d.]+ MiB\s+chat,tools,synthetic$/m);
    assert.match(r.out, /^emb\s+bert\s+.*embeddings,synthetic$/m);
  });

  it("ls of a home that is not there lists nothing and creates nothing", async () => {
    const home = join(tmpdir(), `llmux-no-home-${process.pid}`);
    const r = await llmux(["ls", "--home", home]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^NAME\s+ARCH/);
    assert.equal(r.out.trim().split("\n").length, 1);
    assert.ok(!existsSync(home), "no folder was created");
  });

  it("models ls prints what ls prints", async () => {
    const [a, b] = await Promise.all([llmux(["ls", "--home", s.home]), llmux(["models", "ls", "--home", s.home])]);
    assert.equal(b.code, 0, b.err);
    assert.equal(b.out, a.out);
  });

  it("models synth refuses to replace an existing model file unless --force", async () => {
    const home = mkdtempSync(join(tmpdir(), "llmux-synth-"));
    try {
      const first = await llmux(["models", "synth", "m", "--home", home]);
      assert.equal(first.code, 0, first.err);
      const file = join(home, "models", "m.gguf");
      const before = readFileSync(file);
      const again = await llmux(["models", "synth", "m", "--seed", "2", "--home", home]);
      assert.notEqual(again.code, 0);
      assert.match(again.err, /m\.gguf exists: pick another name, or pass --force/);
      assert.ok(readFileSync(file).equals(before), "the file is kept");
      // A split set named m2 (its parts, not m2.gguf) is a model too, even with a part missing.
      copyFileSync(file, join(home, "models", "m2-00001-of-00002.gguf"));
      const shadow = await llmux(["models", "synth", "m2", "--home", home]);
      assert.notEqual(shadow.code, 0);
      assert.match(shadow.err, /a model named 'm2' is already in/);
      const forced = await llmux(["models", "synth", "m", "--seed", "2", "--force", "--home", home]);
      assert.equal(forced.code, 0, forced.err);
      assert.ok(!readFileSync(file).equals(before), "--force replaces it");
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it("ps shows what the running server has loaded", async () => {
    assert.equal((await chat(s, "tiny")).status, 200);
    const wrong = await llmux(["ps", "--url", s.url, "--api-key", "llmux-sk-test"]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /invalid API key/);
    const r = await llmux(["ps", "--url", s.url, "--api-key", key]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^tiny\s+chat\s+ready\s+[\d.]+ MiB\s+[\d.]+ MiB\s+0\/4\s+2048\s+1\s/m);
    assert.match(r.out, /pool: .* of .*, 1 of \d+ models/);
  });

  it("ps without a server says so and fails", async () => {
    const r = await llmux(["ps", "--url", `http://127.0.0.1:${await closedPort()}`]);
    assert.equal(r.code, 1);
    assert.match(r.err, /no llmux server at/);
  });

  it("rm deletes through the running server: it unloads the model and deletes the file in the server's own home", async () => {
    copyFileSync(join(s.home, "models", "tiny.gguf"), join(s.home, "models", "spare.gguf"));
    assert.equal((await chat(s, "spare")).status, 200);
    assert.ok(s.app.pool.has("spare"));
    // --home names another folder: with a server up, the server's models folder is the one that counts.
    const elsewhere = mkdtempSync(join(tmpdir(), "llmux-rm-"));
    try {
      const noKey = await llmux(["rm", "spare", "--home", elsewhere, "--url", s.url], { LLMUX_API_KEY: "" });
      assert.equal(noKey.code, 1);
      assert.match(noKey.err, /set LLMUX_API_KEY or pass --api-key/);
      assert.ok(existsSync(join(s.home, "models", "spare.gguf")), "a refused rm deletes nothing");
      const r = await llmux(["rm", "spare", "--home", elsewhere, "--url", s.url], { LLMUX_API_KEY: key });
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /removed spare \(unloaded and deleted by the server at http/);
      assert.equal(s.app.pool.has("spare"), false);
      assert.equal(existsSync(join(s.home, "models", "spare.gguf")), false);
      assert.equal(s.app.registry.has("spare"), false, "the server no longer lists it");
      const again = await llmux(["rm", "spare", "--url", s.url], { LLMUX_API_KEY: key });
      assert.equal(again.code, 1);
      assert.match(again.err, /model 'spare' does not exist on the server at/);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("rm through the server refuses a model serving a request (409 model_busy) and keeps its file", async () => {
    copyFileSync(join(s.home, "models", "tiny.gguf"), join(s.home, "models", "busy.gguf"));
    await s.app.registry.refresh();
    const controller = new AbortController();
    const stream = await s.openai.chat.completions.create(
      { model: "busy", messages: [{ role: "user", content: "write" }], stream: true, ...LONG_GENERATION } as never,
      { signal: controller.signal },
    );
    const iter = (stream as unknown as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    try {
      await iter.next();
      const r = await llmux(["rm", "busy", "--url", s.url, "--api-key", key]);
      assert.equal(r.code, 1);
      assert.match(r.err, /model 'busy' is serving 1 request/);
      assert.ok(existsSync(join(s.home, "models", "busy.gguf")));
    } finally {
      controller.abort();
      await iter.return?.().catch(() => {});
    }
    const done = await until(async () => {
      const r = await llmux(["rm", "busy", "--url", s.url, "--api-key", key]);
      return r.code === 0 ? r : undefined;
    }, "rm to succeed once the request ended", 30_000);
    assert.match(done.out, /removed busy/);
    assert.equal(existsSync(join(s.home, "models", "busy.gguf")), false);
  });

  it("rm works with no server up, and fails clearly for an unknown model", async () => {
    copyFileSync(join(s.home, "models", "tiny.gguf"), join(s.home, "models", "spare2.gguf"));
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await llmux(["rm", "spare2", "--home", s.home, "--url", url]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /removed spare2 from .* \(no server at/);
    assert.equal(existsSync(join(s.home, "models", "spare2.gguf")), false);
    const unknown = await llmux(["rm", "nothing", "--home", s.home, "--url", url]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /model 'nothing' does not exist/);
  });
});

describe("the CLI's server client", () => {
  it("says a server that answers 200 with something other than llmux's JSON is not llmux (not a TypeError)", async () => {
    const bodies = ["<html>hello</html>", "[]", "{}"];
    const srv = createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end(bodies.shift()));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      for (let i = 0; i < 3; i++) await assert.rejects(listLoaded(new ServerClient({ url })), /is it an llmux server\?/);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it("sends the API key as a bearer token (flag over LLMUX_API_KEY) and turns problems into messages", async () => {
    const seen: (string | undefined)[] = [];
    const srv = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(401, { "content-type": "application/problem+json" }).end(JSON.stringify({ status: 401, code: "unauthorized", detail: "sign in first" }));
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    const saved = process.env.LLMUX_API_KEY;
    try {
      process.env.LLMUX_API_KEY = "from-env";
      await assert.rejects(new ServerClient({ url }).request("GET", "/admin/pool"), /sign in first \(set LLMUX_API_KEY or pass --api-key\)/);
      await assert.rejects(new ServerClient({ url, apiKey: "from-flag" }).request("GET", "/admin/pool"));
      assert.deepEqual(seen, ["Bearer from-env", "Bearer from-flag"]);
    } finally {
      if (saved === undefined) delete process.env.LLMUX_API_KEY;
      else process.env.LLMUX_API_KEY = saved;
      await new Promise((r) => srv.close(r));
    }
  });
});
