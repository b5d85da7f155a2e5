import { randomUUID } from "node:crypto";
import { LlmuxError } from "../errors/llmux-error.js";
import type { Db } from "./db.js";
import type { UsersTable } from "./schema.js";

export type UserRole = "admin" | "user";
export type UserStatus = "approved" | "pending" | "disabled";

/** A user as the API shows it (CONTRACTS.md): never the password hash. */
export interface UserView {
  id: string;
  email: string;
  role: UserRole;
  status: UserStatus;
  created_at: number;
}

/** A stored user, hash included (for login only). */
export interface UserRecord extends UserView {
  passwordHash: string;
}

export const toUserView = (u: UserRecord): UserView => ({ id: u.id, email: u.email, role: u.role, status: u.status, created_at: u.created_at });

const toRecord = (r: UsersTable): UserRecord => ({
  id: r.id,
  email: r.email,
  role: r.role as UserRole,
  status: r.status as UserStatus,
  created_at: Number(r.created_at),
  passwordHash: r.password_hash,
});

/**
 * Users and the one invariant that protects the server: there is always at least one
 * approved admin. Every change that could break it (role, status, delete) checks it in
 * the same transaction as the write, so two admins demoting each other cannot both win.
 */
export class UsersRepository {
  constructor(private readonly db: Db) {}

  /**
   * Creates a user. The first user ever becomes an approved admin; later users are
   * pending users unless `as` says otherwise (the `create-admin` CLI). Duplicate email → `email_taken`.
   */
  async create(email: string, passwordHash: string, as?: { role: UserRole; status: UserStatus }): Promise<UserRecord> {
    const normalized = email.toLowerCase();
    return this.db.transaction().execute(async (tx) => {
      const taken = await tx.selectFrom("users").select("id").where("email", "=", normalized).executeTakeFirst();
      if (taken) throw emailTaken();
      const count = await tx.selectFrom("users").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      const first = Number(count.n) === 0;
      const now = Date.now();
      const row: UsersTable = {
        id: `usr_${randomUUID().replaceAll("-", "")}`,
        email: normalized,
        password_hash: passwordHash,
        role: first ? "admin" : (as?.role ?? "user"),
        status: first ? "approved" : (as?.status ?? "pending"),
        created_at: now,
        updated_at: now,
      };
      try {
        await tx.insertInto("users").values(row).execute();
      } catch (err) {
        if (/UNIQUE constraint failed|23505/i.test(String((err as Error)?.message ?? ""))) throw emailTaken();
        throw err;
      }
      return toRecord(row);
    });
  }

  async get(id: string): Promise<UserRecord | undefined> {
    const r = await this.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
    return r ? toRecord(r) : undefined;
  }

  async findByEmail(email: string): Promise<UserRecord | undefined> {
    const r = await this.db.selectFrom("users").selectAll().where("email", "=", email.toLowerCase()).executeTakeFirst();
    return r ? toRecord(r) : undefined;
  }

  async list(): Promise<UserRecord[]> {
    const rows = await this.db.selectFrom("users").selectAll().orderBy("created_at").orderBy("id").execute();
    return rows.map(toRecord);
  }

  async count(): Promise<number> {
    const c = await this.db.selectFrom("users").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    return Number(c.n);
  }

  /** Changes role and/or status; `last_admin` when it would leave no approved admin; undefined when no such user. */
  async update(id: string, patch: { role?: UserRole; status?: UserStatus }): Promise<UserRecord | undefined> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
      if (!row) return undefined;
      const next = { role: patch.role ?? row.role, status: patch.status ?? row.status };
      if (row.role === "admin" && row.status === "approved" && (next.role !== "admin" || next.status !== "approved")) {
        await assertNotLastAdmin(tx, id, "demoted, disabled or set pending");
      }
      const updated_at = Math.max(Date.now(), Number(row.updated_at));
      await tx.updateTable("users").set({ ...next, updated_at }).where("id", "=", id).execute();
      return toRecord({ ...row, ...next, updated_at });
    });
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<boolean> {
    const res = await this.db.updateTable("users").set({ password_hash: passwordHash, updated_at: Date.now() }).where("id", "=", id).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Deletes a user (their sessions and keys go with them); `last_admin` for the last approved admin. */
  async delete(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
      if (!row) return false;
      if (row.role === "admin" && row.status === "approved") await assertNotLastAdmin(tx, id, "removed");
      // Explicit, not only ON DELETE CASCADE: a Postgres replica may not have foreign keys enforced the same way.
      await tx.deleteFrom("sessions").where("user_id", "=", id).execute();
      await tx.deleteFrom("api_keys").where("user_id", "=", id).execute();
      await tx.deleteFrom("users").where("id", "=", id).execute();
      return true;
    });
  }
}

async function assertNotLastAdmin(tx: Pick<Db, "selectFrom">, id: string, what: string): Promise<void> {
  const others = await tx
    .selectFrom("users")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("role", "=", "admin")
    .where("status", "=", "approved")
    .where("id", "!=", id)
    .executeTakeFirstOrThrow();
  if (Number(others.n) === 0) {
    throw new LlmuxError("last_admin", `this is the last approved admin: it cannot be ${what}; make another user an approved admin first`);
  }
}

const emailTaken = (): LlmuxError =>
  new LlmuxError("email_taken", "an account with this email already exists", { param: "email", fieldErrors: [{ field: "email", message: "already registered" }] });
