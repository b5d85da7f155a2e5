import type { AuditRow } from "$api";

/**
 * Buckets audit rows of the last `windowMs` into `buckets` equal slices: requests per
 * second, completion tokens per second and mean time to first token (ms) per slice.
 */
export function bucketRows(rows: Pick<AuditRow, "ts" | "completion_tokens" | "ttft_ms">[], now: number, windowMs: number, buckets: number) {
  const size = windowMs / buckets;
  const start = now - windowMs;
  const count = new Array<number>(buckets).fill(0);
  const tokens = new Array<number>(buckets).fill(0);
  const ttftSum = new Array<number>(buckets).fill(0);
  const ttftN = new Array<number>(buckets).fill(0);
  for (const r of rows) {
    if (r.ts < start || r.ts > now) continue;
    const i = Math.min(buckets - 1, Math.floor((r.ts - start) / size));
    count[i]++;
    tokens[i] += r.completion_tokens ?? 0;
    if (r.ttft_ms !== null && r.ttft_ms !== undefined) {
      ttftSum[i] += r.ttft_ms;
      ttftN[i]++;
    }
  }
  const perSecond = (n: number) => n / (size / 1000);
  return { rps: count.map(perSecond), tps: tokens.map(perSecond), ttft: ttftSum.map((s, i) => (ttftN[i] ? s / ttftN[i] : 0)) };
}
