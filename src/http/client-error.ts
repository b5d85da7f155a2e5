import type { Socket } from "node:net";
import { LlmuxError } from "../errors/llmux-error.js";
import { PROBLEM_CONTENT_TYPE, renderProblem } from "../errors/render.js";
import { mintRequestId } from "./request-id.js";
import { securityHeaders } from "./security-headers.js";

/** The problem for a request Node's HTTP parser refused before Fastify saw it. */
function problemFor(code: unknown): LlmuxError {
  if (code === "HPE_HEADER_OVERFLOW") return new LlmuxError("headers_too_large", "the request's headers are larger than this server accepts");
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return new LlmuxError("request_timeout", "the request did not arrive in time");
  return new LlmuxError("bad_http", "the request is not valid HTTP/1.1 (its framing, headers or Host)");
}

/**
 * Answers a request Node's HTTP parser refused (oversized headers, a duplicate Content-Length,
 * a missing Host, a timeout) with the same problem body as every other refusal, a fresh request
 * id and the security headers, then closes the connection: it cannot be trusted to continue.
 * Fastify's `clientErrorHandler`.
 */
export function answerClientError(err: Error & { code?: unknown }, socket: Socket): void {
  // A reset connection, or one already gone: there is nobody to answer.
  if (err.code === "ECONNRESET" || socket.destroyed || !socket.writable) return;
  const problem = problemFor(err.code);
  const requestId = mintRequestId();
  const rendered = renderProblem(problem, { requestId, instance: "", surface: "plain" });
  delete rendered.instance; // the request's path was never read
  const body = JSON.stringify(rendered);
  const headers = { ...securityHeaders(), "content-type": `${PROBLEM_CONTENT_TYPE}; charset=utf-8`, "content-length": String(Buffer.byteLength(body)), "x-request-id": requestId, connection: "close" };
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  socket.end(`HTTP/1.1 ${problem.status} ${problem.spec.title}\r\n${head}\r\n${body}`);
}
