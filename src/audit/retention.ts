import { statSync } from "node:fs";
import type { FastifyBaseLogger } from "fastify";
import type { AuditRepository } from "../store/audit-repo.js";

export interface RetentionPolicy {
  /** Rows older than this many days are deleted. */
  days: number;
  /** When the database files grow past this many bytes, the oldest rows go first. */
  maxBytes: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { days: 30, maxBytes: 100 * 1024 * 1024 };
const HOURLY = 60 * 60 * 1000;

/**
 * Applies audit retention at start and then every hour, in the default deployment
 * (the upstream defined a retention job that never ran). Size is that of the
 * database file and its WAL; deleting old rows frees pages for reuse.
 */
export class AuditRetention {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly repo: AuditRepository,
    private readonly dbFile: string,
    private readonly policy: () => RetentionPolicy,
    private readonly log: FastifyBaseLogger,
  ) {}

  start(): void {
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), HOURLY);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One pass; returns the rows deleted. */
  async runOnce(now = Date.now()): Promise<number> {
    const { days, maxBytes } = this.policy();
    try {
      let deleted = await this.repo.deleteOlderThan(now - days * 24 * HOURLY);
      for (let i = 0; i < 20 && (await this.repo.usedBytes()) > maxBytes; i++) {
        const rows = await this.repo.count();
        if (rows === 0) break;
        deleted += await this.repo.deleteOldest(Math.max(1, Math.ceil(rows * 0.1)));
      }
      if (deleted > 0) this.log.info({ deleted, file_bytes: this.fileBytes() }, "audit retention");
      return deleted;
    } catch (err) {
      this.log.error({ err }, "audit retention failed");
      return 0;
    }
  }

  private fileBytes(): number {
    const size = (f: string) => {
      try {
        return statSync(f).size;
      } catch {
        return 0;
      }
    };
    return size(this.dbFile) + size(`${this.dbFile}-wal`);
  }
}
