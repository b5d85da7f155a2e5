import { z } from "zod";
import type { SamplingParams } from "../../core/chat.js";
import { invalidField } from "../../errors/llmux-error.js";

const probability = z.number().min(0).max(1);
const penalty = z.number().min(-2).max(2);

/** Sampling and stop fields shared by chat and legacy completions (top_k, min_p, repeat_penalty are llama.cpp's). */
export const samplingFields = {
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
  // include_obfuscation only turns OpenAI's padding off: llmux never pads, so either value is honoured.
  stream_options: z.strictObject({ include_usage: z.boolean().optional(), include_obfuscation: z.boolean().optional() }).nullable().optional(),
};

type SamplingBody = { [K in keyof typeof samplingFields]?: z.infer<(typeof samplingFields)[K]> };

/** `null` means "default", as absent does. */
export const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

export function decodeSampling(b: SamplingBody): SamplingParams {
  return {
    temperature: opt(b.temperature),
    topP: opt(b.top_p),
    topK: opt(b.top_k),
    minP: opt(b.min_p),
    seed: opt(b.seed),
    presencePenalty: opt(b.presence_penalty),
    frequencyPenalty: opt(b.frequency_penalty),
    repeatPenalty: opt(b.repeat_penalty),
  };
}

/** Stop strings as a list; an empty one is refused (it would stop at once). */
export function decodeStop(stop: SamplingBody["stop"]): string[] {
  const list = stop == null ? [] : typeof stop === "string" ? [stop] : stop;
  if (list.some((s) => s.length === 0)) throw invalidField("stop", "stop strings must not be empty");
  return list;
}
