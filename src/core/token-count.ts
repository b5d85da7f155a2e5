/**
 * A token count as a provider reported it, or null when it is not one: a whole number from 0 up
 * to `Number.MAX_SAFE_INTEGER`. Usage read from another server feeds counters (which refuse to go
 * down), sums and audit rows, so a negative, fractional, huge or non-numeric value is dropped here,
 * at the edge, rather than corrupting them.
 */
export function tokenCount(value: unknown): number | null {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : null;
}
