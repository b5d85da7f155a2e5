import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { decodeAnthropicCountTokens, decodeAnthropicMessages } from "../../codecs/anthropic/messages-request.js";
import { AnthropicStreamEncoder, collectAnthropicMessage } from "../../codecs/anthropic/messages-response.js";
import type { ChatBackend, ChatEvent, ChatRequest } from "../../core/chat.js";
import { LlmuxError } from "../../errors/llmux-error.js";
import type { Router } from "../../routing/router.js";
import { forwardPassthrough, peekChat, routeChat } from "../gateway.js";
import { beginInference, type InferenceDeps } from "../inference.js";
import { pumpSse } from "../sse.js";

/**
 * Anthropic's SDK reads the request id from `request-id` (OpenAI's from `x-request-id`).
 * Set on the raw response so it also goes out with streamed responses and problems.
 * `x-api-key`, `anthropic-version` and `anthropic-beta` are accepted and not read (auth comes later).
 */
async function anthropicRequestId(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  reply.raw.setHeader("request-id", request.id);
}

/**
 * `message_start` reports the prompt size, which the canonical `start` event does not
 * carry; when the backend can count, the count is taken once the stream has started
 * (so a refused request costs nothing) and handed to the encoder before it writes.
 */
async function* withPromptSize(
  events: AsyncIterable<ChatEvent>,
  backend: ChatBackend,
  request: ChatRequest,
  encoder: AnthropicStreamEncoder,
): AsyncGenerator<ChatEvent> {
  let first = true;
  for await (const ev of events) {
    if (first && ev.type === "start" && !("promptTokens" in ev) && backend.countTokens) {
      const n = await backend.countTokens(request).catch(() => undefined);
      if (n !== undefined) encoder.setInputTokens(n);
    }
    first = false;
    yield ev;
  }
}

/** `POST /v1/messages` and `POST /v1/messages/count_tokens`: decode, route, run, encode. Knows no engine. */
export function registerAnthropicRoutes(app: FastifyInstance, deps: { router: Router } & InferenceDeps): void {
  app.post("/v1/messages", { onRequest: anthropicRequestId, config: { auth: "inference" } }, async (request, reply) => {
    const tracker = beginInference(deps, request, reply, "messages", "anthropic");
    let decoded: ChatRequest | undefined;
    const decode = () => (decoded ??= decodeAnthropicMessages(request.body).request);
    // A body without a plain model name is decoded at once, for the decoder's precise error.
    const head = peekChat(request.body) ?? decode();
    tracker.describe(head.model, head.stream);
    return routeChat(deps.router, tracker, request, "anthropic", head.model, decode, async (routed) => {
      if (routed.kind === "raw") {
        // The encoder only renders an in-band error: made when one happens, not per request.
        return forwardPassthrough(request, reply, tracker, routed.upstream, head.stream, { "request-id": request.id }, (e) =>
          new AnthropicStreamEncoder(head.model).error(e, request.id),
        );
      }
      const chat = decode();
      const events = tracker.observe(routed.events);
      if (!chat.stream) return collectAnthropicMessage(events, chat.model);
      const encoder = new AnthropicStreamEncoder(chat.model);
      await pumpSse(request, reply, withPromptSize(events, routed.backend, routed.request, encoder), () => encoder);
    });
  });

  app.post("/v1/messages/count_tokens", { onRequest: anthropicRequestId, config: { auth: "inference" } }, async (request) => {
    const { request: chat } = decodeAnthropicCountTokens(request.body);
    const target = await deps.router.resolve(chat.model);
    if (!target.backend.countTokens) {
      throw new LlmuxError("unsupported_parameter", `model '${chat.model}' is served by a backend that cannot count tokens`, {
        param: "model",
      });
    }
    return { input_tokens: await target.backend.countTokens({ ...chat, model: target.model }) };
  });
}
