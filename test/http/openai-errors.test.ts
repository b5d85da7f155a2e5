import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { startTestServer, type TestServer } from "../helpers/server.js";

type ErrorClass = new (...args: never[]) => OpenAI.APIError;

interface Case {
  name: string;
  body: unknown;
  status: number;
  cls: ErrorClass;
  code: string;
  param?: string;
}

const ok = { model: "tiny", messages: [{ role: "user", content: "hi" }] };

const CASES: Case[] = [
  { name: "unknown model", body: { ...ok, model: "no-such-model" }, status: 404, cls: OpenAI.NotFoundError, code: "model_not_found", param: "model" },
  { name: "path-like model id", body: { ...ok, model: "../llmux.db" }, status: 404, cls: OpenAI.NotFoundError, code: "model_not_found", param: "model" },
  { name: "missing messages", body: { model: "tiny" }, status: 400, cls: OpenAI.BadRequestError, code: "validation_failed", param: "messages" },
  { name: "empty messages", body: { ...ok, messages: [] }, status: 400, cls: OpenAI.BadRequestError, code: "validation_failed", param: "messages" },
  { name: "bad role", body: { ...ok, messages: [{ role: "wizard", content: "x" }] }, status: 400, cls: OpenAI.BadRequestError, code: "validation_failed", param: "messages.0.role" },
  { name: "wrong type", body: { ...ok, temperature: "hot" }, status: 400, cls: OpenAI.BadRequestError, code: "validation_failed", param: "temperature" },
  { name: "temperature out of range", body: { ...ok, temperature: 5 }, status: 400, cls: OpenAI.BadRequestError, code: "validation_failed", param: "temperature" },
  { name: "max_tokens zero", body: { ...ok, max_tokens: 0 }, status: 400, cls: OpenAI.BadRequestError, code: "validation_failed", param: "max_tokens" },
  { name: "max_tokens fractional", body: { ...ok, max_tokens: 2.5 }, status: 400, cls: OpenAI.BadRequestError, code: "validation_failed", param: "max_tokens" },
  { name: "top_p above 1", body: { ...ok, top_p: 1.5 }, status: 400, cls: OpenAI.BadRequestError, code: "validation_failed", param: "top_p" },
  { name: "five stop strings", body: { ...ok, stop: ["a", "b", "c", "d", "e"] }, status: 400, cls: OpenAI.BadRequestError, code: "validation_failed", param: "stop" },
  { name: "empty stop string", body: { ...ok, stop: [""] }, status: 400, cls: OpenAI.BadRequestError, code: "validation_failed", param: "stop" },
  { name: "n above 1", body: { ...ok, n: 2 }, status: 400, cls: OpenAI.BadRequestError, code: "validation_failed", param: "n" },
  { name: "unknown parameter", body: { ...ok, frobnicate: true }, status: 400, cls: OpenAI.BadRequestError, code: "validation_failed", param: "frobnicate" },
  { name: "unsupported parameter", body: { ...ok, logit_bias: { "1": 5 } }, status: 400, cls: OpenAI.BadRequestError, code: "unsupported_parameter", param: "logit_bias" },
  {
    name: "PDF to a local model",
    body: { ...ok, messages: [{ role: "user", content: [{ type: "file", file: { filename: "a.pdf", file_data: "data:application/pdf;base64,JVBERi0xLjQK" } }] }] },
    status: 400,
    cls: OpenAI.BadRequestError,
    code: "unsupported_parameter",
    param: "messages",
  },
  {
    name: "a file by id where it cannot be read",
    body: { ...ok, messages: [{ role: "user", content: [{ type: "file", file: { file_id: "file-abc" } }] }] },
    status: 400,
    cls: OpenAI.BadRequestError,
    code: "validation_failed",
    param: "messages.0.content.0.file.file_id",
  },
  { name: "image to a text-only model", body: { ...ok, messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] }] }, status: 400, cls: OpenAI.BadRequestError, code: "unsupported_parameter", param: "messages" },
];

