import { readdirSync, readFileSync } from "node:fs";
import type { TestServer } from "../helpers/server.js";

/** Model runner processes started by this test process, read from the kernel (tsx's esbuild service is left out). */
export function childPids(): number[] {
  const pids: number[] = [];
  for (const t of readdirSync(`/proc/${process.pid}/task`)) {
    try {
      for (const p of readFileSync(`/proc/${process.pid}/task/${t}/children`, "utf8").trim().split(/\s+/)) if (p && isRunner(p)) pids.push(Number(p));
    } catch {
      // the thread ended meanwhile
    }
  }
  return pids;
}

function isRunner(pid: string): boolean {
  try {
    return /runner-main\.(ts|js)/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
  } catch {
    return false;
  }
}

export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Samples the summed RSS and the count of every runner process (children of this process)
 * every few milliseconds, measured from the kernel rather than from the pool's own accounting.
 */
export function sampleRunners(everyMs = 25): { stop(): { maxRssSum: number; maxCount: number; samples: number } } {
  let maxRssSum = 0;
  let maxCount = 0;
  let samples = 0;
  const timer = setInterval(() => {
    const pids = childPids();
    const sum = pids.reduce((n, p) => n + rssOf(p), 0);
    maxRssSum = Math.max(maxRssSum, sum);
    maxCount = Math.max(maxCount, pids.length);
    samples++;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { maxRssSum, maxCount, samples };
    },
  };
}

export async function json<T = any>(res: Response): Promise<T> {
  const text = await res.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`not JSON (HTTP ${res.status}): ${text.slice(0, 200)}`);
  }
}

export const put = (s: TestServer, path: string, body: unknown) =>
  s.admin(path, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

export const post = (s: TestServer, path: string, body?: unknown) =>
  s.admin(path, body === undefined ? { method: "POST" } : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/** One short chat completion on a model, through the HTTP API (the status and the body). */
export async function chat(s: TestServer, model: string, extra: Record<string, unknown> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${s.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 2, ...extra }),
  });
  return { status: res.status, body: await json(res) };
}

export async function poolStatus(s: TestServer): Promise<any> {
  return json(await s.admin("/admin/pool"));
}

export async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}
