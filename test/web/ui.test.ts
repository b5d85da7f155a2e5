/**
 * The web UI end to end in a real browser (Debian's chromium via playwright-core) against a
 * real llmux with the tiny synthetic model, a fake Hugging Face hub and a fake OpenAI provider
 * (real HTTP servers on 127.0.0.1). Each test saves a screenshot: under test-results/screenshots/
 * by default, under docs/screenshots/ with `LLMUX_SCREENSHOTS=docs/screenshots` (`npm run screenshots`).
 */
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { PoolSettings, PoolStatus } from "../../src/http/api-types.js";
import { synthesizeModel } from "../../src/engine/synth/synthesize.js";
import { formatBytes } from "../../web/src/lib/format.js";
import { FakeHub } from "../hub/fake-hub.js";
import { startTestServer, TEST_ADMIN, type TestServer } from "../helpers/server.js";
import { fake } from "../routing/gateway-fixtures.js";
import type { FakeProvider } from "../providers/fake-provider.js";
import { closeChromium, openBrowser, type Browser } from "./browser.js";
import { ensureWebBuild } from "./build-web.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SHOTS = resolve(ROOT, process.env.LLMUX_SCREENSHOTS || "test-results/screenshots");
const REPO = "acme/tiny-GGUF";
const SLOW_REPO = "acme/slow-GGUF";
const FAKE_ANSWER = "Hello from the fake cloud provider, streamed through llmux.";

/** Saves the page as SHOTS/name.png (transitions finished, e.g. a progress bar's last step). */
const shotOf = (b: Browser) => (name: string) => b.page.screenshot({ path: join(SHOTS, `${name}.png`), animations: "disabled" });

/** Page errors and console errors, less those a test expects (e.g. the 401 of a wrong password). */
const problemsOf = (b: Browser, expected: RegExp[] = []) => b.problems.filter((p) => !expected.some((re) => re.test(p)));
const FAILED_401 = /Failed to load resource: the server responded with a status of 401/;

