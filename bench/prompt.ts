/** The short prompt every engine benchmark sends (decode-heavy: 64 tokens out for ~40 in). */
export const PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle.";

/** The same prompt as the bench model's chat template renders it (what the HTTP path evaluates). */
export const PROMPT_TEXT = `<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n${PROMPT}<|im_end|>\n<|im_start|>assistant\n`;

/** Sampling for every path: temperature 0.8 and llama.cpp's default top-k/top-p/min-p, as llmux applies them. */
export const SAMPLING = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 } as const;
