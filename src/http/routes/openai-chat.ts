import type { FastifyInstance } from "fastify";
import { collectOpenAIChat, OpenAIChatStreamEncoder } from "../../codecs/openai/chat-response.js";
import { decodeOpenAIChat } from "../../codecs/openai/chat-request.js";
import type { Router } from "../../routing/router.js";
import { abortOnDisconnect, pumpSse } from "../sse.js";

/** `POST /v1/chat/completions`: decode, route, run, encode. Knows no engine. */
export function registerOpenAIChatRoutes(app: FastifyInstance, deps: { router: Router }): void {
  app.post("/v1/chat/completions", async (request, reply) => {
    const { request: chat, includeUsage } = decodeOpenAIChat(request.body);
    const target = await deps.router.resolve(chat.model);
    const abort = abortOnDisconnect(reply);
    const events = target.backend.stream({ ...chat, model: target.model }, { signal: abort.signal });
    if (!chat.stream) return collectOpenAIChat(events, chat.model);

    await pumpSse(request, reply, events, () => new OpenAIChatStreamEncoder(chat.model, includeUsage));
  });
}
