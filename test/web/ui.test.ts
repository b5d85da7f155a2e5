/**
 * The web UI end to end in a real browser (Debian's chromium via playwright-core) against a
 * real llmux with the tiny synthetic model and a fake Hugging Face hub. Each test saves a
 * screenshot under docs/screenshots/.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { synthesizeModel } from "../../src/engine/synth/synthesize.js";
import { FakeHub } from "../hub/fake-hub.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { openBrowser, type Browser } from "./browser.js";
import { ensureWebBuild } from "./build-web.js";

const SHOTS = fileURLToPath(new URL("../../docs/screenshots/", import.meta.url));
const REPO = "acme/tiny-GGUF";
const SLOW_REPO = "acme/slow-GGUF";
let s: TestServer;
let hub: FakeHub;
let b: Browser;
let tmp: string;
const savedHubUrl = process.env.LLMUX_HUB_URL;

const shot = (name: string) => b.page.screenshot({ path: join(SHOTS, `${name}.png`) });

before(async () => {
  ensureWebBuild();
  mkdirSync(SHOTS, { recursive: true });
  tmp = await mkdtemp(join(tmpdir(), "llmux-web-"));
  await synthesizeModel(join(tmp, "src.gguf"), { preset: "tiny", seed: 7 });
  hub = await new FakeHub().start();
  // Trickled, so the progress bar has steps to show before 100%.
  hub.repos.set(REPO, { files: new Map([["tiny-Q8_0.gguf", readFileSync(join(tmp, "src.gguf"))]]) });
  hub.behaviour.set("tiny-Q8_0.gguf", { chunk: 128 * 1024, delayMs: 40 });
  hub.repos.set(SLOW_REPO, { files: new Map([["slow-Q4_K_M.gguf", readFileSync(join(tmp, "src.gguf"))]]) });
  hub.behaviour.set("slow-Q4_K_M.gguf", { chunk: 16 * 1024, delayMs: 60 });
  hub.models.push(
    { id: REPO, downloads: 1234, likes: 5, lastModified: "2025-01-01T00:00:00.000Z", tags: ["gguf"] },
    { id: SLOW_REPO, downloads: 12, likes: 1, lastModified: "2025-01-01T00:00:00.000Z", tags: ["gguf"] },
  );
  process.env.LLMUX_HUB_URL = hub.baseUrl;
  try {
    s = await startTestServer();
  } finally {
    if (savedHubUrl === undefined) delete process.env.LLMUX_HUB_URL;
    else process.env.LLMUX_HUB_URL = savedHubUrl;
  }
  b = await openBrowser(s.url);
});

after(async () => {
  await b?.close();
  await s?.close();
  await hub?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Page errors and console errors except the 404s of APIs this server does not have yet. */
const realProblems = () => b.problems.filter((p) => !/Failed to load resource: the server responded with a status of 404/.test(p));

