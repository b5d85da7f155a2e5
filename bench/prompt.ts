/** The short prompt every engine benchmark sends (decode-heavy: 64 tokens out for ~25 in). */
export const PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle.";
