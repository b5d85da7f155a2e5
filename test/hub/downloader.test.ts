import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { synthesizeModel } from "../../src/engine/synth/synthesize.js";
import { readModelInfo } from "../../src/engine/gguf/model-info.js";
import { DownloadManager, type DownloadManagerOptions, type DownloadProgress } from "../../src/hub/downloader.js";
import { isLlmuxError } from "../../src/errors/llmux-error.js";
import type { HubFile } from "../../src/hub/gguf-files.js";
import { FakeHub, sha256 } from "./fake-hub.js";

const TOKEN = "hf_DownloadSecret987";
const REPO = "acme/tiny-GGUF";
let hub: FakeHub;
let tmp: string;
let tiny: Buffer;
let modelsDir: string;
let n = 0;

const spec = (path: string): HubFile => ({ path, size: tiny.length, sha256: sha256(tiny) });
const manager = (o: Partial<DownloadManagerOptions> = {}) =>
  new DownloadManager({ modelsDir, hubBaseUrl: hub.baseUrl, token: TOKEN, retryDelayMs: 20, progressIntervalMs: 0, ...o });
const partials = async () => (await readdir(join(modelsDir, ".partial")).catch(() => [] as string[])).sort();
const untilBytes = (m: DownloadManager, id: string, min: number) =>
  new Promise<void>((resolve) => {
    const on = (p: DownloadProgress) => {
      if (p.id === id && p.bytesDone >= min) {
        m.off("progress", on);
        resolve();
      }
    };
    m.on("progress", on);
  });
