import type { FastifyInstance } from "fastify";
import { collectOpenAIChat, OpenAIChatStreamEncoder } from "../../codecs/openai/chat-response.js";
import { decodeOpenAIChat } from "../../codecs/openai/chat-request.js";
import type { ChatEvent } from "../../core/chat.js";
import type { Router } from "../../routing/router.js";
import { toLlmuxError } from "../problem.js";
import { abortOnDisconnect, SseWriter } from "../sse.js";

/** `POST /v1/chat/completions`: decode, route, run, encode. Knows no engine. */
export function registerOpenAIChatRoutes(app: FastifyInstance, deps: { router: Router }): void {
  app.post("/v1/chat/completions", async (request, reply) => {
    const { request: chat, includeUsage } = decodeOpenAIChat(request.body);
    const target = await deps.router.resolve(chat.model);
    const abort = abortOnDisconnect(reply);
    const events = target.backend.stream({ ...chat, model: target.model }, { signal: abort.signal });
    if (!chat.stream) return collectOpenAIChat(events, chat.model);

    // Pull the first event before any header goes out: errors until then are plain HTTP problems.
    const it = events[Symbol.asyncIterator]();
    const first = await it.next();
    const encoder = new OpenAIChatStreamEncoder(chat.model, includeUsage);
    const sse = new SseWriter(request, reply);
    try {
      let step: IteratorResult<ChatEvent> = first;
      while (!step.done) {
        await sse.write(encoder.encode(step.value));
        if (sse.closed) break;
        step = await it.next();
      }
      sse.end(encoder.end());
    } catch (err) {
      const e = toLlmuxError(err);
      if (e.code === "internal") request.log.error({ err, request_id: request.id }, "stream failed");
      sse.end(encoder.error(e, request.id));
    } finally {
      await it.return?.();
    }
  });
}
