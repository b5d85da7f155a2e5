import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { resolveServeConfig, DEFAULT_PORT } from "../../src/config.js";
import { defaultPoolSettings } from "../../src/engine/pool/pool-settings.js";
import { makeHome } from "../helpers/server.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** Starts `llmux serve` as a real process and waits for its "listening on" line. */
async function serve(args: string[], env: Record<string, string> = {}): Promise<{ proc: ChildProcess; url: string; out: () => string }> {
  const proc = spawn(process.execPath, ["--import", "tsx", CLI, "serve", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += String(d)));
  proc.stderr!.on("data", (d) => (out += String(d)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /llmux listening on (http:\/\/\S+)/.exec(out);
      // The start-up summary ends with the models line (written after an await): wait for it too.
      if (m && /^models \(\d+\)/m.test(out)) {
        clearInterval(timer);
        resolve(m[1]);
      }
    }, 20);
    proc.once("exit", (code) => {
      clearInterval(timer);
      reject(new Error(`serve exited ${code}: ${out}`));
    });
  });
  return { proc, url, out: () => out };
}

describe("llmux serve", () => {
  let home: string;
  before(async () => {
    home = await makeHome({ tiny: { preset: "tiny" } });
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  it("prints where it listens, the data folder and the models found", async () => {
    const s = await serve(["--port", "0", "--home", home, "--threads", "1"]);
    try {
      await new Promise((r) => setTimeout(r, 100));
      assert.match(s.out(), new RegExp(`data folder: ${home}`));
      assert.match(s.out(), /models \(1\): tiny \(synthetic\)/);
      assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      s.proc.kill("SIGTERM");
      await once(s.proc, "exit");
    }
  });

  it("a first start with an empty models folder creates the synthetic llmux-demo model and answers with it", async () => {
    const empty = mkdtempSync(join(tmpdir(), "llmux-empty-"));
    const s = await serve(["--port", "0", "--home", empty, "--threads", "1"]);
    try {
      assert.match(s.out(), /models \(1\): llmux-demo \(synthetic\)/);
      const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const res = await client.chat.completions.create({ model: "llmux-demo", messages: [{ role: "user", content: "hi" }], max_tokens: 3 });
      assert.equal(res.model, "llmux-demo");
    } finally {
      s.proc.kill("SIGTERM");
      await once(s.proc, "exit");
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("SIGTERM lets a stream in flight finish, refuses new work and exits 0", async () => {
    const s = await serve(["--home", home, "--threads", "1", "--parallel", "1"], { LLMUX_PORT: "0" });
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: "tiny",
      messages: [{ role: "user", content: "go" }],
      max_tokens: 2000,
      stream: true,
      stream_options: { include_usage: true },
    });
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined = null;
    let signalled = false;
    const exited = once(s.proc, "exit");
    for await (const c of stream) {
      if (!signalled) {
        signalled = true;
        s.proc.kill("SIGTERM");
        // The signal is handled on the server's event loop, which may be busy: poll (bounded) until
        // a new connection is refused, while this stream is still open.
        let refused = false;
        for (let i = 0; i < 150 && !refused; i++) {
          await new Promise((r) => setTimeout(r, 20));
          refused = await fetch(`${s.url}/health`, { headers: { connection: "close" } }).then(
            () => false,
            () => true,
          );
        }
        assert.ok(refused, "new connections are refused while draining");
      }
      finish = c.choices[0]?.finish_reason ?? finish;
      usage = c.usage ?? usage;
    }
    assert.ok(finish === "length" || finish === "stop", `the stream completed (finish ${finish})`);
    assert.ok(usage && usage.completion_tokens > 0);
    const [code] = await exited;
    assert.equal(code, 0);
    assert.match(s.out(), /SIGTERM: shutting down/);
  });
});

describe("configuration precedence", () => {
  it("a malformed environment value stops the start with a message naming it, as the matching flag does", () => {
    const saved = { ...process.env };
    const cpus = availableParallelism();
    try {
      for (const [name, value, message] of [
        ["LLMUX_PORT", "abc", /LLMUX_PORT must be a whole number from 0 to 65535, not 'abc'/],
        ["LLMUX_PORT", "70000", /LLMUX_PORT must be/],
        ["LLMUX_THREADS", "-1", /LLMUX_THREADS must be a whole number from 1/],
        ["LLMUX_THREADS", String(cpus + 1), /LLMUX_THREADS must be a whole number from 1 to \d+ \(this machine's CPUs\)/],
        ["LLMUX_PARALLEL", "0", /LLMUX_PARALLEL must be/],
        ["LLMUX_LOG_LEVEL", "loud", /LLMUX_LOG_LEVEL must be one of/],
        ["LLMUX_BODY_LIMIT_MB", "0", /LLMUX_BODY_LIMIT_MB must be a whole number from 1 to 1024/],
      ] as const) {
        process.env = { ...saved, [name]: value };
        assert.throws(() => resolveServeConfig(), message, `${name}=${value}`);
      }
      process.env = { ...saved };
      assert.throws(() => resolveServeConfig({ engine: { threads: cpus + 1 } }), /--threads must be at most/);
      for (const [name, value] of [["LLMUX_POOL_BUDGET", "garbage"], ["LLMUX_MAX_MODELS", "-4"], ["LLMUX_KEEP_ALIVE", "abc"]] as const) {
        assert.throws(() => defaultPoolSettings({ [name]: value }), new RegExp(name), `${name}=${value}`);
      }
      assert.deepEqual(defaultPoolSettings({ LLMUX_POOL_BUDGET: "50%", LLMUX_MAX_MODELS: "2", LLMUX_KEEP_ALIVE: "" }), { budget: "50%", maxModels: 2, keepAliveS: 300, pinned: [] });
    } finally {
      process.env = saved;
    }
  });


  it("flags beat environment, which beats defaults", () => {
    const saved = { ...process.env };
    try {
      delete process.env.LLMUX_HOST;
      delete process.env.LLMUX_PORT;
      delete process.env.LLMUX_HOME;
      delete process.env.LLMUX_BODY_LIMIT_MB;
      const d = resolveServeConfig();
      assert.equal(d.bodyLimit, 32 * 1024 * 1024);
      process.env.LLMUX_BODY_LIMIT_MB = "2";
      assert.equal(resolveServeConfig().bodyLimit, 2 * 1024 * 1024);
      assert.equal(d.host, "127.0.0.1");
      assert.equal(d.port, DEFAULT_PORT);
      assert.match(d.home, /\.llmux$/);
      process.env.LLMUX_HOST = "::1";
      process.env.LLMUX_PORT = "9999";
      process.env.LLMUX_HOME = "/tmp/from-env";
      const e = resolveServeConfig();
      assert.deepEqual([e.host, e.port, e.home], ["::1", 9999, "/tmp/from-env"]);
      const f = resolveServeConfig({ host: "127.0.0.2", port: 1234, home: "/tmp/from-flag" });
      assert.deepEqual([f.host, f.port, f.home], ["127.0.0.2", 1234, "/tmp/from-flag"]);
    } finally {
      process.env = saved;
    }
  });
});
