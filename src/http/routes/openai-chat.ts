import type { FastifyInstance } from "fastify";
import { collectOpenAIChat, OpenAIChatStreamEncoder } from "../../codecs/openai/chat-response.js";
import { decodeOpenAIChat } from "../../codecs/openai/chat-request.js";
import type { Router } from "../../routing/router.js";
import { beginInference, type InferenceDeps } from "../inference.js";
import { pumpSse } from "../sse.js";

/** `POST /v1/chat/completions`: decode, route, run, encode. Knows no engine. */
export function registerOpenAIChatRoutes(app: FastifyInstance, deps: { router: Router } & InferenceDeps): void {
  app.post("/v1/chat/completions", { config: { auth: "inference" } }, async (request, reply) => {
    const tracker = beginInference(deps, request, reply, "chat", "openai");
    const { request: chat, includeUsage } = decodeOpenAIChat(request.body);
    tracker.describe(chat.model, chat.stream);
    const target = await deps.router.resolve(chat.model);
    tracker.routed(target.backend.name, target.model);
    const events = tracker.observe(target.backend.stream({ ...chat, model: target.model }, { signal: tracker.signal }));
    if (!chat.stream) return collectOpenAIChat(events, chat.model);
    await pumpSse(request, reply, events, () => new OpenAIChatStreamEncoder(chat.model, includeUsage));
  });
}
