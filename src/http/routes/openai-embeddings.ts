import type { FastifyInstance } from "fastify";
import { decodeOpenAIEmbeddings, encodeOpenAIEmbeddings } from "../../codecs/openai/embeddings.js";
import type { EmbeddingBackend } from "../../engine/embeddings/embedding-service.js";
import { LlmuxError } from "../../errors/llmux-error.js";
import { beginInference, type InferenceDeps } from "../inference.js";

export type { EmbeddingBackend };

/** `POST /v1/embeddings`: decode, embed (one runner round trip for all inputs), encode. Knows no engine. */
export function registerOpenAIEmbeddingRoutes(app: FastifyInstance, deps: { embeddings?: EmbeddingBackend } & InferenceDeps): void {
  app.post("/v1/embeddings", { config: { auth: "inference" } }, async (request, reply) => {
    const tracker = beginInference(deps, request, reply, "embeddings", "openai");
    const decoded = decodeOpenAIEmbeddings(request.body);
    tracker.describe(decoded.model, false);
    if (!deps.embeddings) throw new LlmuxError("engine_unavailable", "this server has no embedding engine");
    // A timeout aborts the signal with a `timeout` error, which the embedding call rejects with.
    const result = await deps.embeddings.embed(decoded.model, decoded.inputs, {
      signal: tracker.signal,
      dimensions: decoded.dimensions,
    });
    tracker.routed("local", result.model);
    tracker.recordUsage(result.promptTokens, 0);
    return encodeOpenAIEmbeddings(result, decoded.encodingFormat);
  });
}
