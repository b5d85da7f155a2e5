/**
 * The pool's memory budget as people write it: bytes, a size with a unit ("8GB", "512 MiB"),
 * or a share of the machine's memory ("50%").
 */
import { totalmem } from "node:os";

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** The budget in bytes, or an error message naming what is wrong (for a 400 on the `budget` field). */
export function parseBudget(value: string | number, totalMemoryBytes: number = totalmem()): { bytes: number } | { error: string } {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && value > 0 ? { bytes: value } : { error: "a number of bytes must be a positive integer" };
  }
  const s = value.trim().toLowerCase();
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(s);
  if (pct) {
    const p = Number(pct[1]);
    if (p <= 0 || p > 100) return { error: "a percentage must be above 0 and at most 100" };
    return { bytes: Math.floor((totalMemoryBytes * p) / 100) };
  }
  const size = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?$/.exec(s);
  if (!size) return { error: "use bytes, a size such as '8GB' or '512MiB', or a percentage of memory such as '50%'" };
  const bytes = Math.floor(Number(size[1]) * UNITS[size[2] ?? "b"]);
  return bytes > 0 && Number.isSafeInteger(bytes) ? { bytes } : { error: "the size must be above 0" };
}

/** `1.5 GiB`, `230.0 MiB`: for problem details and the CLI. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
