import type { FastifyInstance } from "fastify";
import { decodeOpenAIEmbeddings, encodeOpenAIEmbeddings } from "../../codecs/openai/embeddings.js";
import type { EmbeddingBackend, EmbeddingResult } from "../../engine/embeddings/embedding-service.js";
import { LlmuxError } from "../../errors/llmux-error.js";
import { openPassthrough, type PassthroughResponse } from "../../routing/passthrough.js";
import type { Router } from "../../routing/router.js";
import { forwardPassthrough } from "../gateway.js";
import { beginInference, type InferenceDeps } from "../inference.js";

export type { EmbeddingBackend };

/** What one attempt produced: vectors from the local engine, or a provider's answer to forward as it came. */
type Embedded = { kind: "local"; result: EmbeddingResult } | { kind: "raw"; upstream: PassthroughResponse };

/**
 * `POST /v1/embeddings`: decode (validated whatever the target), route with failover like chat,
 * then embed locally (one runner round trip for all inputs) or forward the body to an OpenAI-protocol
 * provider's embeddings endpoint, untouched but for a renamed model, and its answer back as it came.
 * Anthropic's API has no embeddings: a rule that sends embeddings there is a 400. Knows no engine.
 */
export function registerOpenAIEmbeddingRoutes(app: FastifyInstance, deps: { embeddings?: EmbeddingBackend; router: Router } & InferenceDeps): void {
  app.post("/v1/embeddings", { config: { auth: "inference" } }, async (request, reply) => {
    const tracker = beginInference(deps, request, reply, "embeddings", "openai");
    const decoded = decodeOpenAIEmbeddings(request.body);
    tracker.describe(decoded.model, false);
    const plan = await deps.router.plan(decoded.model);
    tracker.routed(plan.targets[0]!.backendName, plan.targets[0]!.model);
    const opened = await deps.router.open(plan, tracker, async (t): Promise<Embedded> => {
      if (!t.provider) {
        if (!deps.embeddings) throw new LlmuxError("engine_unavailable", "this server has no embedding engine");
        // A timeout aborts the signal with a `timeout` error, which the embedding call rejects with.
        return { kind: "local", result: await deps.embeddings.embed(t.model, decoded.inputs, { signal: tracker.signal, dimensions: decoded.dimensions }) };
      }
      if (t.provider.protocol !== "openai" || !request.rawBody) {
        throw new LlmuxError("unsupported_parameter", `model '${decoded.model}' is routed to provider '${t.backendName}', which speaks the Anthropic API: it has no embeddings endpoint`, { param: "model" });
      }
      const upstream = await openPassthrough({
        provider: t.provider,
        model: t.model,
        rawBody: request.rawBody,
        body: request.body as Record<string, unknown>,
        clientHeaders: request.headers,
        cancel: tracker,
        path: t.provider.embeddingsPath,
      });
      return { kind: "raw", upstream };
    });
    tracker.served(opened.target.backendName, opened.target.model);
    try {
      const value = opened.value;
      if (value.kind === "raw") return await forwardPassthrough(request, reply, tracker, value.upstream, false, {}, () => "");
      tracker.recordUsage(value.result.promptTokens, 0);
      return encodeOpenAIEmbeddings(value.result, decoded.encodingFormat);
    } finally {
      if (opened.value.kind === "raw") opened.value.upstream.close();
      opened.done();
    }
  });
}
