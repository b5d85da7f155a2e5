import type { Kysely, Migration } from "kysely";

/**
 * Schema migrations, applied in order at start. SQL is kept portable
 * (no SQLite-only types) so a Postgres dialect can run the same steps.
 */
export const migrations: Record<string, Migration> = {
  "0001_settings": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("settings")
        .addColumn("key", "varchar(128)", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
    },
  },
};
