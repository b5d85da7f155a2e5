import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AuditRetention } from "../../src/audit/retention.js";
import { AuditRepository, type NewAuditRow } from "../../src/store/audit-repo.js";
import { openDatabase, type Db } from "../../src/store/db.js";

const DAY = 24 * 60 * 60 * 1000;
const silent = { info: () => undefined, error: () => undefined } as never;
const row = (ts: number, i: number): NewAuditRow => ({
  request_id: `r${i}`, ts, route: "/v1/chat/completions", protocol: "openai", model_requested: "m", model_served: "m", backend: "local",
  stream: 0, status: "success", http_status: 200, duration_ms: 10, ttft_ms: 5, prompt_tokens: 3, completion_tokens: 4, total_tokens: 7,
  error_type: null, error_message: "x".repeat(200), api_key_id: null, user_id: null,
});

describe("audit retention", () => {
  let dir: string;
  let db: Db;
  let repo: AuditRepository;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "llmux-ret-"));
    db = await openDatabase(join(dir, "llmux.db"));
    repo = new AuditRepository(db);
  });
  after(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("deletes rows older than the retention days", async () => {
    const now = Date.now();
    await repo.insertManyReturning([row(now - 40 * DAY, 1), row(now - 31 * DAY, 2), row(now - 29 * DAY, 3), row(now, 4)]);
    const r = new AuditRetention(repo, join(dir, "llmux.db"), () => ({ days: 30, maxBytes: 1e12 }), silent);
    assert.equal(await r.runOnce(now), 2);
    assert.deepEqual((await repo.list({}, { limit: 10 })).map((x) => x.request_id).sort(), ["r3", "r4"]);
  });

  it("deletes the oldest rows until the database is under its size limit", async () => {
    const now = Date.now();
    await repo.insertManyReturning(Array.from({ length: 3000 }, (_, i) => row(now - 1000 + i, 100 + i)));
    const before = await repo.usedBytes();
    const limit = Math.floor(before / 2);
    const r = new AuditRetention(repo, join(dir, "llmux.db"), () => ({ days: 30, maxBytes: limit }), silent);
    const deleted = await r.runOnce(now);
    assert.ok(deleted > 0);
    assert.ok((await repo.usedBytes()) <= limit, "under the limit");
    const newest = await repo.list({}, { limit: 1 });
    assert.equal(newest[0].request_id, "r3099", "the newest rows stay");
  });
});
