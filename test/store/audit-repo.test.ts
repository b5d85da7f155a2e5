import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { AuditRepository, type NewAuditRow } from "../../src/store/audit-repo.js";
import { openDatabase, type Db } from "../../src/store/db.js";
import { mintRequestId } from "../../src/http/request-id.js";

let n = 0;
function row(overrides: Partial<NewAuditRow> = {}): NewAuditRow {
  n++;
  return {
    request_id: mintRequestId(),
    ts: 1_700_000_000_000 + n,
    route: "/v1/chat/completions",
    protocol: "openai",
    model_requested: "m",
    model_served: n % 2 ? "m" : null,
    backend: "local",
    stream: n % 2,
    status: "success",
    http_status: 200,
    duration_ms: 12.5,
    ttft_ms: n % 3 ? 3.25 : null,
    prompt_tokens: 10,
    completion_tokens: n,
    total_tokens: 10 + n,
    error_type: null,
    error_message: null,
    api_key_id: null,
    // Left out on purpose: stored as null.
    ...overrides,
  };
}

describe("audit repository inserts", () => {
  let dir: string;
  let db: Db;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "llmux-audit-repo-"));
    db = await openDatabase(join(dir, "llmux.db"));
  });
  after(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const insertThread of [false, true]) {
    it(`returns exactly the rows the table stores (${insertThread ? "worker thread" : "this thread"})`, async () => {
      const repo = new AuditRepository(db, { insertThread });
      try {
        const rows = Array.from({ length: 7 }, () => row());
        const returned = await repo.insertManyReturning(rows);
        assert.equal(returned.length, 7);
        for (let i = 1; i < returned.length; i++) assert.ok(returned[i]!.id > returned[i - 1]!.id, "ids ascend in row order");
        const stored = await db.selectFrom("audit_log").selectAll().where("id", "in", returned.map((r) => r.id)).orderBy("id").execute();
        assert.deepEqual(returned.map((r) => ({ ...r })), stored.map((r) => ({ ...r })));
        assert.equal(stored[0]!.user_id, null, "a column the row left out is stored as null");
        assert.equal(stored[0]!.request_id, rows[0]!.request_id);
      } finally {
        await repo.close();
      }
    });
  }

  it("writes batches from the worker thread in order, and close waits for the ones in flight", async () => {
    const repo = new AuditRepository(db, { insertThread: true });
    const before = (await db.selectFrom("audit_log").select((e) => e.fn.countAll<number>().as("c")).executeTakeFirstOrThrow()).c;
    const batches = Array.from({ length: 20 }, (_, b) => Array.from({ length: 50 }, () => row({ error_message: `batch ${b}` })));
    const writes = batches.map((b) => repo.insertMany(b));
    await repo.close(); // not awaiting the writes first: close must let them land
    await Promise.all(writes);
    const stored = await db.selectFrom("audit_log").select(["id", "error_message"]).where("error_message", "like", "batch %").orderBy("id").execute();
    assert.equal(stored.length, 1000);
    assert.deepEqual(
      stored.map((r) => r.error_message),
      batches.flatMap((b, i) => b.map(() => `batch ${i}`)),
      "rows land in the order their batches were sent",
    );
    const afterCount = (await db.selectFrom("audit_log").select((e) => e.fn.countAll<number>().as("c")).executeTakeFirstOrThrow()).c;
    assert.equal(Number(afterCount) - Number(before), 1000);
    await assert.rejects(repo.insertMany([row()]), /closed|exited/, "a closed repository refuses further rows instead of losing them silently");
  });

  it("reports a failed batch to the caller (a NOT NULL column left out)", async () => {
    const repo = new AuditRepository(db, { insertThread: true });
    try {
      await assert.rejects(repo.insertMany([row({ route: null as unknown as string })]), /NOT NULL/);
      // The thread survives a failed batch.
      assert.equal((await repo.insertManyReturning([row()])).length, 1);
    } finally {
      await repo.close();
    }
  });

  it("writes in this thread once the worker has died, losing no row", async () => {
    const repo = new AuditRepository(db, { insertThread: true });
    try {
      assert.equal((await repo.insertManyReturning([row()])).length, 1);
      // Kill the worker the way a crash would (test-only reach into the private field).
      await (repo as unknown as { thread: { worker: { terminate(): Promise<number> } } }).thread.worker.terminate();
      const marker = `after-crash-${Date.now()}`;
      const stored = await repo.insertManyReturning([row({ error_message: marker }), row({ error_message: marker })]);
      assert.equal(stored.length, 2);
      const inDb = await db.selectFrom("audit_log").select("id").where("error_message", "=", marker).execute();
      assert.deepEqual(inDb.map((r) => r.id), stored.map((r) => r.id));
    } finally {
      await repo.close();
    }
  });

  it("a transaction of the main connection that reads then writes waits for the insert thread instead of failing", async () => {
    const repo = new AuditRepository(db, { insertThread: true });
    try {
      await repo.insertMany([row()]); // the worker is up
      let threadWrite: Promise<void> | undefined;
      await db.transaction().execute(async (tx) => {
        await tx.selectFrom("users").select("id").limit(1).execute();
        // The insert thread writes while this transaction is open: with a deferred BEGIN it would
        // commit first, and the write below would fail with SQLITE_BUSY (a stale snapshot).
        threadWrite = repo.insertMany([row({ error_message: "during-tx" })]);
        await sleep(300);
        await tx.insertInto("audit_log").values(row({ error_message: "in-tx" })).execute();
      });
      await threadWrite;
      const order = await db.selectFrom("audit_log").select("error_message").where("error_message", "in", ["in-tx", "during-tx"]).orderBy("id").execute();
      assert.deepEqual(order.map((r) => r.error_message), ["in-tx", "during-tx"], "the thread's batch waited for the transaction");
    } finally {
      await repo.close();
    }
  });

  it("falls back to this thread on an in-memory database (another connection could not see it)", async () => {
    const mem = await openDatabase(":memory:");
    const repo = new AuditRepository(mem, { insertThread: true });
    try {
      const [stored] = await repo.insertManyReturning([row()]);
      assert.equal(stored!.id, 1);
    } finally {
      await repo.close();
      await mem.destroy();
    }
  });
});

describe("minted request ids", () => {
  it("are req_ and 32 hex digits, in time order, and distinct", () => {
    const a = mintRequestId(1_000);
    const b = mintRequestId(2_000);
    assert.match(a, /^req_[0-9a-f]{32}$/);
    assert.ok(a < b, "a later id sorts after an earlier one");
    const many = new Set(Array.from({ length: 10_000 }, () => mintRequestId(5_000)));
    assert.equal(many.size, 10_000, "ids minted in the same millisecond still differ");
  });
});
