/**
 * A fake OpenAI- and Anthropic-compatible server with known timings: the first token
 * `firstMs` after the request arrives, then one every `gapMs` (on an absolute timeline, so
 * timer jitter does not accumulate), then usage and the end marker. `POST /v1/embeddings`
 * answers `embedMs` after the request arrives, one vector per input.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeOptions {
  firstMs?: number;
  gapMs?: number;
  tokens?: number;
  /** Send usage (OpenAI usage chunk / Anthropic message_delta usage); default true. */
  usage?: boolean;
  /** Answer every n-th request (counting from 1) with a 500. */
  failEvery?: number;
  /** Answer requests whose body matches with a 400 (e.g. a prompt over the context). */
  badRequest?: (body: Record<string, unknown>) => boolean;
  /** Embeddings: answer this long after the request arrived; default 50. */
  embedMs?: number;
  /** Embeddings: `usage.prompt_tokens` counted per input; default 10. */
  embedTokensPerInput?: number;
  /** Embeddings: vectors per response, when it should not be one per input (a broken server). */
  embedVectors?: number;
}

export interface FakeServer {
  url: string;
  /** Requests received, in arrival order. */
  received: { path: string; headers: IncomingMessage["headers"]; body: Record<string, unknown> }[];
  close(): Promise<void>;
}

const sleepUntil = (t: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, t - performance.now())));

export async function startFakeServer(opts: FakeOptions = {}): Promise<FakeServer> {
  const { firstMs = 200, gapMs = 20, tokens = 20, usage = true, failEvery, badRequest, embedMs = 50, embedTokensPerInput = 10, embedVectors } = opts;
  const received: FakeServer["received"] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const t0 = performance.now();
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw || "{}") as Record<string, unknown>;
    received.push({ path: req.url ?? "", headers: req.headers, body });
    if (failEvery && received.length % failEvery === 0) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "boom", type: "server_error" } }));
      return;
    }
    if (badRequest?.(body)) {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "prompt too long", type: "invalid_request_error" } }));
      return;
    }
    if (req.url === "/v1/embeddings") {
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      await sleepUntil(t0 + embedMs);
      const data = Array.from({ length: embedVectors ?? inputs.length }, (_, index) => ({ object: "embedding", index, embedding: [0.6, 0.8, 0] }));
      const promptTokens = embedTokensPerInput * inputs.length;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", model: body.model, data, ...(usage ? { usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } } : {}) }));
      return;
    }
    const anthropic = req.url === "/v1/messages";
    if (!anthropic && req.url !== "/v1/chat/completions") {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: `no route ${req.url}` } }));
      return;
    }
    const at = (i: number) => t0 + firstMs + i * gapMs;
    if (!body.stream) {
      await sleepUntil(at(tokens - 1));
      const text = "tok ".repeat(tokens);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify(
          anthropic
            ? { id: "msg_1", type: "message", role: "assistant", model: body.model, content: [{ type: "text", text }], stop_reason: "max_tokens", ...(usage ? { usage: { input_tokens: 7, output_tokens: tokens } } : {}) }
            : { id: "c1", object: "chat.completion", model: body.model, choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "length" }], ...(usage ? { usage: { prompt_tokens: 7, completion_tokens: tokens, total_tokens: 7 + tokens } } : {}) },
        ),
      );
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const send = (s: string) => res.write(s);
    if (anthropic) {
      const ev = (type: string, data: Record<string, unknown>) => send(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
      ev("message_start", { message: { id: "msg_1", type: "message", role: "assistant", content: [], model: body.model, stop_reason: null, usage: { input_tokens: 7, output_tokens: 1 } } });
      ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
      ev("ping", {});
      for (let i = 0; i < tokens; i++) {
        await sleepUntil(at(i));
        ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: "tok " } });
      }
      ev("content_block_stop", { index: 0 });
      ev("message_delta", { delta: { stop_reason: "max_tokens", stop_sequence: null }, ...(usage ? { usage: { output_tokens: tokens } } : { usage: {} }) });
      ev("message_stop", {});
    } else {
      const chunk = (extra: Record<string, unknown>) => send(`data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", model: body.model, ...extra })}\n\n`);
      chunk({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }], usage: null });
      for (let i = 0; i < tokens; i++) {
        await sleepUntil(at(i));
        chunk({ choices: [{ index: 0, delta: { content: "tok " }, finish_reason: null }], usage: null });
      }
      chunk({ choices: [{ index: 0, delta: {}, finish_reason: "length" }], usage: null });
      if (usage) chunk({ choices: [], usage: { prompt_tokens: 7, completion_tokens: tokens, total_tokens: 7 + tokens } });
      send("data: [DONE]\n\n");
    }
    res.end();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => res.destroy(err as Error));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
