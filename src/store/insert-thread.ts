import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/**
 * The worker connection's SQLite page cache, KiB. better-sqlite3 builds SQLite with a 16 MiB
 * default, which appending rows fills for nothing: measured on the gateway benchmark, the
 * worker's malloc arena held 21 MiB at peak with it and 4 MiB with SQLite's own default of 2 MiB.
 */
const WORKER_CACHE_KIB = 2000;

/**
 * The worker's whole program. It is plain CommonJS run with `eval`, so the same code serves
 * the compiled build and the TypeScript sources under tsx (a worker does not inherit tsx's
 * loader). It opens its own connection to the database file (WAL mode lets it write while
 * the main connection reads), prepares the one INSERT it is given, and runs each batch in a
 * transaction, answering with the new rows' ids.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma("synchronous = NORMAL");
db.pragma("busy_timeout = 5000");
db.pragma("cache_size = -" + workerData.cacheKiB);
const stmt = db.prepare(workerData.sql);
const insert = db.transaction((rows) => rows.map((values) => Number(stmt.run(values).lastInsertRowid)));
parentPort.on("message", (msg) => {
  if (msg === "close") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    parentPort.postMessage({ seq: msg.seq, ids: insert.immediate(msg.rows) });
  } catch (err) {
    parentPort.postMessage({ seq: msg.seq, error: String((err && err.message) || err) });
  }
});
`;

interface Pending {
  readonly resolve: (ids: number[]) => void;
  readonly reject: (err: Error) => void;
}

/**
 * Runs one prepared `INSERT` into a rowid table over batches of rows on a worker thread with
 * its own SQLite connection, so a write-heavy table (the audit log: one row per request)
 * costs the event loop a structured clone instead of the B-tree and WAL work (measured:
 * about 10% of the gateway's CPU at 6,000 requests a second when done in-thread).
 * Batches are written in the order they are sent.
 */
export class InsertThread {
  /** Started on the first batch: a server that records nothing never pays for the thread. */
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  /** The last batch sent, settled either way: the worker answers in order, so it is the last to finish. */
  private last: Promise<unknown> = Promise.resolve();
  private failure: Error | null = null;
  private closed: Promise<void> | null = null;

  /**
   * @param file the SQLite database file (not `:memory:`: another connection could not see it)
   * @param sql an INSERT with one `?` per value, into a table whose id is its rowid (each row's
   *   id is read back as `lastInsertRowid`)
   */
  constructor(
    private readonly file: string,
    private readonly sql: string,
  ) {}

  private start(): Worker {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file: this.file, sql: this.sql, driver, cacheKiB: WORKER_CACHE_KIB } });
    // Idle, it must not keep the process alive; a batch in flight holds it (see insert).
    worker.unref();
    worker.on("message", (msg: { seq: number; ids?: number[]; error?: string }) => {
      const p = this.pending.get(msg.seq);
      if (!p) return;
      this.pending.delete(msg.seq);
      if (this.pending.size === 0) worker.unref();
      if (msg.ids) p.resolve(msg.ids);
      else p.reject(new Error(msg.error ?? "insert failed"));
    });
    worker.on("error", (err) => this.failAll(err));
    worker.on("exit", (code) => this.failAll(new Error(`the insert thread exited (code ${code})`)));
    return worker;
  }

  /** The worker died (crashed, or ended without close()): nothing more can be written through it. */
  get dead(): boolean {
    return this.failure !== null && this.closed === null;
  }

  /** Inserts rows (each a list of values in the INSERT's column order) in one transaction; resolves with their ids. */
  insert(rows: unknown[][]): Promise<number[]> {
    if (this.closed) return Promise.reject(new Error("the insert thread is closed"));
    if (this.failure) return Promise.reject(this.failure);
    const worker = (this.worker ??= this.start());
    const seq = ++this.seq;
    const written = new Promise<number[]>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      worker.ref();
      worker.postMessage({ seq, rows });
    });
    this.last = written.catch(() => undefined);
    return written;
  }

  /** Lets the batches in flight finish, then closes the worker's connection and ends it. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.last;
      const worker = this.worker;
      if (!worker || this.failure) return;
      const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
      worker.ref();
      worker.postMessage("close");
      await exited;
    })();
    return this.closed;
  }

  private failAll(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
