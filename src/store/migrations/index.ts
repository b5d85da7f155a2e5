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
  "0004_routing_rules": {
    async up(db: Kysely<unknown>) {
      // One row per rule; `position` keeps the order (the first matching rule wins).
      await db.schema
        .createTable("routing_rules")
        .addColumn("position", "integer", (c) => c.primaryKey())
        .addColumn("id", "varchar(128)", (c) => c.notNull().unique())
        .addColumn("rule_json", "text", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
    },
  },
  "0005_users_keys": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("users")
        .addColumn("id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("email", "varchar(254)", (c) => c.notNull().unique())
        .addColumn("password_hash", "varchar(256)", (c) => c.notNull())
        .addColumn("role", "varchar(16)", (c) => c.notNull())
        .addColumn("status", "varchar(16)", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("sessions")
        .addColumn("id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("user_id", "varchar(64)", (c) => c.notNull().references("users.id").onDelete("cascade"))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("sessions_user_id").on("sessions").column("user_id").execute();
      await db.schema
        .createTable("api_keys")
        .addColumn("id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("user_id", "varchar(64)", (c) => c.notNull().references("users.id").onDelete("cascade"))
        .addColumn("name", "varchar(128)", (c) => c.notNull())
        .addColumn("prefix", "varchar(32)", (c) => c.notNull())
        .addColumn("secret_hash", "varchar(64)", (c) => c.notNull().unique())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint")
        .addColumn("allowed_models_json", "text")
        .addColumn("rpm", "integer")
        .addColumn("revoked_at", "bigint")
        .addColumn("last_used_at", "bigint")
        .execute();
      await db.schema.createIndex("api_keys_user_id").on("api_keys").column("user_id").execute();
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
