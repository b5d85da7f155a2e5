import { z } from "zod";
import type { ChatRequest } from "../../core/chat.js";
import { invalidField } from "../../errors/llmux-error.js";
import { parseBody } from "../validation.js";

const probability = z.number().min(0).max(1);
const penalty = z.number().min(-2).max(2);

/** The legacy OpenAI Completions request, as far as llmux honours it. */
export const completionSchema = z.strictObject({
  model: z.string().min(1).max(256),
  prompt: z.union([z.string(), z.array(z.string()).min(1).max(64)]),
  max_tokens: z.number().int().min(1).nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: probability.nullable().optional(),
  top_k: z.number().int().min(0).nullable().optional(),
  min_p: probability.nullable().optional(),
  seed: z.number().int().nullable().optional(),
  presence_penalty: penalty.nullable().optional(),
  frequency_penalty: penalty.nullable().optional(),
  repeat_penalty: z.number().min(0).max(10).nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullable().optional(),
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
  const b = parseBody(completionSchema, body, UNSUPPORTED);
  const prompts = typeof b.prompt === "string" ? [b.prompt] : b.prompt;
  const stop = b.stop == null ? [] : typeof b.stop === "string" ? [b.stop] : b.stop;
  if (stop.some((s) => s.length === 0)) throw invalidField("stop", "stop strings must not be empty");
  if (prompts.some((p) => p.length === 0)) throw invalidField("prompt", "prompts must not be empty");
  const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);
  const stream = b.stream === true;
  return {
    requests: prompts.map((prompt) => ({
      model: b.model,
      messages: [],
      prompt,
      // The legacy API's default is 16 tokens.
      maxTokens: opt(b.max_tokens) ?? 16,
      sampling: {
        temperature: opt(b.temperature),
        topP: opt(b.top_p),
        topK: opt(b.top_k),
        minP: opt(b.min_p),
        seed: opt(b.seed),
        presencePenalty: opt(b.presence_penalty),
        frequencyPenalty: opt(b.frequency_penalty),
        repeatPenalty: opt(b.repeat_penalty),
      },
      stop,
      stream,
    })),
    echo: b.echo === true,
    stream,
    includeUsage: stream && b.stream_options?.include_usage === true,
  };
}
