import BetterSqlite3 from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { CompiledQuery, Kysely, Migrator, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type MigrationProvider, type SqliteDialectConfig } from "kysely";
import { QueryTracingPlugin } from "./db-tracing.js";
import { migrations } from "./migrations/index.js";
import type { Database } from "./schema.js";

export type Db = Kysely<Database>;

/** The SQLite connection under each Db that {@link openDatabase} opened. */
const sqliteOf = new WeakMap<Db, BetterSqlite3.Database>();

/**
 * The SQLite connection under `db`, for the one hot path that keeps its own prepared
 * statement (the audit log's batch insert, thousands of rows a second under load);
 * null for any other dialect, where repositories stay on the query builder.
 */
export function sqliteConnection(db: Db): BetterSqlite3.Database | null {
  return sqliteOf.get(db) ?? null;
}

/**
 * Transactions that take the write lock when they begin (`BEGIN IMMEDIATE`). Another
 * connection writes to the same file (the audit log's insert thread), and a default
 * (deferred) transaction that reads and then writes fails at once with SQLITE_BUSY when that
 * connection committed in between: its snapshot is stale, and no busy timeout can wait that
 * out. Beginning immediately makes it wait its turn (`busy_timeout`) instead.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.settings);
  }
}

/**
 * Opens the embedded SQLite database (WAL mode) and brings its schema up to date.
 * Everything else reaches the store through repositories, never through SQL here.
 */
export async function openDatabase(file: string): Promise<Db> {
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("foreign_keys = ON");
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: sqlite }), plugins: [new QueryTracingPlugin()] });
  const provider: MigrationProvider = { getMigrations: async () => migrations };
  const { error } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
  sqliteOf.set(db, sqlite);
  return db;
}
