import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { synthesizeModel } from "../../src/engine/synth/synthesize.js";
import type { DownloadProgress } from "../../src/hub/downloader.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { FakeHub } from "./fake-hub.js";

const REPO = "acme/tiny-GGUF";
let hub: FakeHub;
let s: TestServer;
let tmp: string;
let tiny: Buffer;
const savedHubUrl = process.env.LLMUX_HUB_URL;

const api = async (path: string, init: RequestInit = {}) => {
  const res = await s.admin(path, { ...init, headers: init.body ? { "content-type": "application/json" } : {} });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
};

/** Reads `GET /api/downloads/:id/events` until the server ends the stream. */
async function followEvents(id: string): Promise<DownloadProgress[]> {
  const res = await s.admin(`/api/downloads/${id}/events`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((f) => f.trim())
    .map((f) => {
      const data = f.split("\n").find((l) => l.startsWith("data: "));
      return JSON.parse(data!.slice("data: ".length)) as DownloadProgress;
    });
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "llmux-hubhttp-"));
  await synthesizeModel(join(tmp, "src.gguf"), { preset: "tiny", seed: 7 });
  tiny = await readFile(join(tmp, "src.gguf"));
  hub = await new FakeHub().start();
  hub.repos.set(REPO, { files: new Map([["tiny-Q8_0.gguf", tiny], ["slow-Q4_K_M.gguf", tiny]]) });
  hub.behaviour.set("slow-Q4_K_M.gguf", { chunk: 4096, delayMs: 40 });
  hub.models.push(
    { id: REPO, downloads: 10, likes: 1, lastModified: "2025-01-01T00:00:00.000Z", tags: ["gguf"] },
    { id: "other/big-GGUF", downloads: 99, likes: 5, lastModified: "2024-01-01T00:00:00.000Z", tags: ["gguf"] },
  );
  process.env.LLMUX_HUB_URL = hub.baseUrl;
  try {
    s = await startTestServer();
  } finally {
    if (savedHubUrl === undefined) delete process.env.LLMUX_HUB_URL;
    else process.env.LLMUX_HUB_URL = savedHubUrl;
  }
});

after(async () => {
  await s?.close();
  await hub?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe("hub and download routes", () => {
  it("searches the hub and lists a repo's files by quantization", async () => {
    const found = await api("/api/hub/search?q=tiny&sort=downloads&limit=5");
    assert.equal(found.status, 200);
    assert.deepEqual(found.body.items.map((m: { id: string }) => m.id), [REPO]);
    const bad = await api("/api/hub/search?limit=0");
    assert.equal(bad.status, 400);

    const files = await api(`/api/hub/repos/${REPO}/files`);
    assert.equal(files.status, 200);
    assert.deepEqual(files.body.groups.map((g: { quantization: string }) => g.quantization).sort(), ["Q4_K_M", "Q8_0"]);
  });

  it("downloads by quant with SSE progress; the model then serves chat", async () => {
    const started = await api("/api/downloads", { method: "POST", body: JSON.stringify({ repo: REPO, quant: "q8_0" }) });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const events = await followEvents(started.body.id);
    const last = events.at(-1)!;
    assert.equal(last.state, "done");
    assert.equal(last.bytesTotal, tiny.length);
    assert.equal(last.bytesDone, tiny.length);
    assert.equal((await stat(join(s.home, "models", "tiny-Q8_0.gguf"))).size, tiny.length);

    const one = await api(`/api/downloads/${started.body.id}`);
    assert.equal(one.body.state, "done");
    const unknown = await api("/api/downloads/no-such-id");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, "download_not_found");
    const all = await api("/api/downloads");
    assert.ok(all.body.items.some((d: { id: string }) => d.id === started.body.id));

    const models = await s.openai.models.list();
    assert.ok(models.data.some((m) => m.id === "tiny-Q8_0"));
    const chat = await s.openai.chat.completions.create({ model: "tiny-Q8_0", messages: [{ role: "user", content: "hi" }], max_tokens: 4 });
    assert.equal(chat.choices.length, 1);
  });

  it("refuses ambiguous or missing picks with 400", async () => {
    const ambiguous = await api("/api/downloads", { method: "POST", body: JSON.stringify({ repo: REPO }) });
    assert.equal(ambiguous.status, 400);
    const none = await api("/api/downloads", { method: "POST", body: JSON.stringify({ repo: REPO, quant: "F16" }) });
    assert.equal(none.status, 400);
    assert.match(JSON.stringify(none.body), /quant/);
    const badFile = await api("/api/downloads", { method: "POST", body: JSON.stringify({ repo: REPO, files: ["nope.gguf"] }) });
    assert.equal(badFile.status, 400);
  });

  it("pauses, resumes and cancels, leaving nothing behind", async () => {
    const started = await api("/api/downloads", { method: "POST", body: JSON.stringify({ repo: REPO, quant: "Q4_K_M" }) });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const id = started.body.id;
    const paused = await api(`/api/downloads/${id}/pause`, { method: "POST", body: "{}" });
    assert.equal(paused.status, 200);
    assert.equal(paused.body.state, "paused");
    const resumed = await api(`/api/downloads/${id}/resume`, { method: "POST", body: "{}" });
    assert.equal(resumed.status, 200);
    assert.notEqual(resumed.body.state, "paused");
    const cancelled = await api(`/api/downloads/${id}`, { method: "DELETE" });
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, "cancelled");
    assert.ok(!existsSync(join(s.home, "models", "slow-Q4_K_M.gguf")));
    const partial = await readdir(join(s.home, "models", ".partial")).catch(() => [] as string[]);
    assert.deepEqual(partial.filter((f) => f.startsWith("slow-")), []);
  });

  it("answers 404 problems for an unknown download id", async () => {
    for (const [method, path] of [["GET", "/api/downloads/nope"], ["GET", "/api/downloads/nope/events"], ["DELETE", "/api/downloads/nope"], ["POST", "/api/downloads/nope/pause"]]) {
      const res = await api(path, { method, ...(method === "POST" ? { body: "{}" } : {}) });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.ok(res.body.request_id);
    }
  });
});

describe("llmux pull", () => {
  it("downloads REPO:QUANT into --home without a server", async () => {
    const home = join(tmp, "cli-home");
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "pull", `${REPO}:Q8_0`, "--home", home, "--hub", hub.baseUrl],
      { cwd: join(import.meta.dirname, "..", ".."), timeout: 20_000 },
    );
    const file = join(home, "models", "tiny-Q8_0.gguf");
    assert.equal((await stat(file)).size, tiny.length);
    assert.match(stdout, /tiny-Q8_0\.gguf/);
    assert.match(stderr, /100\.0%/);
  });
});
