import type { FastifyInstance } from "fastify";
import { setMaxListeners } from "node:events";
import { decodeOpenAICompletion } from "../../codecs/openai/completion-request.js";
import { collectOpenAICompletion, OpenAICompletionStreamEncoder, type IndexedEvent } from "../../codecs/openai/completion-response.js";
import { LlmuxError } from "../../errors/llmux-error.js";
import type { Router } from "../../routing/router.js";
import { mergeStreams } from "../../util/merge-streams.js";
import { beginInference, type InferenceDeps } from "../inference.js";
import { pumpSse } from "../sse.js";

/** `POST /v1/completions` (legacy): one generation per prompt, run concurrently. */
export function registerOpenAICompletionRoutes(app: FastifyInstance, deps: { router: Router } & InferenceDeps): void {
  app.post("/v1/completions", { config: { auth: "inference" } }, async (request, reply) => {
    const tracker = beginInference(deps, request, reply, "completions", "openai");
    const decoded = decodeOpenAICompletion(request.body);
    const model = decoded.requests[0].model;
    tracker.describe(model, decoded.stream);
    const target = await deps.router.resolve(model);
    if (target.backend.name !== "local") {
      // Provider backends speak chat only: a raw prompt would be silently dropped.
      throw new LlmuxError("unsupported_parameter", `model '${model}' is routed to provider '${target.backend.name}'; /v1/completions serves local models only (use /v1/chat/completions)`, { param: "model" });
    }
    tracker.routed(target.backend.name, target.model);
    // Every prompt's generation listens to the one request signal at the same time: more than
    // Node's default of ten is expected here, not a leak (it printed a warning per request).
    setMaxListeners(decoded.requests.length + 10, tracker.signal);
    const sources = decoded.requests.map((r) =>
      tracker.observe(target.backend.stream({ ...r, model: target.model }, { signal: tracker.signal })),
    );
    const tagged = (async function* (): AsyncGenerator<IndexedEvent> {
      for await (const { index, value } of mergeStreams(sources)) yield { index, event: value };
    })();
    const prompts = decoded.requests.map((r) => r.prompt ?? "");
    if (!decoded.stream) return collectOpenAICompletion(tagged, prompts, { model, echo: decoded.echo });

    await pumpSse(request, reply, tagged, () => new OpenAICompletionStreamEncoder(model, prompts, { echo: decoded.echo, includeUsage: decoded.includeUsage }));
  });
}
