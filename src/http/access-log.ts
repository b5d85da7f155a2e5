import { hostname } from "node:os";
import type { Logger } from "pino";

/** What one access-log line records: nothing a client wrote but the path (never the query). */
export interface AccessEntry {
  requestId: string;
  method: string;
  /** The request URL; its query is cut off here (it can hold a secret). */
  url: string;
  status: number;
  ms: number;
}

/**
 * The access log: one JSON line per request, in the shape pino writes (`level`, `time`, `pid`,
 * `hostname`, then `request_id`, `method`, `url`, `status`, `ms`, `msg: "request"`), built by
 * hand and written straight to the log destination. The line has a fixed shape that can hold no
 * secret, so it needs neither pino's redaction nor its generic serialiser: going through
 * `logger.info` cost about 3% of the gateway's CPU at 50 connections; this costs well under 1%.
 * Client-supplied strings (request id, path) are JSON-escaped. Written only when `logger` logs
 * at `info`, read per line so a level changed at run time applies. The server hands it a
 * destination that sends a turn's lines in one write (`LogDestination.writeSoon`).
 */
export function accessLogWriter(logger: Logger, destination: { write(line: string): unknown }): (e: AccessEntry) => void {
  // pino's default base fields, as it writes them.
  const base = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())}`;
  const level = logger.levels.values.info;
  return (e) => {
    if (!logger.isLevelEnabled("info")) return;
    const q = e.url.indexOf("?");
    const path = q < 0 ? e.url : e.url.slice(0, q);
    destination.write(
      `{"level":${level},"time":${Date.now()}${base},"request_id":${JSON.stringify(e.requestId)},"method":${JSON.stringify(e.method)},"url":${JSON.stringify(path)},"status":${e.status},"ms":${Math.round(e.ms)},"msg":"request"}\n`,
    );
  };
}
