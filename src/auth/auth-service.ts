import { LlmuxError } from "../errors/llmux-error.js";
import { burnPasswordCheck, hashPassword, verifyPassword } from "../security/passwords.js";
import { SlidingWindowLimiter } from "../security/rate-limit.js";
import { SessionTokens } from "../security/session-token.js";
import type { ApiKeyRecord, ApiKeysRepository } from "../store/api-keys-repo.js";
import type { SessionsRepository } from "../store/sessions-repo.js";
import type { UserRecord, UserRole, UserStatus, UsersRepository } from "../store/users-repo.js";

/** How long a session (and its cookie) lasts. */
export const SESSION_TTL_MS = 7 * 24 * 3600 * 1000;

/** Login throttling: failed tries per account and per client address within the window. */
export interface LoginLimits {
  perAccount: number;
  perAddress: number;
  windowMs: number;
  /** Registrations per client address within the window (each costs an argon2 hash and a row). */
  registrationsPerAddress?: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perAccount: 5, perAddress: 20, windowMs: 15 * 60_000, registrationsPerAddress: 20 };

/** Who made a request, once authenticated. */
export interface Principal {
  user: UserRecord;
  /** Set when a session cookie authenticated the request (CSRF applies). */
  sessionId?: string;
  /** Set when an API key authenticated the request. */
  apiKey?: ApiKeyRecord;
}

/** A signed-in session, ready to be put in a cookie. */
export interface NewSession {
  token: string;
  expiresAt: number;
}

/**
 * Users, sessions and API keys behind one service: the HTTP routes, the enforcement hook
 * and the CLI all go through it, so password hashing, throttling and key checks live once.
 */
export class AuthService {
  readonly tokens: SessionTokens;
  private readonly accountFailures: SlidingWindowLimiter;
  private readonly addressFailures: SlidingWindowLimiter;
  private readonly registrations: SlidingWindowLimiter;
  private readonly rpm = new Map<string, SlidingWindowLimiter>();
  private readonly touched = new Map<string, number>();

  constructor(
    readonly users: UsersRepository,
    readonly sessions: SessionsRepository,
    readonly keys: ApiKeysRepository,
    sessionKey: Uint8Array,
    limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
  ) {
    this.tokens = new SessionTokens(sessionKey);
    this.accountFailures = new SlidingWindowLimiter(limits.perAccount, limits.windowMs);
    this.addressFailures = new SlidingWindowLimiter(limits.perAddress, limits.windowMs);
    this.registrations = new SlidingWindowLimiter(limits.registrationsPerAddress ?? 20, limits.windowMs);
  }

  /** Registers a user (the first becomes an approved admin). */
  async register(email: string, password: string, as?: { role: UserRole; status: UserStatus }): Promise<UserRecord> {
    return this.users.create(email, await hashPassword(password), as);
  }

  /** Counts a registration from an address; throws `rate_limited` (with Retry-After) past the limit. */
  takeRegistration(address: string): void {
    const wait = this.registrations.take(address);
    if (wait > 0) throw new LlmuxError("rate_limited", `too many registrations from this address; try again in ${wait} s`, { headers: { "retry-after": String(wait) } });
  }

  async startSession(user: UserRecord): Promise<NewSession> {
    const s = await this.sessions.create(user.id, SESSION_TTL_MS);
    return { token: await this.tokens.sign(user.id, s.id, s.expiresAt), expiresAt: s.expiresAt };
  }

