/** Bytes as "1.5 GB" (powers of 1024, like the pool's budget). */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** Seconds as "15 min", "1 h 30 min", "45 s". */
export function formatSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return "—";
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const parts = [h ? `${h} h` : "", m ? `${m} min` : "", sec ? `${sec} s` : ""].filter(Boolean);
  return parts.join(" ");
}

/** Parses "90", "90s", "15m", "1h30m", "1 h 30 min" into seconds; undefined when unreadable. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t));
  const re = /(\d+(?:\.\d+)?)\s*(hours?|h|minutes?|mins?|m|seconds?|secs?|s)/g;
  let total = 0;
  let matched = "";
  for (const m of t.matchAll(re)) {
    const n = Number(m[1]);
    total += m[2].startsWith("h") ? n * 3600 : m[2].startsWith("m") ? n * 60 : n;
    matched += m[0];
  }
  if (!matched || matched.replace(/\s/g, "") !== t.replace(/\s/g, "")) return undefined;
  return Math.round(total);
}

export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleString();
}
