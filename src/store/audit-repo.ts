import { sql, type Insertable, type Selectable } from "kysely";
import type { Statement } from "better-sqlite3";
import { sqliteConnection, type Db } from "./db.js";
import { tracedStatement } from "./db-tracing.js";
import { InsertThread } from "./insert-thread.js";
import type { AuditLogTable } from "./schema.js";

export type AuditRow = Selectable<AuditLogTable>;
export type NewAuditRow = Insertable<AuditLogTable>;

/** Filters of the audit list, stats and export; all optional. */
export interface AuditFilter {
  model?: string;
  backend?: string;
  status?: string;
  route?: string;
  requestId?: string;
  /** Epoch milliseconds, inclusive. */
  from?: number;
  /** Epoch milliseconds, exclusive. */
  to?: number;
}

export interface AuditStats {
  total: number;
  byStatus: Record<string, number>;
  byBackend: Record<string, number>;
  byModel: Record<string, number>;
  latencyMs: { p50: number | null; p95: number | null };
  tokens: { prompt: number; completion: number; total: number };
}

/** Every column of a new audit row, in the order the prepared insert binds them. */
const AUDIT_COLUMNS = [
  "request_id",
  "ts",
  "route",
  "protocol",
  "model_requested",
  "model_served",
  "backend",
  "stream",
  "status",
  "http_status",
  "duration_ms",
  "ttft_ms",
  "prompt_tokens",
  "completion_tokens",
  "total_tokens",
  "error_type",
  "error_message",
  "api_key_id",
  "user_id",
] as const satisfies readonly Exclude<keyof AuditLogTable, "id">[];

type AuditColumn = (typeof AUDIT_COLUMNS)[number];

/** The stored form of a new row: every column present (null where the row left it out), as `SELECT *` returns it. */
function storedRow(id: number, row: NewAuditRow): AuditRow {
  const out = { id } as Record<string, unknown>;
  for (const c of AUDIT_COLUMNS) out[c] = (row as Record<AuditColumn, unknown>)[c] ?? null;
  return out as AuditRow;
}

/** A new row's values in {@link AUDIT_COLUMNS} order (null where the row left a column out). */
const valuesOf = (row: NewAuditRow): unknown[] => AUDIT_COLUMNS.map((c) => (row as Record<AuditColumn, unknown>)[c] ?? null);

/**
 * One row's INSERT. No `RETURNING id`: a row's id is its rowid, which the driver hands back as
 * `lastInsertRowid`, and `RETURNING` makes SQLite stage each row's result first (measured:
 * 13.9 against 10.4 µs a row, six runs each of 100,000 rows in batches of 200).
 */
const INSERT_SQL = `INSERT INTO audit_log (${AUDIT_COLUMNS.join(", ")}) VALUES (${AUDIT_COLUMNS.map(() => "?").join(", ")})`;

/** The audit log table. Keyset pagination on `id` (newest first) keeps pages cheap at any depth. */
export class AuditRepository {
  /** Writes a batch in one transaction, resolving with the new ids in row order. */
  private readonly insertIds: (rows: NewAuditRow[]) => Promise<number[]>;
  private readonly thread: InsertThread | null = null;

  /**
   * @param options.insertThread on a SQLite file, write batches from a worker thread with its
   *   own connection (the server does: one row per request adds up at gateway rates); otherwise
   *   in this thread, with a prepared statement
   */
  constructor(
    private readonly db: Db,
    options: { insertThread?: boolean } = {},
  ) {
    const sqlite = sqliteConnection(db);
    if (!sqlite) {
      this.insertIds = (rows) => this.insertWithBuilder(rows);
      return;
    }
    // On SQLite a cached prepared statement runs once per row: half the cost of building,
    // compiling and running one multi-row INSERT per batch (measured: 16 against 32 µs a row).
    let insert: Statement<unknown[]> | null = null;
    const here = sqlite.transaction((rows: unknown[][]) => {
      // Prepared on first use (the table exists by then): compiled once, not per batch.
      const stmt = (insert ??= sqlite.prepare<unknown[]>(INSERT_SQL));
      return rows.map((values) => Number(stmt.run(values).lastInsertRowid));
    });
    if (!options.insertThread || sqlite.memory) {
      this.insertIds = (rows) => tracedStatement("INSERT", "audit_log", () => here(rows.map(valuesOf)));
      return;
    }
    const thread = new InsertThread(sqlite.name, INSERT_SQL);
    this.thread = thread;
    const write = async (values: unknown[][]): Promise<number[]> => {
      if (!thread.dead) {
        try {
          return await thread.insert(values);
        } catch (err) {
          if (!thread.dead) throw err; // the batch itself failed
        }
      }
      // The worker died: the rows (this batch included) are written here from now on, not lost
      // (a batch it committed in the instant before dying would be written twice: rare, and better than lost).
      return here(values);
    };
    this.insertIds = (rows) => tracedStatement("INSERT", "audit_log", () => write(rows.map(valuesOf)));
  }

  /** Inserts a batch in one transaction and returns the stored rows (with their ids). */
  async insertManyReturning(rows: NewAuditRow[]): Promise<AuditRow[]> {
    const ids = await this.insertIds(rows);
    return rows.map((row, i) => storedRow(ids[i]!, row));
  }

