import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { synthesizeModel } from "../../src/engine/synth/synthesize.js";
import type { DownloadProgress } from "../../src/hub/downloader.js";
import { makeHome, TEST_ADMIN } from "../helpers/server.js";
import { until } from "../pool/helpers.js";
import { FakeHub } from "./fake-hub.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const REPO = "acme/tiny-GGUF";

/** `llmux serve` as a real process (so it can be killed), pointed at the fake hub. */
async function serve(home: string, hubUrl: string): Promise<{ proc: ChildProcess; url: string }> {
  const env: Record<string, string | undefined> = { ...process.env, LLMUX_HUB_URL: hubUrl };
  delete env.HF_TOKEN;
  const proc = spawn(process.execPath, ["--import", "tsx", CLI, "serve", "--port", "0", "--home", home, "--threads", "1"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d) => (out += String(d)));
  proc.stderr!.on("data", (d) => (out += String(d)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /llmux listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearInterval(timer);
        resolve(m[1]);
      }
    }, 20);
    proc.once("exit", (code) => {
      clearInterval(timer);
      reject(new Error(`serve exited ${code}: ${out}`));
    });
  });
  return { proc, url };
}

/** An admin session: the first user registers (first start), or signs in (later starts). */
async function adminHeaders(url: string, first: boolean): Promise<Record<string, string>> {
  const res = await fetch(`${url}/api/auth/${first ? "register" : "login"}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(TEST_ADMIN) });
  assert.equal(res.status, first ? 201 : 200, await res.clone().text());
  const cookie = res.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  return { cookie, "x-llmux-csrf": "1" };
}

/** The must-show: a download interrupted by killing llmux (SIGKILL, no shutdown) resumes from its offset after a restart. */
describe("a download interrupted by killing llmux", () => {
  let hub: FakeHub;
  let home: string;
  let tiny: Buffer;
  let proc: ChildProcess | undefined;

  before(async () => {
    home = await makeHome({ seed: { preset: "tiny" } });
    await synthesizeModel(join(home, "src.gguf"), { preset: "tiny", seed: 7 });
    tiny = await readFile(join(home, "src.gguf"));
    hub = await new FakeHub().start();
    hub.repos.set(REPO, { files: new Map([["tiny-Q8_0.gguf", tiny]]) });
  });
  after(async () => {
    if (proc && proc.exitCode === null) {
      proc.kill("SIGKILL");
      await once(proc, "exit");
    }
    await hub.stop();
    await rm(home, { recursive: true, force: true });
  });

  it("comes back paused after a restart and resumes from its offset with Range, then verifies and installs", async () => {
    // Slow enough to be killed mid-file.
    hub.behaviour.set("tiny-Q8_0.gguf", { chunk: 16_384, delayMs: 25 });
    const first = await serve(home, hub.baseUrl);
    proc = first.proc;
    const h1 = await adminHeaders(first.url, true);
    const started = await fetch(`${first.url}/api/downloads`, { method: "POST", headers: { ...h1, "content-type": "application/json" }, body: JSON.stringify({ repo: REPO, quant: "Q8_0" }) });
    assert.equal(started.status, 202);
    const { id } = (await started.json()) as { id: string };
    await until(async () => {
      const p = (await (await fetch(`${first.url}/api/downloads/${id}`, { headers: h1 })).json()) as DownloadProgress;
      return p.bytesDone >= 100_000;
    }, "100 kB to arrive", 30_000);
    first.proc.kill("SIGKILL");
    await once(first.proc, "exit");
    assert.ok(!existsSync(join(home, "models", "tiny-Q8_0.gguf")), "nothing installed from a half file");

    hub.behaviour.delete("tiny-Q8_0.gguf");
    const second = await serve(home, hub.baseUrl);
    proc = second.proc;
    const h2 = await adminHeaders(second.url, false);
    const { items } = (await (await fetch(`${second.url}/api/downloads`, { headers: h2 })).json()) as { items: DownloadProgress[] };
    const found = items.find((d) => d.id === id);
    assert.ok(found, "the download is known after the restart");
    assert.equal(found.state, "paused");
    const at = found.bytesDone;
    assert.ok(at >= 100_000 && at < tiny.length, `resumes from ${at}`);

    const resumed = await fetch(`${second.url}/api/downloads/${id}/resume`, { method: "POST", headers: { ...h2, "content-type": "application/json" }, body: "{}" });
    assert.equal(resumed.status, 200);
    await until(async () => {
      const p = (await (await fetch(`${second.url}/api/downloads/${id}`, { headers: h2 })).json()) as DownloadProgress;
      assert.notEqual(p.state, "failed", JSON.stringify(p.error));
      return p.state === "done";
    }, "the download to finish", 30_000);
    assert.equal(hub.downloadRequests("tiny-Q8_0.gguf").at(-1)!.range, `bytes=${at}-`);
    assert.deepEqual(await readFile(join(home, "models", "tiny-Q8_0.gguf")), tiny);
    const partialDir = join(home, "models", ".partial");
    assert.deepEqual(existsSync(partialDir) ? readdirSync(partialDir) : [], [], "no partial file or state left");
    // Installed and served without another restart.
    await until(async () => {
      const m = (await (await fetch(`${second.url}/v1/models`)).json()) as { data: { id: string }[] };
      return m.data.some((x) => x.id === "tiny-Q8_0");
    }, "the new model in /v1/models", 10_000);
    second.proc.kill("SIGTERM");
    await once(second.proc, "exit");
  });
});
