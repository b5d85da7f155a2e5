import type { FastifyInstance } from "fastify";
import { AccessWatch } from "../../auth/access-watch.js";
import type { AuthService } from "../../auth/auth-service.js";
import { z } from "zod";
import type { AuditWriter } from "../../audit/audit-writer.js";
import { parseBody } from "../../codecs/validation.js";
import type { AuditFilter, AuditRepository, AuditRow } from "../../store/audit-repo.js";

const filterSchema = {
  model: z.string().max(256).optional(),
  backend: z.string().max(128).optional(),
  status: z.enum(["success", "error", "timeout", "cancelled"]).optional(),
  route: z.string().max(128).optional(),
  request_id: z.string().max(128).optional(),
  from: z.coerce.number().int().min(0).optional(),
  to: z.coerce.number().int().min(0).optional(),
};
const listQuery = z.strictObject({ ...filterSchema, limit: z.coerce.number().int().min(1).max(500).default(100), before: z.coerce.number().int().min(1).optional() });
const statsQuery = z.strictObject(filterSchema);
const exportQuery = z.strictObject({ ...filterSchema, format: z.enum(["jsonl", "csv"]).default("jsonl") });

const toFilter = (q: z.infer<typeof statsQuery>): AuditFilter => ({
  model: q.model,
  backend: q.backend,
  status: q.status,
  route: q.route,
  requestId: q.request_id,
  from: q.from,
  to: q.to,
});

const CSV_COLUMNS: (keyof AuditRow)[] = [
  "id", "request_id", "ts", "route", "protocol", "model_requested", "model_served", "backend", "stream", "status", "http_status",
  "duration_ms", "ttft_ms", "prompt_tokens", "completion_tokens", "total_tokens", "error_type", "error_message", "api_key_id", "user_id",
];

const csvCell = (v: unknown): string => {
  if (v === null || v === undefined) return "";
  const s = String(v);
  // Quote when needed; a leading = + - @ is defused so spreadsheets do not run it as a formula.
  const safe = /^[=+\-@\t\r]/.test(s) && typeof v === "string" ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
};

/**
 * The audit log's admin API: list (filters, keyset pagination newest first), stats,
 * export as JSONL or CSV (streamed from the database in chunks), and a WebSocket
 * feed of new rows.
 */
export function registerAdminAuditRoutes(app: FastifyInstance, deps: { auditRepo: AuditRepository; auditWriter: AuditWriter; auth: Pick<AuthService, "stillHolds"> }): void {
  app.get("/admin/audit", { config: { auth: "admin" } }, async (request) => {
    const q = parseBody(listQuery, request.query);
    const items = await deps.auditRepo.list(toFilter(q), { limit: q.limit, before: q.before });
    return { items, next_before: items.length === q.limit ? items[items.length - 1].id : null };
  });

  app.get("/admin/audit/stats", { config: { auth: "admin" } }, async (request) => deps.auditRepo.stats(toFilter(parseBody(statsQuery, request.query))));

  app.get("/admin/audit/export", { config: { auth: "admin" } }, async (request, reply) => {
    const q = parseBody(exportQuery, request.query);
    const rows = deps.auditRepo.iterate(toFilter(q));
    const lines = (async function* () {
      if (q.format === "csv") yield `${CSV_COLUMNS.join(",")}\n`;
      for await (const row of rows) yield q.format === "csv" ? `${CSV_COLUMNS.map((c) => csvCell(row[c])).join(",")}\n` : `${JSON.stringify(row)}\n`;
    })();
    reply
      .type(q.format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson")
      .header("content-disposition", `attachment; filename="llmux-audit.${q.format}"`);
    const { Readable } = await import("node:stream");
    return reply.send(Readable.from(lines));
  });

  app.get("/admin/audit/live", { websocket: true, config: { auth: "admin" } }, (socket, request) => {
    // The handshake was an admin's; a sign-out, a disabled account or a lost admin role ends the feed too.
    const watch = new AccessWatch(deps.auth, request.principal, true, () => {
      if (socket.readyState === socket.OPEN) socket.close(1008, "access revoked");
    });
    let queue: Promise<void> = Promise.resolve();
    const send = (rows: AuditRow[]) => {
      // Chained, so batches keep their order while a check is pending.
      queue = queue.then(async () => {
        if (!(await watch.fresh())) return;
        for (const row of rows) if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: "audit_row", row }));
      });
    };
    deps.auditWriter.on("rows", send);
    socket.on("close", () => {
      watch.stop();
      deps.auditWriter.off("rows", send);
    });
    socket.send(JSON.stringify({ type: "hello" }));
  });
}