  /**
   * Checks a password, throttled per account and per address (failures only). Throws
   * `rate_limited` (with Retry-After), `invalid_credentials`, `account_pending` or `account_disabled`.
   */
  async login(email: string, password: string, address: string): Promise<UserRecord> {
    const account = email.toLowerCase();
    const wait = Math.max(this.accountFailures.retryAfter(account), this.addressFailures.retryAfter(address));
    if (wait > 0) {
      throw new LlmuxError("rate_limited", `too many failed sign-in attempts; try again in ${wait} s`, { headers: { "retry-after": String(wait) } });
    }
    const user = await this.users.findByEmail(account);
    const ok = user ? await verifyPassword(user.passwordHash, password) : (await burnPasswordCheck(password), false);
    if (!user || !ok) {
      this.accountFailures.hit(account);
      this.addressFailures.hit(address);
      throw new LlmuxError("invalid_credentials", "wrong email or password");
    }
    this.accountFailures.reset(account);
    assertActive(user);
    return user;
  }

  /** The principal of a session cookie's token, or undefined when forged, expired or logged out. */
  async fromSessionToken(token: string): Promise<Principal | undefined> {
    const claims = await this.tokens.verify(token);
    if (!claims) return undefined;
    const userId = await this.sessions.userOf(claims.sessionId);
    if (userId !== claims.userId) return undefined;
    const user = await this.users.get(userId);
    return user ? { user, sessionId: claims.sessionId } : undefined;
  }

  /**
   * Whether a principal authenticated earlier still holds now: its session not logged out or
   * expired (or its key not revoked or expired), its user still active, and still an admin when
   * `admin`. Long-lived connections (the audit feed's WebSocket) ask this again as they go: the
   * handshake alone would let a signed-out or demoted admin keep reading.
   */
  async stillHolds(p: Principal, admin: boolean): Promise<boolean> {
    if (p.sessionId !== undefined && (await this.sessions.userOf(p.sessionId)) !== p.user.id) return false;
    if (p.apiKey) {
      const key = await this.keys.get(p.apiKey.id);
      if (!key || key.revoked_at !== null || (key.expires_at !== null && key.expires_at <= Date.now())) return false;
    }
    if (p.sessionId === undefined && !p.apiKey) return false;
    const user = await this.users.get(p.user.id);
    return user !== undefined && user.status === "approved" && (!admin || user.role === "admin");
  }

  /** The principal of an API key; throws `unauthorized` for a wrong, revoked or expired key. */
  async fromApiKey(secret: string): Promise<Principal> {
    const key = secret.length <= 256 ? await this.keys.findBySecret(secret) : undefined;
    if (!key) throw new LlmuxError("unauthorized", "invalid API key");
    if (key.revoked_at !== null) throw new LlmuxError("unauthorized", "this API key has been revoked");
    const now = Date.now();
    if (key.expires_at !== null && key.expires_at <= now) throw new LlmuxError("unauthorized", "this API key has expired");
    const user = await this.users.get(key.userId);
    if (!user) throw new LlmuxError("unauthorized", "invalid API key");
    // Written at most every 10 s per key: one write per request would be the hot path's only write.
    if (now - (this.touched.get(key.id) ?? 0) > 10_000) {
      this.touched.set(key.id, now);
      void this.keys.touch(key.id, now).catch(() => {});
    }
    return { user, apiKey: key };
  }

  /** Counts a request against the key's requests-per-minute limit; throws `rate_limited` with Retry-After. */
  takeRpm(key: ApiKeyRecord): void {
    if (key.rpm === null) return;
    let limiter = this.rpm.get(key.id);
    if (!limiter) this.rpm.set(key.id, (limiter = new SlidingWindowLimiter(key.rpm, 60_000)));
    const wait = limiter.take(key.id);
    if (wait > 0) {
      throw new LlmuxError("rate_limited", `this API key allows ${key.rpm} requests per minute; try again in ${wait} s`, {
        headers: { "retry-after": String(wait) },
      });
    }
  }
}

/** Pending and disabled users may not act, whatever they authenticated with. */
export function assertActive(user: UserRecord): void {
  if (user.status === "pending") throw new LlmuxError("account_pending", "this account is waiting for an admin's approval");
  if (user.status === "disabled") throw new LlmuxError("account_disabled", "this account has been disabled by an admin");
}
