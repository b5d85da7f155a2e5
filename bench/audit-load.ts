/**
 * npm run bench:audit — 32 concurrent streaming requests for 60 s against the tiny
 * synthetic model, with the audit log on and then off. Checks that every request
 * sent has exactly one audit row and that none failed, and reports throughput.
 *   env: LOAD_SECONDS (60), LOAD_CONCURRENCY (32)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApp } from "../src/app.js";
import { resolveServeConfig } from "../src/config.js";
import { synthesizeModel } from "../src/engine/synth/synthesize.js";

const seconds = Number(process.env.LOAD_SECONDS ?? 60);
const concurrency = Number(process.env.LOAD_CONCURRENCY ?? 32);

async function stream(url: string, i: number): Promise<boolean> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: `load ${i}` }], max_tokens: 32, stream: true, seed: i }),
  });
  const text = await res.text();
  return res.ok && text.endsWith("data: [DONE]\n\n") && !text.includes('"error"');
}

async function run(audit: boolean) {
  const home = mkdtempSync(join(tmpdir(), "llmux-load-"));
  await synthesizeModel(join(home, "models", "tiny.gguf"), { preset: "tiny", seed: 1 });
  const config = { ...resolveServeConfig({ host: "127.0.0.1", port: 0, home, engine: { threads: 1, parallel: 8, contextSize: 2048 } }), logLevel: "warn" as const, audit };
  const app = await startApp(config);
  let sent = 0;
  let failed = 0;
  const deadline = Date.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const i = sent++;
        if (!(await stream(app.url, i))) failed++;
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  await app.auditWriter.flush();
  const rows = await app.auditRepo.count();
  await app.close();
  rmSync(home, { recursive: true, force: true });
  return { audit, sent, failed, rows, wall, rps: sent / wall };
}

const on = await run(true);
const off = await run(false);
console.log(`| audit | requests | failed | audit rows | req/s |`);
console.log(`| --- | --- | --- | --- | --- |`);
for (const r of [on, off]) console.log(`| ${r.audit ? "on" : "off"} | ${r.sent} | ${r.failed} | ${r.audit ? r.rows : "-"} | ${r.rps.toFixed(1)} |`);
console.log(`\nthroughput with audit on / off: ${((on.rps / off.rps) * 100).toFixed(1)}%`);
if (on.rows !== on.sent || on.failed > 0 || off.failed > 0) {
  console.error(`FAILED: rows ${on.rows} for ${on.sent} requests, failures ${on.failed} + ${off.failed}`);
  process.exit(1);
}
