import { EventEmitter } from "node:events";
import type { InferenceEnd, LifecycleBus } from "../observability/lifecycle.js";
import { withSpan } from "../observability/tracing-spans.js";
import type { AuditRepository, AuditRow, NewAuditRow } from "../store/audit-repo.js";

/** The audit row of a finished request: metadata only, never prompt or completion text. */
export function auditRowOf(e: InferenceEnd): NewAuditRow {
  const total = e.promptTokens === null && e.completionTokens === null ? null : (e.promptTokens ?? 0) + (e.completionTokens ?? 0);
  return {
    request_id: e.requestId,
    ts: e.startedAt,
    route: e.route,
    protocol: e.protocol,
    model_requested: e.modelRequested,
    model_served: e.modelServed,
    backend: e.backend,
    stream: e.stream ? 1 : 0,
    status: e.status,
    http_status: e.httpStatus,
    duration_ms: Math.round(e.durationMs * 10) / 10,
    ttft_ms: e.ttftMs === null ? null : Math.round(e.ttftMs * 10) / 10,
    prompt_tokens: e.promptTokens,
    completion_tokens: e.completionTokens,
    total_tokens: total,
    error_type: e.errorType,
    error_message: e.errorMessage,
    api_key_id: e.apiKeyId,
    user_id: e.userId,
  };
}

/**
 * Writes one audit row per finished inference request, off the hot path: rows
 * wait in memory at most `flushMs` (a crash loses at most that window) and go to
 * the database in one insert per batch. Emits `rows` after each write, for the
 * live feed. `close()` flushes what is left (graceful shutdown).
 */
export class AuditWriter extends EventEmitter<{ rows: [AuditRow[]] }> {
  private queue: NewAuditRow[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private readonly onEnd = (e: InferenceEnd) => this.enqueue(auditRowOf(e));

  constructor(
    private readonly repo: AuditRepository,
    private readonly bus: LifecycleBus,
    private readonly log: { error(obj: object, msg: string): void },
    private readonly options: { flushMs: number; maxBatch: number; enabled: boolean } = { flushMs: 50, maxBatch: 200, enabled: true },
  ) {
    super();
    if (options.enabled) bus.on("end", this.onEnd);
  }

  /** Rows accepted but not yet written. */
  get queueLength(): number {
    return this.queue.length;
  }

  private enqueue(row: NewAuditRow): void {
    this.queue.push(row);
    if (this.queue.length >= this.options.maxBatch) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs);
  }

  /** Writes everything queued so far; batches are written one after another, in order. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      try {
        // Its own trace: the batch is written off the requests it records.
        const attributes = { "db.system.name": "sqlite", "db.operation.name": "INSERT", "db.collection.name": "audit_log", "db.operation.batch.size": batch.length };
        // The stored rows (with their ids) are built only for live-feed listeners.
        if (this.listenerCount("rows") === 0) await withSpan("db.audit_write", attributes, () => this.repo.insertMany(batch), { root: true });
        else this.emit("rows", await withSpan("db.audit_write", attributes, () => this.repo.insertManyReturning(batch), { root: true }));
      } catch (err) {
        this.log.error({ err, rows: batch.length }, "audit write failed; rows dropped");
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    this.bus.off("end", this.onEnd);
    await this.flush();
  }
}
