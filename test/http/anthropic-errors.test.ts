import Anthropic from "@anthropic-ai/sdk";
import { ProviderSet } from "../../src/routing/provider-set.js";
import { Router } from "../../src/routing/router.js";
import Fastify, { type FastifyInstance } from "fastify";
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ChatBackend, ChatEvent, ChatRequest } from "../../src/core/chat.js";
import { LlmuxError } from "../../src/errors/llmux-error.js";
import { sendProblem, toLlmuxError } from "../../src/http/problem.js";
import { requestIdFor } from "../../src/http/request-id.js";
import { registerAnthropicRoutes } from "../../src/http/routes/anthropic-messages.js";
import { LifecycleBus } from "../../src/observability/lifecycle.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

type ErrorClass = new (...args: never[]) => InstanceType<typeof Anthropic.APIError>;

interface Case {
  name: string;
  body: unknown;
  status: number;
  cls: ErrorClass;
  /** Anthropic's `error.type`. */
  type: string;
  /** llmux's registry code. */
  code: string;
  /** The field the problem names first. */
  field?: string;
  path?: "/v1/messages" | "/v1/messages/count_tokens";
}

const ok = { model: "tiny", max_tokens: 8, messages: [{ role: "user", content: "hi" }] };
const BAD = { cls: Anthropic.BadRequestError, status: 400, type: "invalid_request_error" } as const;
const image = { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } };

const CASES: Case[] = [
  { name: "missing max_tokens", body: { model: "tiny", messages: ok.messages }, ...BAD, code: "validation_failed", field: "max_tokens" },
  { name: "max_tokens as a string", body: { ...ok, max_tokens: "8" }, ...BAD, code: "validation_failed", field: "max_tokens" },
  { name: "model as a number", body: { ...ok, model: 7 }, ...BAD, code: "validation_failed", field: "model" },
  { name: "content as a number", body: { ...ok, messages: [{ role: "user", content: 7 }] }, ...BAD, code: "validation_failed", field: "messages.0.content" },
  { name: "temperature as a string", body: { ...ok, temperature: "hot" }, ...BAD, code: "validation_failed", field: "temperature" },
  { name: "temperature above 1", body: { ...ok, temperature: 1.5 }, ...BAD, code: "validation_failed", field: "temperature" },
  { name: "empty messages", body: { ...ok, messages: [] }, ...BAD, code: "validation_failed", field: "messages" },
  { name: "unknown field", body: { ...ok, frobnicate: true }, ...BAD, code: "validation_failed", field: "frobnicate" },
  { name: "known but unsupported field", body: { ...ok, mcp_servers: [{ type: "url", url: "x", name: "y" }] }, ...BAD, code: "unsupported_parameter", field: "mcp_servers" },
  { name: "system role in messages", body: { ...ok, messages: [{ role: "system", content: "x" }] }, ...BAD, code: "validation_failed", field: "messages.0.role" },
  { name: "thinking budget not below max_tokens", body: { ...ok, thinking: { type: "enabled", budget_tokens: 2048 } }, ...BAD, code: "validation_failed", field: "thinking.budget_tokens" },
  {
    name: "thinking on a model that does not reason",
    body: { ...ok, max_tokens: 4096, thinking: { type: "enabled", budget_tokens: 1024 } },
    ...BAD,
    code: "unsupported_parameter",
  },
  { name: "a server tool", body: { ...ok, tools: [{ type: "web_search_20250305", name: "web_search" }] }, ...BAD, code: "validation_failed", field: "tools.0.type" },
  { name: "assistant prefill", body: { ...ok, messages: [...ok.messages, { role: "assistant", content: "Sure" }] }, ...BAD, code: "unsupported_parameter", field: "messages.1.role" },
  { name: "unknown model", body: { ...ok, model: "no-such-model" }, status: 404, cls: Anthropic.NotFoundError, type: "not_found_error", code: "model_not_found" },
  {
    name: "PDF to the local model",
    body: { ...ok, messages: [{ role: "user", content: [{ type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBERi0xLjQK" } }] }] },
    ...BAD,
    code: "unsupported_parameter",
  },
  {
    name: "document with citations",
    body: { ...ok, messages: [{ role: "user", content: [{ type: "document", source: { type: "text", media_type: "text/plain", data: "x" }, citations: { enabled: true } }] }] },
    ...BAD,
    code: "validation_failed",
    field: "messages.0.content.0.citations",
  },
  {
    name: "image to the text-only local model",
    body: { ...ok, messages: [{ role: "user", content: [{ type: "text", text: "what is this?" }, image] }] },
    ...BAD,
    code: "unsupported_parameter",
  },
  {
    name: "tool_choice naming a tool that is not given",
    body: { ...ok, tools: [{ name: "get_weather", input_schema: { type: "object" } }], tool_choice: { type: "tool", name: "other" } },
    ...BAD,
    code: "validation_failed",
    field: "tool_choice.name",
  },
  {
    name: "stream to an unknown model",
    body: { ...ok, model: "no-such-model", stream: true },
    status: 404,
    cls: Anthropic.NotFoundError,
    type: "not_found_error",
    code: "model_not_found",
  },
  { name: "count_tokens with max_tokens", body: ok, ...BAD, code: "validation_failed", field: "max_tokens", path: "/v1/messages/count_tokens" },
  {
    name: "count_tokens for an unknown model",
    body: { model: "nope", messages: ok.messages },
    status: 404,
    cls: Anthropic.NotFoundError,
    type: "not_found_error",
    code: "model_not_found",
    path: "/v1/messages/count_tokens",
  },
];

/** Checks an Anthropic error body that also carries the RFC 7807 problem. */
function assertProblem(body: Record<string, unknown>, c: { status: number; type: string; code: string; path: string; field?: string }) {
  assert.equal(body.type, "error");
  assert.deepEqual(Object.keys(body.error as object).sort(), ["message", "type"]);
  assert.equal((body.error as { type: string }).type, c.type);
  assert.equal(typeof (body.error as { message: string }).message, "string");
  assert.equal(body.problem_type, `urn:llmux:problem:${c.code}`);
  assert.equal(body.status, c.status);
  assert.equal(typeof body.title, "string");
  assert.equal(body.detail, (body.error as { message: string }).message);
  assert.equal(body.instance, c.path);
  assert.match(String(body.request_id), /^req_|^case-/);
  assert.equal(body.code, c.code);
  if (c.code === "validation_failed") {
    assert.ok(Array.isArray(body.errors) && body.errors.length >= 1);
    if (c.field) assert.equal((body.errors as { field: string }[])[0].field, c.field);
  }
}

describe("bad input on /v1/messages gives errors the Anthropic SDK understands", () => {
  let s: TestServer;
  let client: Anthropic;
  before(async () => {
    s = await startTestServer();
    client = new Anthropic({ baseURL: s.url, apiKey: "unused", maxRetries: 0 });
  });
  after(() => s.close());

  for (const c of CASES) {
    const path = c.path ?? "/v1/messages";
    it(`${c.name} → ${c.status} ${c.cls.name}`, async () => {
      const call =
        path === "/v1/messages" ? client.messages.create(c.body as never) : client.messages.countTokens(c.body as never);
      const err = await call.then(
        () => assert.fail("expected an error"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof c.cls, `expected ${c.cls.name}, got ${(err as Error).constructor.name}: ${(err as Error).message}`);
      assert.equal(err.status, c.status);
      assert.equal(err.type, c.type);
      assert.match(err.requestID ?? "", /^req_/);
      assertProblem(err.error as Record<string, unknown>, { ...c, path });

      // The same request over plain HTTP: the problem content type, the caller's request id.
      const res = await fetch(`${s.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": "case-1", "anthropic-version": "2023-06-01" },
        body: JSON.stringify(c.body),
      });
      assert.equal(res.status, c.status);
      assert.equal(res.headers.get("content-type"), "application/problem+json; charset=utf-8");
      assert.equal(res.headers.get("request-id"), "case-1");
      const body = (await res.json()) as Record<string, unknown>;
      assertProblem(body, { ...c, path });
      assert.equal(body.request_id, "case-1");
    });
  }

  it("malformed JSON → 400 BadRequestError", async () => {
    const broken = new Anthropic({
      baseURL: s.url,
      apiKey: "unused",
      maxRetries: 0,
      fetch: (url, init) => fetch(url, { ...init, body: '{"model": "tiny", "messages": [' }),
    });
    const err = await broken.messages.create(ok as never).catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.BadRequestError);
    assert.equal(err.type, "invalid_request_error");
    assert.equal((err.error as { code: string }).code, "invalid_json");
  });

  it("a body over the size limit → 413 APIError (request_too_large)", async () => {
    const err = await client.messages
      .create({ model: "tiny", max_tokens: 1, messages: [{ role: "user", content: "x".repeat(33 * 1024 * 1024) }] })
      .catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.APIError);
    assert.ok(err instanceof Anthropic.ContentTooLargeError);
    assert.equal(err.status, 413);
    assert.equal(err.type, "request_too_large");
  });

  it("never puts a stack trace or a prompt in a body or the log", async () => {
    const secret = "very-private-prompt-text";
    const res = await fetch(`${s.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...ok, temperature: "hot", messages: [{ role: "user", content: secret }] }),
    });
    const text = await res.text();
    assert.doesNotMatch(text, /at .*\.(ts|js):\d+/);
    assert.doesNotMatch(text, /node_modules/);
    assert.doesNotMatch(text, new RegExp(secret));
    assert.doesNotMatch(s.log(), new RegExp(secret));
  });
});

/** A scripted backend: each model name is one behaviour. */
class ScriptedBackend implements ChatBackend {
  readonly name = "scripted";
  countTokens?: (request: ChatRequest) => Promise<number>;

  async *stream(request: ChatRequest): AsyncIterable<ChatEvent> {
    const usage = { type: "usage", usage: { promptTokens: 11, completionTokens: 6 } } as const;
    switch (request.model) {
      case "crash-before":
        throw new Error("internal detail that must not leak");
      case "crash-mid":
        yield { type: "start", model: request.model };
        yield { type: "text", text: "Hi" };
        throw new LlmuxError("model_crashed", "the model runner crashed");
      case "think-then-tool":
        yield { type: "start", model: request.model };
        yield { type: "reasoning", text: "The user wants weather." };
        yield { type: "text", text: "Let me check." };
        yield { type: "tool_call_start", index: 0, id: "toolu_01X", name: "get_weather" };
        yield { type: "tool_call_delta", index: 0, argumentsDelta: '{"city": "Pa' };
        yield { type: "tool_call_delta", index: 0, argumentsDelta: 'ris", "days": 2}' };
        yield { type: "tool_call_end", index: 0 };
        yield usage;
        yield { type: "finish", reason: "tool_calls" };
        return;
    }
  }
}

/**
 * The Anthropic routes alone on a real Fastify server, with the same problem
 * rendering as the full app, over a scripted backend (the real engine cannot be
 * told to crash or to call a tool on cue).
 */
describe("/v1/messages over scripted backends", () => {
  let app: FastifyInstance;
  let client: Anthropic;
  let url: string;
  const backend = new ScriptedBackend();
  before(async () => {
    // The real router, with the scripted backend standing in for the local engine and every name a "local model".
    const router = new Router({ get: async (id: string) => ({ id }) } as never, backend, new ProviderSet({ list: async () => [] } as never));
    app = Fastify({ genReqId: requestIdFor });
    app.setErrorHandler((err, request, reply) => sendProblem(request, reply, toLlmuxError(err)));
    registerAnthropicRoutes(app, { router: router as never, bus: new LifecycleBus(), timeouts: { get: () => 60 } as never });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const addr = app.server.address();
    url = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
    client = new Anthropic({ baseURL: url, apiKey: "unused", maxRetries: 0 });
  });
  after(() => app.close());

  const body = (model: string) => ({ model, max_tokens: 64, messages: [{ role: "user" as const, content: "hi" }] });

  it("an internal failure before the stream → 500 InternalServerError without the detail", async () => {
    for (const stream of [false, true]) {
      const err = await client.messages.create({ ...body("crash-before"), stream } as never).catch((e: unknown) => e);
      assert.ok(err instanceof Anthropic.InternalServerError, String(err));
      assert.equal(err.status, 500);
      assert.equal(err.type, "api_error");
      assert.doesNotMatch(JSON.stringify(err.error), /must not leak/);
    }
  });

  it("a failure after streaming began is an in-band error event the SDK raises", async () => {
    const res = await fetch(`${url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...body("crash-mid"), stream: true }),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    const frames = text.split("\n\n").filter(Boolean);
    const last = frames.at(-1)!;
    assert.match(last, /^event: error\ndata: /);
    const data = JSON.parse(last.split("\n")[1].slice("data: ".length));
    assert.deepEqual(data.error, { type: "api_error", message: "the model runner crashed" });
    assert.equal(data.type, "error");
    assert.match(data.request_id, /^req_/);

    const stream = await client.messages.create({ ...body("crash-mid"), stream: true });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const ev of stream) seen.push(ev.type);
    })().catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.APIError, String(err));
    assert.equal(err.type, "api_error");
    assert.deepEqual(seen, ["message_start", "content_block_start", "content_block_delta"]);
  });

  it("thinking, text and tool_use blocks stream to the same message the SDK assembles", async () => {
    const whole = await client.messages.create(body("think-then-tool"));
    assert.deepEqual(whole.content, [
      { type: "thinking", thinking: "The user wants weather.", signature: "" },
      { type: "text", text: "Let me check." },
      { type: "tool_use", id: "toolu_01X", name: "get_weather", input: { city: "Paris", days: 2 } },
    ]);
    assert.equal(whole.stop_reason, "tool_use");
    assert.deepEqual(whole.usage, { input_tokens: 11, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 6 });
    const stream = client.messages.stream(body("think-then-tool"));
    const indexes: number[] = [];
    stream.on("streamEvent", (ev) => {
      if (ev.type === "content_block_start") indexes.push(ev.index);
    });
    const final = await stream.finalMessage();
    assert.deepEqual(indexes, [0, 1, 2]);
    const plain = (m: unknown) => {
      const { id: _i, parsed_output: _p, ...rest } = JSON.parse(JSON.stringify(m)) as Record<string, unknown>;
      return rest;
    };
    assert.deepEqual(plain(final), plain(whole));
  });

  it("count_tokens on a backend that cannot count → 400 naming the model", async () => {
    const err = await client.messages.countTokens({ model: "think-then-tool", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.BadRequestError, String(err));
    assert.equal((err.error as { code: string }).code, "unsupported_parameter");
    backend.countTokens = async () => 42;
    try {
      const n = await client.messages.countTokens({ model: "think-then-tool", messages: [{ role: "user", content: "hi" }] });
      assert.deepEqual(n, { input_tokens: 42 });
    } finally {
      delete backend.countTokens;
    }
  });
});