  /** Inserts a batch in one transaction, like {@link insertManyReturning}, without building the stored rows. */
  async insertMany(rows: NewAuditRow[]): Promise<void> {
    await this.insertIds(rows);
  }

  /** Other dialects: the query builder's multi-row INSERT. */
  private async insertWithBuilder(rows: NewAuditRow[]): Promise<number[]> {
    const ids: number[] = [];
    // SQLite caps bound variables per statement (32,766): 20 columns × 500 rows stays well under it.
    for (let i = 0; i < rows.length; i += 500) {
      const inserted = await this.db.insertInto("audit_log").values(rows.slice(i, i + 500)).returning("id").execute();
      ids.push(...inserted.map((r) => Number(r.id)));
    }
    return ids;
  }

  /** Ends the insert thread, if any, after the batches it holds (call before closing the database). */
  async close(): Promise<void> {
    await this.thread?.close();
  }

  /** Bytes of database pages in use (file size less free pages). */
  async usedBytes(): Promise<number> {
    const pages = await sql<{ page_count: number }>`PRAGMA page_count`.execute(this.db);
    const free = await sql<{ freelist_count: number }>`PRAGMA freelist_count`.execute(this.db);
    const size = await sql<{ page_size: number }>`PRAGMA page_size`.execute(this.db);
    return (Number(pages.rows[0].page_count) - Number(free.rows[0].freelist_count)) * Number(size.rows[0].page_size);
  }

  /** A page of rows, newest first; pass the last id seen as `before` for the next page. */
  async list(filter: AuditFilter, page: { limit: number; before?: number }): Promise<AuditRow[]> {
    let q = this.filtered(filter).selectAll().orderBy("id", "desc").limit(page.limit);
    if (page.before !== undefined) q = q.where("id", "<", page.before);
    return q.execute();
  }

  /** Rows in id order, fetched in chunks: exports stream without holding the table in memory. */
  async *iterate(filter: AuditFilter, chunk = 500): AsyncGenerator<AuditRow> {
    let after = 0;
    for (;;) {
      const rows = await this.filtered(filter).selectAll().where("id", ">", after).orderBy("id", "asc").limit(chunk).execute();
      yield* rows;
      if (rows.length < chunk) return;
      after = rows[rows.length - 1].id;
    }
  }

  async stats(filter: AuditFilter): Promise<AuditStats> {
    const group = async (column: "status" | "backend" | "model_requested") => {
      const rows = await this.filtered(filter)
        .select([column, (eb) => eb.fn.countAll<number>().as("n")])
        .groupBy(column)
        .execute();
      return Object.fromEntries(rows.map((r) => [String((r as Record<string, unknown>)[column] ?? "(none)"), Number(r.n)]));
    };
    const totals = await this.filtered(filter)
      .select((eb) => [
        eb.fn.countAll<number>().as("n"),
        eb.fn.coalesce(eb.fn.sum<number>("prompt_tokens"), sql<number>`0`).as("prompt"),
        eb.fn.coalesce(eb.fn.sum<number>("completion_tokens"), sql<number>`0`).as("completion"),
      ])
      .executeTakeFirstOrThrow();
    const n = Number(totals.n);
    const percentile = async (p: number): Promise<number | null> => {
      if (n === 0) return null;
      const row = await this.filtered(filter)
        .select("duration_ms")
        .orderBy("duration_ms", "asc")
        .limit(1)
        .offset(Math.min(n - 1, Math.floor(p * (n - 1))))
        .executeTakeFirst();
      return row ? row.duration_ms : null;
    };
    const prompt = Number(totals.prompt);
    const completion = Number(totals.completion);
    return {
      total: n,
      byStatus: await group("status"),
      byBackend: await group("backend"),
      byModel: await group("model_requested"),
      latencyMs: { p50: await percentile(0.5), p95: await percentile(0.95) },
      tokens: { prompt, completion, total: prompt + completion },
    };
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom("audit_log").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Deletes rows older than `before` (epoch ms); returns how many. */
  async deleteOlderThan(before: number): Promise<number> {
    const r = await this.db.deleteFrom("audit_log").where("ts", "<", before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Deletes the `n` oldest rows; returns how many. */
  async deleteOldest(n: number): Promise<number> {
    const r = await this.db
      .deleteFrom("audit_log")
      .where("id", "in", (eb) => eb.selectFrom("audit_log").select("id").orderBy("id", "asc").limit(n))
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  private filtered(f: AuditFilter) {
    let q = this.db.selectFrom("audit_log");
    if (f.model !== undefined) q = q.where("model_requested", "=", f.model);
    if (f.backend !== undefined) q = q.where("backend", "=", f.backend);
    if (f.status !== undefined) q = q.where("status", "=", f.status);
    if (f.route !== undefined) q = q.where("route", "=", f.route);
    if (f.requestId !== undefined) q = q.where("request_id", "=", f.requestId);
    if (f.from !== undefined) q = q.where("ts", ">=", f.from);
    if (f.to !== undefined) q = q.where("ts", "<", f.to);
    return q;
  }
}