/** The newest audit row matching `query`, waiting for it (the audit log writes in the background). */
async function auditRow(s: TestServer, query: string): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < 50; i++) {
    const row = ((await (await s.admin(`/admin/audit?${query}&limit=1`)).json()) as { items: Record<string, unknown>[] }).items[0];
    if (row) return row;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

before(() => {
  ensureWebBuild();
  mkdirSync(SHOTS, { recursive: true });
});
after(() => closeChromium());

describe("web UI in a browser, signed in as the admin", () => {
  let s: TestServer;
  let hub: FakeHub;
  let cloud: { fp: FakeProvider; url: string };
  let b: Browser;
  let tmp: string;
  let shot: (name: string) => Promise<Buffer>;
  const realProblems = (expected: RegExp[] = []) => problemsOf(b, expected);

  before(async () => {
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
    cloud = await fake(FAKE_ANSWER);
    cloud.fp.models = ["cloud-mini", "cloud-max"];
    const savedHubUrl = process.env.LLMUX_HUB_URL;
    process.env.LLMUX_HUB_URL = hub.baseUrl;
    try {
      s = await startTestServer();
    } finally {
      if (savedHubUrl === undefined) delete process.env.LLMUX_HUB_URL;
      else process.env.LLMUX_HUB_URL = savedHubUrl;
    }
    b = await openBrowser(s.url);
    shot = shotOf(b);
  });

  after(async () => {
    await b?.close();
    await s?.close();
    await hub?.stop();
    await cloud?.fp.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  beforeEach(() => {
    if (b) b.problems.length = 0;
  });

  it("sends a visitor to the sign-in form, refuses a wrong password, then signs the admin in", async () => {
    const page = b.page;
    await page.goto("/models");
    await page.waitForURL("**/signin");
    await page.getByLabel("Email").fill(TEST_ADMIN.email);
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("alert").getByText("Wrong email or password.").waitFor();
    await shot("signin");
    await page.getByLabel("Password").fill(TEST_ADMIN.password);
    await page.getByRole("button", { name: "Log in" }).click();
    // An admin lands on the dashboard, with the admin pages in the menu and the session cookie set.
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await page.getByRole("navigation").getByRole("link", { name: "Audit log" }).waitFor();
    assert.equal(await page.locator("header .who").innerText(), TEST_ADMIN.email);
    const cookie = (await b.context.cookies()).find((c) => c.name === "llmux_session");
    assert.ok(cookie?.httpOnly, "an httpOnly session cookie");
    // The session survives a reload (the UI asks /api/auth/me, no form again).
    await page.reload();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    // The sign-in page has nothing to offer a signed-in admin.
    await page.goto("/signin");
    await page.waitForURL((u) => u.pathname === "/");
    // Only the expected 401s: /api/auth/me before signing in, and the wrong password.
    assert.deepEqual(realProblems([FAILED_401]), []);
  });


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
    const audited = await auditRow(s, "route=/v1/chat/completions");
    assert.deepEqual([audited?.stream, audited?.status], [1, "success"], "the UI asked for a stream");
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
    // Greedy decoding never samples the end token early here: 4000 tokens (what the 4096-token
    // context leaves) take a few seconds, so the stream is still going when Stop is pressed
    // (with 1900 a loaded machine once finished it first).
    await page.getByLabel("Max tokens").fill("4000");
    await page.getByLabel("Max tokens").blur();
    await page.getByLabel("Message").fill("Tell me a long story");
    await page.getByRole("button", { name: "Send" }).click();
    const answer = page.locator('.msg[data-role="assistant"]').last();
    await answer.locator(".md").getByText(/\S/).first().waitFor({ timeout: 30_000 });
    // A click event on the button in one round trip: no wait for it to hold still over two frames,
    // nor to be scrolled to, while the answer grows around it.
    await page.getByRole("button", { name: "Stop" }).dispatchEvent("click");
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

  it("unloads, loads and pins a model on the Models page; the dashboard shows its memory against the budget", async () => {
    const page = b.page;
    await page.goto("/models");
    const card = page.locator('[data-model="tiny"]');
    // tiny answered the chats above: it is in the pool.
    await card.and(page.locator('[data-state="ready"]')).waitFor();
    assert.match(await card.innerText(), /in memory.*slots \d+\/\d+ busy/s);
    await card.getByRole("button", { name: "Unload" }).click();
    await card.and(page.locator('[data-state="unloaded"]')).waitFor();
    assert.deepEqual(((await (await s.admin("/admin/pool")).json()) as PoolStatus).models, []);
    await card.getByRole("button", { name: "Load" }).click();
    await card.and(page.locator('[data-state="ready"]')).waitFor({ timeout: 30_000 });
    await card.getByRole("button", { name: "Pin" }).click();
    await card.and(page.locator('[data-pinned="true"]')).waitFor();
    assert.deepEqual(((await (await s.admin("/admin/pool/settings")).json()) as PoolSettings).pinned, ["tiny"]);
    await shot("models");
    // The dashboard: the pool's memory in use against its budget, and the model's own row.
    await page.goto("/");
    const pool = (await (await s.admin("/admin/pool")).json()) as PoolStatus;
    const memory = page.getByTestId("pool-memory");
    await memory.getByText(`of ${formatBytes(pool.budget_bytes)}`).waitFor();
    assert.match(await memory.innerText(), /1 of \d+ models/);
    assert.ok(pool.used_bytes > 0);
    const row = page.locator('[data-pool-model="tiny"]');
    assert.match(await row.innerText(), /ready.*pinned.*slots 0\/\d+ busy/s);
    // Pool settings: unpin by clearing the list, and a keep-alive in human units.
    await page.goto("/settings?tab=pool");
    await page.getByLabel("Pinned models (comma-separated)").fill("");
    await page.getByLabel("Keep alive (idle before unload)").fill("10 min");
    await page.getByRole("button", { name: "Save pool settings" }).click();
    await page.getByRole("status").getByText("Saved").waitFor();
    const settings = (await (await s.admin("/admin/pool/settings")).json()) as PoolSettings;
    assert.deepEqual([settings.pinned, settings.keep_alive_s], [[], 600]);
    await shot("settings-pool");
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
    // Delete from disk (after a confirm): gone from the page and from the server's list.
    b.page.once("dialog", (d) => void d.accept());
    const model = page.locator('[data-model="slow-Q4_K_M"]');
    await model.getByRole("button", { name: "Delete" }).click();
    await model.waitFor({ state: "detached" });
    const left = (await (await s.admin("/api/models")).json()) as { models: { id: string }[] };
    assert.ok(!left.models.some((m) => m.id === "slow-Q4_K_M"), "deleted on the server");
    assert.deepEqual(realProblems(), []);
  });

  it("adds a provider and a routing rule in Settings, tests and resolves them, then chats through them", async () => {
    const page = b.page;
    await page.goto("/settings?tab=providers");
    await page.getByText("No cloud provider.").waitFor();
    await page.getByRole("button", { name: "Add provider" }).click();
    await page.getByLabel("Name", { exact: true }).fill("fakecloud");
    await page.getByLabel("Kind").selectOption("openai-compatible");
    await page.getByLabel("Base URL").fill(cloud.url);
    await page.getByLabel("API key").fill("sk-fake-cloud-secret");
    await page.getByLabel(/Extra headers/).fill("x-org: acme");
    await page.getByRole("button", { name: "Save" }).click();
    const card = page.locator("article").filter({ hasText: "fakecloud" });
    await card.getByText("key set").waitFor();
    assert.match(await card.innerText(), /headers: x-org/);
    await card.getByRole("button", { name: "Test" }).click();
    await card.getByRole("status").getByText(/OK in \d+ ms · 2 models: cloud-mini, cloud-max/).waitFor();
    // An edit never shows the key back and cannot rename; it changes what it sends.
    await card.getByRole("button", { name: "Edit" }).click();
    assert.equal(await page.getByLabel("API key").inputValue(), "");
    assert.equal(await page.getByLabel("Name", { exact: true }).isDisabled(), true);
    await page.getByLabel("Timeout (seconds)").fill("20");
    await page.getByRole("button", { name: "Save" }).click();
    await card.getByText(/timeout 20 s/).waitFor();
    assert.ok(!(await page.content()).includes("sk-fake-cloud-secret"), "the key is never in the page");
    const [provider] = ((await (await s.admin("/admin/providers")).json()) as { providers: { timeout_ms: number; has_api_key: boolean; header_names: string[] }[] }).providers;
    assert.deepEqual([provider?.timeout_ms, provider?.has_api_key, provider?.header_names], [20_000, true, ["x-org"]]);
    await shot("settings-providers");

    // A rule sends every name starting with "cloud-" to it; the tester says so.
    await page.getByRole("tab", { name: "Routing" }).click();
    await page.getByText("No rule").waitFor();
    await page.getByLabel("Rule id").fill("cloud");
    await page.getByLabel("Match kind").selectOption("prefix");
    await page.getByLabel("Pattern").fill("cloud-");
    await page.getByLabel("Backend").selectOption("fakecloud");
    await page.getByRole("button", { name: "Add rule" }).click();
    await page.getByRole("button", { name: "Save rules" }).click();
    await page.getByRole("status").getByText(/Saved/).waitFor();
    const { rules } = (await (await s.admin("/admin/routing/rules")).json()) as { rules: { id: string; match: unknown; targets: { backend: string }[] }[] };
    assert.deepEqual(rules.map((r) => [r.id, r.match, r.targets[0]?.backend]), [["cloud", { kind: "prefix", pattern: "cloud-" }, "fakecloud"]]);
    await page.getByLabel("Model name to resolve").fill("cloud-mini");
    await page.getByRole("button", { name: "Resolve" }).click();
    const resolved = page.getByTestId("resolved");
    await resolved.getByText("fakecloud", { exact: true }).waitFor();
    assert.match(await resolved.innerText(), /fakecloud · cloud-mini \(rule cloud\)/);
    await shot("settings-routing");
    await page.getByLabel("Model name to resolve").fill("tiny");
    await page.getByRole("button", { name: "Resolve" }).click();
    await resolved.getByText(/local · tiny/).waitFor();

    // Chat: the provider's models are in the model list; the answer streams from the fake.
    await page.goto("/chat");
    await page.getByRole("button", { name: "New chat" }).click();
    await page.getByLabel("Protocol").selectOption("openai");
    await page.getByLabel("Model").selectOption("cloud-mini");
    await page.getByLabel("Message").fill("Hello, cloud?");
    await page.getByRole("button", { name: "Send" }).click();
    const answer = page.locator('.msg[data-role="assistant"]').last();
    await answer.locator(".md").getByText(FAKE_ANSWER).waitFor({ timeout: 15_000 });
    await answer.getByTestId("answer-stats").getByText(/TTFT \d+ ms/).waitFor();
    const sent = cloud.fp.received.at(-1)!;
    const body = sent.body as { model: string; stream: boolean; messages: { content: string }[] };
    assert.deepEqual([body.model, body.stream, body.messages.at(-1)?.content], ["cloud-mini", true, "Hello, cloud?"]);
    assert.deepEqual([sent.headers.authorization, sent.headers["x-org"]], ["Bearer sk-fake-cloud-secret", "acme"]);
    const row = await auditRow(s, "backend=fakecloud");
    assert.deepEqual([row?.model_requested, row?.stream, row?.status], ["cloud-mini", 1, "success"]);
    await shot("chat-provider");
    assert.deepEqual(realProblems(), []);
  });

  it("creates an API key shown once that works on /v1, then revokes it", async () => {
    const page = b.page;
    await page.goto("/settings?tab=keys");
    await page.getByLabel("Key name").fill("laptop");
    await page.getByRole("button", { name: "Create key" }).click();
    const box = page.getByRole("alert").filter({ hasText: "Copy this key now" });
    const secret = (await box.locator("code").innerText()).trim();
    assert.match(secret, /^llmux-sk-/);
    const row = page.locator("tbody tr").filter({ hasText: "laptop" });
    const prefix = (await row.locator("code").innerText()).replace("…", "");
    assert.ok(prefix.length > 0 && secret.startsWith(prefix), `the list shows the key's prefix (${prefix})`);
    const v1 = () => fetch(`${s.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal((await v1()).status, 200);
    await shot("settings-keys");
    const chat = await fetch(`${s.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    });
    assert.equal(chat.status, 200);
    // Once: gone after Done, and not shown again after a reload, which shows the key's use (from the audit log).
    await box.getByRole("button", { name: "Done" }).click();
    const cell = (n: number) => row.locator("td").nth(n).innerText();
    for (let i = 0; i < 30; i++) {
      await page.reload();
      if ((await cell(4)) === "1") break;
      await page.waitForTimeout(100);
    }
    assert.notEqual(await cell(3), "never", "last used is shown");
    assert.equal(await cell(4), "1", "one request with this key");
    await page.getByTestId("usage").getByText(/[1-9]\d* requests/).waitFor();
    assert.ok(!(await page.content()).includes(secret), "the secret is not shown again");
    page.once("dialog", (d) => void d.accept());
    await row.getByRole("button", { name: "Revoke" }).click();
    await row.getByText("revoked").waitFor();
    assert.equal((await v1()).status, 401, "a revoked key no longer opens /v1");
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

describe("first user and approvals, on a server with no users yet", () => {
  let s: TestServer;
  let admin: Browser;
  let user: Browser;
  const FIRST = { email: "first@llmux.test", password: "first-password-1" };
  const SECOND = { email: "second@llmux.test", password: "second-password-1" };
  const EXPECTED = [FAILED_401, /Failed to load resource: the server responded with a status of 403/];

  before(async () => {
    s = await startTestServer({ noAdmin: true, models: {} });
    admin = await openBrowser(s.url);
    user = await openBrowser(s.url);
  });

  after(async () => {
    await admin?.close();
    await user?.close();
    await s?.close();
  });

  it("registers the first user through the form: they become the admin and are signed in", async () => {
    const page = admin.page;
    await page.goto("/");
    await page.waitForURL("**/signin");
    await page.getByRole("tab", { name: "Register" }).click();
    await page.getByLabel("Email").fill(FIRST.email);
    await page.getByLabel("Password").fill(FIRST.password);
    await shotOf(admin)("signin-register");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await page.getByRole("navigation").getByRole("link", { name: "Audit log" }).waitFor();
    assert.equal(await page.locator("header .who").innerText(), FIRST.email);
    const me = await page.evaluate(() => fetch("/api/auth/me").then((r) => r.json()));
    assert.deepEqual([me.user.role, me.user.status], ["admin", "approved"]);
    assert.deepEqual(problemsOf(admin, EXPECTED), []);
  });

  it("makes a second user wait; the admin approves them in Settings → Users; they sign in to no admin page", async () => {
    admin.problems.length = 0;
    const page = user.page;
    await page.goto("/signin");
    await page.getByRole("tab", { name: "Register" }).click();
    await page.getByLabel("Email").fill(SECOND.email);
    await page.getByLabel("Password").fill(SECOND.password);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { name: "Waiting for approval" }).waitFor();
    await shotOf(user)("signin-pending");
    // Logging in before the approval shows the same screen.
    await page.getByRole("button", { name: "Back to sign-in" }).click();
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Waiting for approval" }).waitFor();

    const users = admin.page;
    await users.goto("/settings?tab=users");
    const row = users.locator(`tr[data-user="${SECOND.email}"]`);
    await row.getByText("pending", { exact: true }).waitFor();
    await row.getByRole("button", { name: "Approve" }).click();
    await row.getByText("approved", { exact: true }).waitFor();
    await shotOf(admin)("settings-users");

    await page.getByRole("button", { name: "Back to sign-in" }).click();
    await page.getByLabel("Password").fill(SECOND.password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL("**/chat");
    assert.deepEqual(await page.getByRole("navigation").getByRole("link").allInnerTexts(), ["Models", "Chat", "Settings"]);
    // Admin pages stay closed: the dashboard and the audit log send a user to chat, Settings has their keys only.
    await page.goto("/audit");
    await page.waitForURL("**/chat");
    await page.goto("/settings");
    await page.getByRole("tab", { selected: true }).waitFor();
    assert.deepEqual(await page.getByRole("tab").allInnerTexts(), ["API keys"]);
    assert.equal(await page.evaluate(() => fetch("/admin/users").then((r) => r.status)), 403);
    await shotOf(user)("user-settings");
    assert.deepEqual(problemsOf(user, EXPECTED), []);
    assert.deepEqual(problemsOf(admin), []);
  });
});
