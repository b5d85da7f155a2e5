import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Echoes a client's `X-Request-ID` when it is short and safe to log, else mints one. */
export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  if (typeof given === "string" && SAFE_ID.test(given)) return given;
  return `req_${randomUUID().replaceAll("-", "")}`;
}
