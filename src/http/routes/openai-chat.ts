import type { FastifyInstance } from "fastify";
import { collectOpenAIChat, OpenAIChatStreamEncoder } from "../../codecs/openai/chat-response.js";
import { decodeOpenAIChat } from "../../codecs/openai/chat-request.js";
import type { Router } from "../../routing/router.js";
import { forwardPassthrough, peekChat, routeChat } from "../gateway.js";
import { beginInference, type InferenceDeps } from "../inference.js";
import { pumpSse } from "../sse.js";

/**
 * `POST /v1/chat/completions`: decode, route (with failover), run, encode. An OpenAI-kind
 * provider gets the client's body as it came and its answer goes back as it came. Knows no engine.
 */
export function registerOpenAIChatRoutes(app: FastifyInstance, deps: { router: Router } & InferenceDeps): void {
  app.post("/v1/chat/completions", { config: { auth: "inference" } }, async (request, reply) => {
    const tracker = beginInference(deps, request, reply, "chat", "openai");
    let decoded: ReturnType<typeof decodeOpenAIChat> | undefined;
    const decode = () => (decoded ??= decodeOpenAIChat(request.body));
    // A body without a plain model name is decoded at once, for the decoder's precise error.
    const head = peekChat(request.body) ?? decode().request;
    tracker.describe(head.model, head.stream);
    return routeChat(deps.router, tracker, request, "openai", head.model, () => decode().request, async (routed) => {
      if (routed.kind === "raw") {
        // The encoder only renders an in-band error: made when one happens, not per request.
        return forwardPassthrough(request, reply, tracker, routed.upstream, head.stream, {}, (e) => new OpenAIChatStreamEncoder(head.model, false).error(e, request.id));
      }
      const { request: chat, includeUsage } = decode();
      const events = tracker.observe(routed.events);
      if (!chat.stream) return collectOpenAIChat(events, chat.model);
      await pumpSse(request, reply, events, () => new OpenAIChatStreamEncoder(chat.model, includeUsage));
    });
  });
}
