/**
 * Debian's chromium driven by playwright-core, in a fresh profile, with the flags that keep
 * it off the network and quiet. Collects page errors and console errors (CSP violations
 * are console errors) so tests can assert the page ran cleanly under the strict CSP.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = process.env.LLMUX_CHROMIUM ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors and console errors seen so far, on any page of the context. */
  problems: string[];
  close(): Promise<void>;
}

export async function openBrowser(baseURL: string, viewport = { width: 1280, height: 800 }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "llmux-chromium-"));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true, baseURL, viewport, colorScheme: "light" });
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
  };
  context.on("page", watch);
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page);
  return {
    context,
    page,
    problems,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
