import type { IncomingHttpHeaders } from "node:http";
import type { FastifyInstance } from "fastify";
import { LlmuxError } from "../errors/llmux-error.js";
import "./gateway.js"; // declares request.rawBody

/** Deeper than any real request (tool schemas included); deep enough bodies only serve to exhaust stacks. */
export const MAX_JSON_DEPTH = 128;

/** The nesting depth of a JSON text, counted outside strings, stopping as soon as it passes `limit`. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > limit) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

/** True when any object in the value has a `__proto__` key, or a `constructor` key holding a `prototype`. */
function hasPoisonKey(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  if (Array.isArray(value)) return value.some(hasPoisonKey);
  for (const [k, v] of Object.entries(value)) {
    if (k === "__proto__") return true;
    if (k === "constructor" && v !== null && typeof v === "object" && Object.hasOwn(v, "prototype")) return true;
    if (hasPoisonKey(v)) return true;
  }
  return false;
}

/**
 * Why a JSON body cannot be read as sent, or null: it is read as UTF-8 bytes, so a compressed
 * body (`Content-Encoding`) or another charset would be parsed as garbage or, worse, as something
 * else. Refused with a 415 instead.
 */
export function unreadableEncoding(headers: IncomingHttpHeaders): string | null {
  const encoding = headers["content-encoding"];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== "identity") {
    return "compressed request bodies are not accepted; send the JSON without Content-Encoding";
  }
  const type = headers["content-type"];
  if (type !== undefined && type.includes("charset")) {
    const charset = /;\s*charset\s*=\s*"?([^;"\s]*)/i.exec(type)?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") return "send the JSON body as UTF-8 (charset=utf-8)";
  }
  return null;
}

/**
 * Strict JSON for every route: a body with `__proto__` or `constructor.prototype` keys is
 * refused (never merged into an object), and so is one nested deeper than {@link MAX_JSON_DEPTH},
 * which would otherwise reach recursive code (validation, grammar compilation) and exhaust its stack.
 * A compressed body or another charset than UTF-8 is refused ({@link unreadableEncoding}).
 */
export function installStrictJson(app: FastifyInstance): void {
  app.removeContentTypeParser("application/json");
  // The bytes are kept too (`request.rawBody`), so a request for a provider of the same protocol is forwarded as it came.
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    let bytes = body as Buffer;
    // A UTF-8 byte order mark (what some Windows tools write first) is not part of the JSON; nor is it forwarded.
    if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    request.rawBody = bytes;
    const refused = unreadableEncoding(request.headers);
    if (refused) return done(new LlmuxError("unsupported_media_type", refused), undefined);
    const text = bytes.toString("utf8");
    if (text.length === 0) {
      // Many HTTP clients label every request JSON: a DELETE (or GET) with no body has none to parse.
      if (request.method === "DELETE" || request.method === "GET" || request.method === "HEAD") return done(null, undefined);
      return done(new LlmuxError("invalid_json", "the body is empty; send a JSON object"), undefined);
    }
    if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      return done(new LlmuxError("invalid_json", `the body is nested deeper than ${MAX_JSON_DEPTH} levels`), undefined);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return done(new LlmuxError("invalid_json", "the body is not valid JSON"), undefined);
    }
    // Only a text that names the keys (or hides them in \u escapes) can hold them: skip the walk otherwise.
    if ((text.includes("__proto__") || text.includes("constructor") || text.includes("\\u")) && hasPoisonKey(value)) {
      return done(new LlmuxError("invalid_json", "the body holds a forbidden key (__proto__ or constructor.prototype)"), undefined);
    }
    done(null, value);
  });
}