const noToken = (v: unknown) => assert.ok(!JSON.stringify(v).includes(TOKEN), "token leaked");

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "llmux-hub-"));
  await synthesizeModel(join(tmp, "src.gguf"), { preset: "tiny", seed: 7 });
  tiny = await readFile(join(tmp, "src.gguf"));
  hub = await new FakeHub().start();
  const files = new Map<string, Buffer>();
  for (const p of ["a-Q8_0.gguf", "b-Q8_0.gguf", "c-Q8_0.gguf", "drop-Q8_0.gguf", "bad-Q8_0.gguf", "slow-Q8_0.gguf", "dir/nested-Q8_0.gguf"]) files.set(p, tiny);
  hub.repos.set(REPO, { files });
});
after(async () => {
  await hub.stop();
  await rm(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  modelsDir = join(tmp, `models-${++n}`);
  hub.behaviour.clear();
  hub.requests.length = 0;
  hub.maxInFlight = 0;
});

describe("DownloadManager", () => {
  it("downloads, verifies and installs a file readable by readModelInfo, sending the token", async () => {
    const m = manager();
    const events: DownloadProgress[] = [];
    m.on("progress", (p) => events.push(p));
    const id = await m.start(REPO, [spec("dir/nested-Q8_0.gguf")]);
    const end = await m.waitFor(id);
    assert.equal(end.state, "done");
    assert.equal(end.bytesDone, tiny.length);
    assert.deepEqual(await readFile(join(modelsDir, "nested-Q8_0.gguf")), tiny);
    assert.equal((await readModelInfo(join(modelsDir, "nested-Q8_0.gguf"))).architecture.length > 0, true);
    assert.deepEqual(await partials(), []);
    assert.equal(hub.downloadRequests("dir/nested-Q8_0.gguf")[0].authorization, `Bearer ${TOKEN}`);
    const states = new Set(events.map((e) => e.state));
    for (const s of ["queued", "downloading", "verifying", "done"]) assert.ok(states.has(s as never), s);
    noToken(events);
  });

  it("resumes a dropped connection from its offset with Range", async () => {
    hub.behaviour.set("drop-Q8_0.gguf", { dropAfter: 300_000, chunk: 50_000 });
    const m = manager();
    const id = await m.start(REPO, [spec("drop-Q8_0.gguf")]);
    assert.equal((await m.waitFor(id)).state, "done");
    const reqs = hub.downloadRequests("drop-Q8_0.gguf");
    assert.equal(reqs.length, 2);
    assert.equal(reqs[0].range, undefined);
    assert.equal(reqs[1].range, "bytes=300000-");
    assert.deepEqual(await readFile(join(modelsDir, "drop-Q8_0.gguf")), tiny);
    await readModelInfo(join(modelsDir, "drop-Q8_0.gguf"));
  });

  it("fails after the retries when the connection keeps dropping, without leaking the token", async () => {
    hub.behaviour.set("drop-Q8_0.gguf", { dropAfter: 0, dropTimes: 100 });
    const m = manager({ maxRetries: 2 });
    const end = await m.waitFor(await m.start(REPO, [spec("drop-Q8_0.gguf")]));
    assert.equal(end.state, "failed");
    assert.equal(end.error?.code, "upstream_error");
    assert.equal(hub.downloadRequests("drop-Q8_0.gguf").length, 3);
    noToken(end);
  });

  it("rejects and removes a corrupt file", async () => {
    hub.behaviour.set("bad-Q8_0.gguf", { corrupt: true });
    const m = manager();
    const end = await m.waitFor(await m.start(REPO, [spec("bad-Q8_0.gguf")]));
    assert.equal(end.state, "failed");
    assert.match(end.error!.detail, /corrupt.*sha256/);
    assert.deepEqual(await partials(), []);
    assert.deepEqual((await readdir(modelsDir)).filter((f) => f.endsWith(".gguf")), []);
  });

  it("cancel leaves no partial file and no state", async () => {
    hub.behaviour.set("slow-Q8_0.gguf", { chunk: 16_384, delayMs: 10 });
    const m = manager();
    const id = await m.start(REPO, [spec("slow-Q8_0.gguf")]);
    await untilBytes(m, id, 100_000);
    assert.deepEqual(await partials(), ["slow-Q8_0.gguf.part", "slow-Q8_0.gguf.part.json"]);
    const end = await m.cancel(id);
    assert.equal(end.state, "cancelled");
    assert.deepEqual(await partials(), []);
    assert.deepEqual((await readdir(modelsDir)).filter((f) => f.endsWith(".gguf")), []);
  });

  it("pause then resume continues with Range", async () => {
    hub.behaviour.set("slow-Q8_0.gguf", { chunk: 16_384, delayMs: 5 });
    const m = manager();
    const id = await m.start(REPO, [spec("slow-Q8_0.gguf")]);
    await untilBytes(m, id, 100_000);
    const paused = await m.pause(id);
    assert.equal(paused.state, "paused");
    const at = paused.bytesDone;
    assert.ok(at > 0 && at < tiny.length);
    assert.equal(hub.downloadRequests("slow-Q8_0.gguf").length, 1);
    await m.resume(id);
    assert.equal((await m.waitFor(id)).state, "done");
    assert.equal(hub.downloadRequests("slow-Q8_0.gguf")[1].range, `bytes=${at}-`);
    assert.deepEqual(await readFile(join(modelsDir, "slow-Q8_0.gguf")), tiny);
  });

  it("a new manager over the same folder recovers an interrupted download and finishes it", async () => {
    hub.behaviour.set("slow-Q8_0.gguf", { chunk: 16_384, delayMs: 5 });
    const first = manager();
    const id = await first.start(REPO, [spec("slow-Q8_0.gguf")]);
    await untilBytes(first, id, 100_000);
    await first.close(); // the process "dies": partial file and state stay
    hub.behaviour.delete("slow-Q8_0.gguf");
    const second = manager();
    const found = await second.recover();
    assert.equal(found.length, 1);
    assert.equal(found[0].id, id);
    assert.equal(found[0].state, "paused");
    const at = found[0].bytesDone;
    assert.ok(at >= 100_000 && at < tiny.length);
    await second.resume(id);
    assert.equal((await second.waitFor(id)).state, "done");
    assert.equal(hub.downloadRequests("slow-Q8_0.gguf").at(-1)!.range, `bytes=${at}-`);
    assert.deepEqual(await readFile(join(modelsDir, "slow-Q8_0.gguf")), tiny);
    await readModelInfo(join(modelsDir, "slow-Q8_0.gguf"));
    assert.deepEqual(await partials(), []);
    const stateText = JSON.stringify(found);
    noToken(stateText);
  });

  it("refuses a download that does not fit on the disk", async () => {
    const m = manager({ statfs: async () => ({ bavail: 10, bsize: 4096 }) });
    await assert.rejects(m.start(REPO, [spec("a-Q8_0.gguf")]), (e: unknown) => {
      assert.ok(isLlmuxError(e));
      assert.equal(e.code, "validation_failed");
      assert.match(e.detail, /not enough disk space/);
      return true;
    });
    assert.deepEqual(await partials(), []);
    assert.equal(hub.downloadRequests("a-Q8_0.gguf").length, 0);
  });

  it("runs at most maxConcurrent files at once, queueing the rest", async () => {
    for (const p of ["a-Q8_0.gguf", "b-Q8_0.gguf", "c-Q8_0.gguf"]) hub.behaviour.set(p, { chunk: 65_536, delayMs: 5 });
    const m = manager({ maxConcurrent: 2 });
    let maxDownloading = 0;
    m.on("progress", (p: DownloadProgress) => {
      maxDownloading = Math.max(maxDownloading, p.files.filter((f) => f.state === "downloading").length);
    });
    const id = await m.start(REPO, [spec("a-Q8_0.gguf"), spec("b-Q8_0.gguf"), spec("c-Q8_0.gguf")]);
    assert.equal(m.get(id).files.filter((f) => f.state === "queued").length, 1);
    const end = await m.waitFor(id);
    assert.equal(end.state, "done");
    assert.equal(hub.maxInFlight, 2);
    assert.equal(maxDownloading, 2);
    for (const f of ["a", "b", "c"]) assert.deepEqual(await readFile(join(modelsDir, `${f}-Q8_0.gguf`)), tiny);
  });

  it("validates inputs: repo id, path, sha256, missing file on the hub", async () => {
    const m = manager();
    await assert.rejects(m.start("../x", [spec("a-Q8_0.gguf")]), (e: unknown) => isLlmuxError(e) && e.code === "validation_failed");
    await assert.rejects(m.start(REPO, [spec("../a-Q8_0.gguf")]), (e: unknown) => isLlmuxError(e) && e.param === "files.0.path");
    await assert.rejects(m.start(REPO, [{ path: "a-Q8_0.gguf", size: 10 }]), (e: unknown) => isLlmuxError(e) && e.param === "files.0.sha256");
    const end = await m.waitFor(await m.start(REPO, [spec("missing-Q8_0.gguf")]));
    assert.equal(end.state, "failed");
    assert.equal(end.error?.code, "model_not_found");
    noToken(end);
  });
});
