/**
 * Debian's chromium driven by playwright-core, with the flags that keep it off the network and
 * quiet. One chromium process serves a test file; each `openBrowser` is a fresh context in it
 * (its own cookies and storage: a separate person), cheap enough for a second user in a test.
 * Collects page errors and console errors (CSP violations are console errors) so tests can
 * assert the page ran cleanly under the strict CSP.
 */
import { chromium, type Browser as Chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = process.env.LLMUX_CHROMIUM ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors and console errors seen so far, on any page of the context. */
  problems: string[];
  close(): Promise<void>;
}

let shared: Promise<Chromium> | undefined;

/** A new browser context (no cookies, empty storage) on `baseURL`, with one page open. */
export async function openBrowser(baseURL: string, viewport = { width: 1280, height: 800 }): Promise<Browser> {
  shared ??= chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  const context = await (await shared).newContext({ baseURL, viewport, colorScheme: "light" });
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
  };
  context.on("page", watch);
  const page = await context.newPage();
  return {
    context,
    page,
    problems,
    close: () => context.close(),
  };
}

/** Ends the chromium process (after the last context of a test file). */
export async function closeChromium(): Promise<void> {
  const c = shared;
  shared = undefined;
  if (c) await (await c).close();
}
