import { z } from "zod";
import type { ChatRequest } from "../../core/chat.js";
import { invalidField } from "../../errors/llmux-error.js";
import { MODEL_NAME_MAX, parseBody } from "../validation.js";
import { decodeSampling, decodeStop, opt, samplingFields } from "./sampling.js";

/** The legacy OpenAI Completions request, as far as llmux honours it. */
export const completionSchema = z.strictObject({
  model: z.string().min(1).max(MODEL_NAME_MAX),
  prompt: z.union([z.string(), z.array(z.string()).min(1).max(64)], {
    // OpenAI also takes token ids (an array of numbers, or of such arrays): say so rather than "invalid input".
    error: (iss) =>
      Array.isArray(iss.input) && iss.input.some((p) => typeof p === "number" || Array.isArray(p))
        ? "token-id prompts are not supported: send the prompt as text (a string, or an array of strings)"
        : "expected a string or an array of 1 to 64 strings",
  }),
  max_tokens: z.number().int().min(1).nullable().optional(),
  ...samplingFields,
  echo: z.boolean().nullable().optional(),
  n: z.literal(1).nullable().optional(),
  best_of: z.literal(1).nullable().optional(),
  logprobs: z.literal(0).nullable().optional(),
  user: z.string().max(256).optional(),
});

const UNSUPPORTED: Record<string, string> = {
  suffix: "insertion (suffix) is not supported",
  logit_bias: "logit_bias is not supported",
};

export interface DecodedCompletion {
  /** One canonical request per prompt; choice `i` answers prompt `i`. */
  requests: ChatRequest[];
  echo: boolean;
  stream: boolean;
  includeUsage: boolean;
}

/** Decodes a legacy completions body: each prompt becomes a raw-prompt canonical request. */
export function decodeOpenAICompletion(body: unknown): DecodedCompletion {
  const b = parseBody(completionSchema, body, UNSUPPORTED, { nullIsAbsent: true });
  const prompts = typeof b.prompt === "string" ? [b.prompt] : b.prompt;
  const stop = decodeStop(b.stop);
  if (prompts.some((p) => p.length === 0)) throw invalidField("prompt", "prompts must not be empty");
  const stream = b.stream === true;
  return {
    requests: prompts.map((prompt) => ({
      model: b.model,
      messages: [],
      prompt,
      // The legacy API's default is 16 tokens.
      maxTokens: opt(b.max_tokens) ?? 16,
      sampling: decodeSampling(b),
      stop,
      stream,
    })),
    echo: b.echo === true,
    stream,
    includeUsage: stream && b.stream_options?.include_usage === true,
  };
}
