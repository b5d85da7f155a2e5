import type { AuditRow } from "$api";

/** The audit screen's filter form (empty string = no filter). */
export interface AuditFilterForm {
  model: string;
  backend: string;
  status: string;
  route: string;
  from: string;
  to: string;
}

/** Whether a live row belongs in the table under the current filters (the server applies the same ones to lists). */
export function matchesFilter(row: AuditRow, f: AuditFilterForm): boolean {
  if (f.model && row.model_requested !== f.model && row.model_served !== f.model) return false;
  if (f.backend && row.backend !== f.backend) return false;
  if (f.status && row.status !== f.status) return false;
  if (f.route && row.route !== f.route) return false;
  if (f.from && row.ts < new Date(f.from).getTime()) return false;
  if (f.to && row.ts > new Date(f.to).getTime()) return false;
  return true;
}