describe("bad input on /v1 gives problems the OpenAI SDK understands", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  for (const c of CASES) {
    it(`${c.name} → ${c.status} ${c.cls.name}`, async () => {
      const err = await s.openai.chat.completions.create(c.body as never).then(
        () => assert.fail("expected an error"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof c.cls, `expected ${c.cls.name}, got ${(err as Error).constructor.name}: ${(err as Error).message}`);
      assert.equal(err.status, c.status);
      assert.equal(err.code, c.code);
      if (c.param) assert.equal(err.param, c.param);
      assert.match(err.requestID ?? "", /^req_/);

      // The same request over plain HTTP: an RFC 7807 problem carrying the SDK envelope.
      const res = await fetch(`${s.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": "case-1" },
        body: JSON.stringify(c.body),
      });
      assert.equal(res.status, c.status);
      assert.equal(res.headers.get("content-type"), "application/problem+json; charset=utf-8");
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.type, `urn:llmux:problem:${c.code}`);
      assert.equal(body.status, c.status);
      assert.equal(body.request_id, "case-1");
      assert.equal(body.instance, "/v1/chat/completions");
      assert.equal(typeof body.title, "string");
      assert.equal(typeof body.detail, "string");
      assert.equal((body.error as { code: string }).code, c.code);
      if (c.code === "validation_failed") assert.ok(Array.isArray(body.errors) && body.errors.length >= 1);
    });
  }

  it("malformed JSON → 400 BadRequestError", async () => {
    const broken = new OpenAI({
      baseURL: `${s.url}/v1`,
      apiKey: "unused",
      maxRetries: 0,
      fetch: (url, init) => fetch(url, { ...init, body: '{"model": "tiny", "messages": [' }),
    });
    const err = await broken.chat.completions.create(ok as never).catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.code, "invalid_json");
  });

  it("a body that starts with a UTF-8 byte order mark is read as the JSON after it; a DELETE labelled JSON without a body is answered", async () => {
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ ...ok, max_tokens: 2 }))]);
    const res = await fetch(`${s.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: bom });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(((await res.json()) as { object: string }).object, "chat.completion");
    const del = await s.admin("/api/keys/nope", { method: "DELETE", headers: { ...s.adminHeaders(), "content-type": "application/json" } });
    assert.equal(del.status, 404, "reaches the route, which does not know the key");
    const empty = await fetch(`${s.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: "" });
    assert.equal(empty.status, 400, "a POST with no body is still refused");
  });

  it("a body over the size limit → 413", async () => {
    const err = await s.openai.chat.completions
      .create({ model: "tiny", messages: [{ role: "user", content: "x".repeat(33 * 1024 * 1024) }] })
      .catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.APIError);
    assert.equal(err.status, 413);
    assert.equal(err.code, "payload_too_large");
  });

  it("a body that is not JSON → 415", async () => {
    const res = await fetch(`${s.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "text/plain" }, body: "hello" });
    assert.equal(res.status, 415);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.code, "unsupported_media_type");
  });

  it("a compressed body or one in another charset → 415, not parsed as UTF-8", async () => {
    const body = JSON.stringify({ model: "tiny", messages: [{ role: "user", content: "x" }] });
    for (const headers of [
      { "content-type": "application/json", "content-encoding": "gzip" },
      { "content-type": "application/json; charset=utf-16" },
    ]) {
      const res = await fetch(`${s.url}/v1/chat/completions`, { method: "POST", headers, body });
      assert.equal(res.status, 415, JSON.stringify(headers));
      const p = (await res.json()) as { code: string; request_id: string; error: { type: string } };
      assert.equal(p.code, "unsupported_media_type");
      assert.equal(p.error.type, "invalid_request_error");
    }
    const utf8 = await fetch(`${s.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json; charset=UTF-8", "content-encoding": "identity" }, body: "{" });
    assert.equal(utf8.status, 400, "UTF-8 and identity are read as usual (here: bad JSON)");
  });

  it("a request Node's HTTP parser refuses (oversized headers, two Content-Lengths) → a problem body, then the connection closes", async () => {
    const { port } = new URL(s.url);
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const sock = connect(Number(port), "127.0.0.1", () => sock.end(request));
        let out = "";
        sock.on("data", (d) => (out += d.toString("latin1")));
        sock.on("close", () => resolve(out));
        sock.on("error", reject);
      });
    for (const [request, status, code] of [
      [`GET /v1/models HTTP/1.1\r\nHost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`, 431, "headers_too_large"],
      ["POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400, "bad_http"],
    ] as const) {
      const answer = await raw(request);
      const [head, body] = answer.split("\r\n\r\n");
      assert.match(head!, new RegExp(`^HTTP/1.1 ${status} `));
      assert.match(head!, /content-type: application\/problem\+json/i);
      assert.match(head!, /x-content-type-options: nosniff/i);
      const problem = JSON.parse(body!) as { code: string; status: number; request_id: string };
      assert.equal(problem.code, code);
      assert.equal(problem.status, status);
      assert.match(head!, new RegExp(`x-request-id: ${problem.request_id}`));
    }
  });

  it("a URL the router cannot take apart → a problem with a request id, not Fastify's own body", async () => {
    for (const [path, status, code] of [
      ["/v1/models/%E0%A4%A", 400, "validation_failed"],
      [`/admin/pool/models/${"m".repeat(101)}/load`, 414, "uri_too_long"],
    ] as const) {
      const res = await fetch(`${s.url}${path}`, { method: path.endsWith("/load") ? "POST" : "GET" });
      assert.equal(res.status, status, path);
      assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
      const p = (await res.json()) as { code: string; request_id: string };
      assert.equal(p.code, code);
      assert.equal(res.headers.get("x-request-id"), p.request_id);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    }
  });

  it("prototype-pollution keys are refused as bad JSON", async () => {
    const res = await fetch(`${s.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"model":"tiny","messages":[{"role":"user","content":"x"}],"__proto__":{"polluted":1}}',
    });
    assert.equal(res.status, 400);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("an unknown route → 404 problem, through the SDK and plain HTTP", async () => {
    const err = await s.openai.get("/nothing-here").catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.NotFoundError);
    assert.equal(err.code, "route_not_found");
    const res = await fetch(`${s.url}/admin/nowhere`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.code, "route_not_found");
    assert.equal(body.error, undefined, "outside /v1 the body is a plain problem");
  });

  it("a route called with the wrong method → 405 naming the methods it takes (Allow), not 404", async () => {
    const res = await fetch(`${s.url}/v1/chat/completions`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "POST");
    const body = (await res.json()) as { code: string; request_id: string; error: { type: string } };
    assert.equal(body.code, "method_not_allowed");
    assert.equal(body.error.type, "invalid_request_error");
    assert.equal(res.headers.get("x-request-id"), body.request_id);
    const put = await s.admin("/admin/providers", { method: "PUT" });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "GET, POST");
    // The web UI's GET fallback does not make every path exist for every method.
    const nowhere = await fetch(`${s.url}/nothing/here`, { method: "POST" });
    assert.equal(nowhere.status, 404);
  });

  it("never puts a stack trace or an internal message in a body", async () => {
    const res = await fetch(`${s.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...ok, temperature: "hot" }),
    });
    const text = await res.text();
    assert.doesNotMatch(text, /at .*\.(ts|js):\d+/);
    assert.doesNotMatch(text, /node_modules/);
  });
});