describe("web UI in a browser", () => {
  it("streams a chat answer from the tiny model, with TTFT and tok/s under it", async () => {
    const page = b.page;
    await page.goto("/chat");
    await page.getByLabel("Model").selectOption("tiny");
    await page.getByRole("button", { name: "Settings" }).click();
    // Greedy decoding: the tiny model's answer is the same every run (and not empty).
    await page.getByLabel("Temperature").fill("0");
    await page.getByLabel("Max tokens").fill("48");
    await page.getByLabel("Max tokens").blur();
    await page.getByLabel("Message").fill("Hello, who are you?");
    // Record whether the Stop button showed while the answer was on its way.
    await page.evaluate(() => {
      const w = window as unknown as { sawStop: boolean };
      w.sawStop = false;
      new MutationObserver(() => {
        if ([...document.querySelectorAll("button")].some((x) => x.textContent?.trim() === "Stop")) w.sawStop = true;
      }).observe(document.body, { childList: true, subtree: true });
    });
    await page.getByRole("button", { name: "Send" }).click();
    const answer = page.locator('.msg[data-role="assistant"]').last();
    const stats = answer.getByTestId("answer-stats");
    await stats.getByText(/TTFT \d+ ms/).waitFor({ timeout: 30_000 });
    await stats.getByText(/[1-9]\d* tokens/).waitFor();
    assert.match(await stats.innerText(), /[\d.]+ tok\/s/);
    assert.ok((await answer.locator(".md").innerText()).trim().length > 0, "the answer has text");
    assert.equal(await page.evaluate(() => (window as unknown as { sawStop: boolean }).sawStop), true, "Stop was offered while streaming");
    const audit = (await (await s.admin("/admin/audit?route=/v1/chat/completions&limit=1")).json()) as { items: { stream: number; status: string }[] };
    assert.deepEqual([audit.items[0].stream, audit.items[0].status], [1, "success"], "the UI asked for a stream");
    // The conversation is kept in the browser: it is still there after a reload.
    await page.reload();
    await page.locator('.msg[data-role="user"]').getByText("Hello, who are you?").waitFor();
    await shot("chat");
    assert.deepEqual(realProblems(), []);
  });

  it("stops an Anthropic-protocol stream midway, then retries it", async () => {
    const page = b.page;
    await page.getByRole("button", { name: "New chat" }).click();
    await page.getByLabel("Protocol").selectOption("anthropic");
    await page.getByLabel("Model").selectOption("tiny");
    await page.getByRole("button", { name: "Settings" }).click();
    assert.equal(await page.getByLabel("Temperature").inputValue(), "0", "a new chat keeps the last chat's settings");
    // Greedy decoding never samples the end token early here: 1900 tokens take seconds.
    await page.getByLabel("Max tokens").fill("1900");
    await page.getByLabel("Max tokens").blur();
    await page.getByLabel("Message").fill("Tell me a long story");
    await page.getByRole("button", { name: "Send" }).click();
    const answer = page.locator('.msg[data-role="assistant"]').last();
    await answer.locator(".md").getByText(/\S/).first().waitFor({ timeout: 30_000 });
    // force: no wait for the button to hold still over two frames while the answer grows around it.
    await page.getByRole("button", { name: "Stop" }).click({ force: true });
    await answer.getByTestId("answer-stats").getByText("stopped").waitFor();
    const partial = (await answer.locator(".md").innerText()).length;
    assert.ok(partial > 0);
    // The server saw the client go: the request is audited as cancelled, over /v1/messages.
    let row: { status: string; stream: number } | undefined;
    for (let i = 0; i < 50 && row?.status !== "cancelled"; i++) {
      row = ((await (await s.admin("/admin/audit?route=/v1/messages&limit=1")).json()) as { items: { status: string; stream: number }[] }).items[0];
      if (row?.status !== "cancelled") await page.waitForTimeout(100);
    }
    assert.deepEqual([row?.status, row?.stream], ["cancelled", 1]);
    // Retry replaces the stopped answer with a new one from the same question.
    await page.getByLabel("Max tokens").fill("16");
    await page.getByLabel("Max tokens").blur();
    await page.getByRole("button", { name: "Retry" }).click();
    await answer.getByTestId("answer-stats").getByText(/16 tokens/).waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('.msg[data-role="assistant"]').count(), 1);
    await shot("chat-anthropic-retry");
    assert.deepEqual(realProblems(), []);
  });

  it("shows an audit row live after a chat, with the live indicator on", async () => {
    const page = b.page;
    await page.goto("/audit");
    await page.getByTestId("live-state").getByText("live").waitFor();
    const rows = page.getByTestId("audit-rows").locator("tr[data-audit-id]");
    const before = await rows.count();
    const r = await s.openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 8 });
    await page.getByTestId("audit-rows").locator("tr[data-audit-id]").nth(before).waitFor({ timeout: 15_000 });
    const top = rows.first();
    assert.match(await top.innerText(), /\/v1\/chat\/completions/);
    assert.ok(r._request_id, "llmux answers with x-request-id");
    assert.ok((await top.innerText()).includes(r._request_id!), "the new row is this chat's");
    await shot("audit-live");
    assert.deepEqual(realProblems(), []);
  });

  it("serves the dashboard under its strict CSP, with the chats of the tests before in its charts", async () => {
    const res = await b.page.goto("/");
    assert.equal(res?.status(), 200);
    assert.match(res?.headers()["content-security-policy"] ?? "", /script-src 'self' 'sha256-/);
    await b.page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await b.page.getByRole("heading", { name: /Last 10 minutes/ }).waitFor();
    // The chats above are in the last 10 minutes: the requests/s line has a point above zero.
    const d = (await b.page.locator("figure.chart path").first().getAttribute("d")) ?? "";
    const ys = [...d.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((m) => Number(m[1]));
    assert.ok(ys.length >= 2 && Math.min(...ys) < Math.max(...ys), `the requests/s line rises somewhere: ${d}`);
    await shot("dashboard");
    assert.deepEqual(realProblems(), []);
  });

  it("changes a timeout in human units", async () => {
    const page = b.page;
    await page.goto("/settings?tab=timeouts");
    const chat = page.getByLabel("chat timeout");
    await chat.waitFor();
    assert.equal(await chat.inputValue(), "15 min");
    await chat.fill("1 h 30 min");
    await page.getByLabel("embeddings timeout").fill("45");
    await page.getByRole("button", { name: "Save timeouts" }).click();
    await page.getByRole("status").getByText("Saved").waitFor();
    const res = await s.admin("/admin/timeouts");
    const body = (await res.json()) as { timeouts: Record<string, number> };
    assert.equal(body.timeouts.chat, 5400);
    assert.equal(body.timeouts.embeddings, 45);
    // An unreadable value is refused in the page, before any request.
    await chat.fill("soon");
    await page.getByRole("button", { name: "Save timeouts" }).click();
    await page.getByText("Write e.g. 90 s").waitFor();
    await shot("settings-timeouts");
    assert.deepEqual(realProblems(), []);
  });

  it("downloads from the hub with a progress bar reaching 100%, still listed after a reload", async () => {
    const page = b.page;
    await page.goto("/models");
    await page.getByLabel("Search the hub").fill("tiny");
    await page.getByRole("button", { name: "Search" }).click();
    const repo = page.locator(`[data-repo="${REPO}"]`);
    await repo.getByRole("button", { name: "Files" }).click();
    await repo.getByLabel(`Quantization for ${REPO}`).selectOption("Q8_0");
    await repo.getByRole("button", { name: "Download" }).click();
    const bar = page.locator("[data-download]").first().getByRole("progressbar");
    const seen = new Set<string>();
    // Sample the bar while it moves: it must pass through values below 100 on the way.
    for (let i = 0; i < 200; i++) {
      const v = await bar.getAttribute("aria-valuenow");
      if (v) seen.add(v);
      if (v === "100") break;
      await page.waitForTimeout(25);
    }
    await page.locator('[data-download][data-state="done"]').waitFor({ timeout: 30_000 });
    assert.equal(await bar.getAttribute("aria-valuenow"), "100");
    assert.ok([...seen].some((v) => Number(v) < 100), `progress seen: ${[...seen].join(",")}`);
    // The new model shows in the list; the finished download survives a reload.
    await page.locator('[data-model="tiny-Q8_0"]').waitFor({ timeout: 10_000 });
    await page.reload();
    await page.locator('[data-download][data-state="done"]').getByRole("progressbar").and(page.locator('[aria-valuenow="100"]')).waitFor();
    await shot("models-download");
    assert.deepEqual(realProblems(), []);
  });

  it("pauses a download, keeps it paused across a reload, resumes it to 100%", async () => {
    const page = b.page;
    await page.goto("/models");
    await page.getByLabel("Search the hub").fill("slow");
    await page.getByRole("button", { name: "Search" }).click();
    const repo = page.locator(`[data-repo="${SLOW_REPO}"]`);
    await repo.getByRole("button", { name: "Files" }).click();
    await repo.getByRole("button", { name: "Download" }).click();
    const card = page.locator("[data-download]").filter({ hasText: SLOW_REPO });
    await card.and(page.locator('[data-state="downloading"]')).waitFor();
    await card.getByRole("button", { name: "Pause" }).click();
    await card.and(page.locator('[data-state="paused"]')).waitFor();
    const pausedAt = Number(await card.getByRole("progressbar").getAttribute("aria-valuenow"));
    assert.ok(pausedAt < 100, `paused before the end (${pausedAt}%)`);
    await page.reload();
    await card.and(page.locator('[data-state="paused"]')).waitFor();
    await card.getByRole("button", { name: "Resume" }).click();
    await card.and(page.locator('[data-state="done"]')).waitFor({ timeout: 30_000 });
    assert.equal(await card.getByRole("progressbar").getAttribute("aria-valuenow"), "100");
    // Resumed, not restarted: the hub saw a Range request for the rest of the file.
    assert.ok(hub.downloadRequests("slow-Q4_K_M.gguf").some((r) => r.range && !/^bytes=0-/.test(r.range)), "resumed with a Range request");
    await shot("models-download-resumed");
    assert.deepEqual(realProblems(), []);
  });

  it("renders every settings tab and the sign-in page", async () => {
    const page = b.page;
    for (const tab of ["providers", "routing", "pool", "users", "keys"]) {
      await page.goto(`/settings?tab=${tab}`);
      await page.getByRole("tab", { selected: true }).waitFor();
      await page.waitForLoadState("networkidle");
      await shot(`settings-${tab}`);
    }
    await page.goto("/signin");
    await page.getByRole("tab", { name: "Register" }).click();
    await page.getByRole("button", { name: "Create account" }).waitFor();
    await shot("signin");
    assert.deepEqual(realProblems(), []);
  });

  it("fits a phone and follows the dark theme toggle", async () => {
    const page = b.page;
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto("/models");
    await page.getByRole("button", { name: "Menu" }).click();
    await page.getByRole("link", { name: "Chat" }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no horizontal scroll on a phone (overflow ${overflow}px)`);
    await page.getByRole("button", { name: "Menu" }).click();
    // system → light → dark
    await page.getByRole("button", { name: /Toggle theme/ }).click();
    await page.getByRole("button", { name: /Toggle theme/ }).click();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, "rgb(15, 17, 23)");
    await shot("phone-dark-models");
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto("/chat");
    await shot("chat-dark");
    assert.deepEqual(realProblems(), []);
  });
});
