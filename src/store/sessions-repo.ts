import { randomBytes } from "node:crypto";
import type { Db } from "./db.js";

/**
 * Server-side sessions. The cookie's signed token names a session id; a session ends
 * when its row is gone (logout, password reset, user deleted), even if the token has not expired.
 */
export class SessionsRepository {
  constructor(private readonly db: Db) {}

  async create(userId: string, ttlMs: number): Promise<{ id: string; expiresAt: number }> {
    const now = Date.now();
    const id = `ses_${randomBytes(18).toString("base64url")}`;
    const expiresAt = now + ttlMs;
    await this.db.insertInto("sessions").values({ id, user_id: userId, created_at: now, expires_at: expiresAt }).execute();
    // Expired rows of anyone are dropped here, on the rare write, instead of by a timer.
    await this.db.deleteFrom("sessions").where("expires_at", "<", now).execute();
    return { id, expiresAt };
  }

  /** The session's user id when the session exists and has not expired. */
  async userOf(id: string): Promise<string | undefined> {
    const r = await this.db.selectFrom("sessions").select(["user_id", "expires_at"]).where("id", "=", id).executeTakeFirst();
    return r && Number(r.expires_at) > Date.now() ? r.user_id : undefined;
  }

  async revoke(id: string): Promise<void> {
    await this.db.deleteFrom("sessions").where("id", "=", id).execute();
  }

  async revokeAllOf(userId: string): Promise<void> {
    await this.db.deleteFrom("sessions").where("user_id", "=", userId).execute();
  }
}
