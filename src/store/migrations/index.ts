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
  "0002_audit_log": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("audit_log")
        .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
        .addColumn("request_id", "varchar(128)", (c) => c.notNull())
        .addColumn("ts", "bigint", (c) => c.notNull())
        .addColumn("route", "varchar(128)", (c) => c.notNull())
        .addColumn("protocol", "varchar(16)", (c) => c.notNull())
        .addColumn("model_requested", "varchar(256)")
        .addColumn("model_served", "varchar(256)")
        .addColumn("backend", "varchar(128)")
        .addColumn("stream", "integer", (c) => c.notNull())
        .addColumn("status", "varchar(16)", (c) => c.notNull())
        .addColumn("http_status", "integer", (c) => c.notNull())
        .addColumn("duration_ms", "real", (c) => c.notNull())
        .addColumn("ttft_ms", "real")
        .addColumn("prompt_tokens", "integer")
        .addColumn("completion_tokens", "integer")
        .addColumn("total_tokens", "integer")
        .addColumn("error_type", "varchar(64)")
        .addColumn("error_message", "varchar(256)")
        .addColumn("api_key_id", "varchar(64)")
        .addColumn("user_id", "varchar(64)")
        .execute();
      await db.schema.createIndex("audit_log_ts").on("audit_log").column("ts").execute();
      await db.schema.createIndex("audit_log_request_id").on("audit_log").column("request_id").execute();
      await db.schema.createIndex("audit_log_model_ts").on("audit_log").columns(["model_requested", "ts"]).execute();
      await db.schema.createIndex("audit_log_status_ts").on("audit_log").columns(["status", "ts"]).execute();
    },
  },
  "0003_providers": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("providers")
        .addColumn("id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("name", "varchar(64)", (c) => c.notNull().unique())
        .addColumn("kind", "varchar(32)", (c) => c.notNull())
        .addColumn("base_url", "varchar(2048)", (c) => c.notNull())
        .addColumn("api_key_sealed", "text")
        .addColumn("headers_json", "text", (c) => c.notNull())
        .addColumn("timeout_ms", "integer", (c) => c.notNull())
        .addColumn("models_json", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
    },
  },
  "0006_model_settings": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("model_settings")
        .addColumn("model_id", "varchar(256)", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
    },
  },
};
