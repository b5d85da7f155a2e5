import { Xoshiro128 } from "../engine/synth/prng.js";
/**
 * Deterministic English-like prompts of a chosen size, built from common words that BPE
 * vocabularies hold as single tokens. Sizes are approximate: ~0.9 words per token, measured
 * for this filler with the synthetic `bench` model's Qwen2-style tokenizer (917 words gave 1023
 * tokens); general English prose is nearer 0.75, but it has longer, rarer words. The server's
 * usage report gives the real count (`promptTokensMean` in the result).
 */

/** Named prompt sizes, in approximate tokens. */
export const PROMPT_SIZES = { short: 32, medium: 256, long: 1024 } as const;

export const WORDS_PER_TOKEN = 0.9;

const LEAD = ["Read", "the", "text", "below", "and", "continue", "the", "story:"];
/** Words of the per-request tag (`Ref 17.`) and the lead; about 16 tokens together (measured). */
const FIXED_WORDS = 2 + LEAD.length;
const FIXED_TOKENS = 16;

/** A prompt size as given on the command line, resolved. */
export interface PromptSpec {
  /** What was asked for: `short`, `medium`, `long` or a token count. */
  spec: string;
  approxTokens: number;
  /** Words in every prompt (the per-request tag included). */
  words: number;
}

/** The longest prompt a bench builds: the largest context llmux loads (a larger one only fills memory). */
export const MAX_PROMPT_TOKENS = 1_048_576;

/** Parses `short|medium|long|N`; throws on anything else. */
export function parsePromptSpec(value: string): PromptSpec {
  const named = (PROMPT_SIZES as Record<string, number>)[value];
  const tokens = named ?? (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= MAX_PROMPT_TOKENS ? Number(value) : NaN);
  if (!Number.isFinite(tokens)) throw new Error(`--prompt must be short, medium, long or a token count from 1 to ${MAX_PROMPT_TOKENS}, not '${value.slice(0, 40)}'`);
  const filler = Math.max(1, Math.round((tokens - FIXED_TOKENS) * WORDS_PER_TOKEN));
  return { spec: value, approxTokens: tokens, words: FIXED_WORDS + filler };
}

// Common English words that BPE vocabularies (and the synthetic models' tokenizer, trained on
// similar text) hold as single tokens, so the word count predicts the token count well.
const NOUNS = [
  "world", "dog", "fox", "model", "city", "weather", "user", "list", "function", "time",
  "date", "example", "file", "data", "result", "people", "problem", "story", "robot", "sky",
  "sea", "trees", "day", "night", "text", "sentence", "system", "server", "request", "answer",
  "question", "assistant", "code", "name", "path", "status", "port", "numbers", "tools", "questions",
];
const ADJECTIVES = ["quick", "brown", "lazy", "small", "sunny", "warm", "helpful", "best", "current", "large", "short", "happy"];
const PAST = ["answered", "asked", "wanted", "started", "returned"];
const BASE = ["paint", "write", "read", "show", "use", "get", "look", "solve", "help", "visit", "continue"];
const MODALS = ["can", "will"];
const PREPOSITIONS = ["in", "for", "of", "on", "at", "over", "below", "about", "like"];
const LINKS = ["and", "but"];


/** Exactly `count` words of English-like sentences, the same for the same seed. */
export function fillerWords(count: number, seed = 1): string {
  const prng = new Xoshiro128(seed);
  const next = () => prng.nextFloat();
  const pick = (xs: readonly string[]) => xs[Math.floor(next() * xs.length)];
  const words: string[] = [];
  while (words.length < count) {
    const clause =
      next() < 0.5
        ? ["The", pick(ADJECTIVES), pick(NOUNS), pick(PAST), "the", pick(ADJECTIVES), pick(NOUNS)]
        : ["The", pick(NOUNS), pick(MODALS), pick(BASE), "the", pick(NOUNS), pick(PREPOSITIONS), "the", pick(NOUNS)];
    if (next() < 0.3) clause.push(pick(LINKS), "the", pick(NOUNS), pick(PAST), "it");
    clause[clause.length - 1] += ".";
    words.push(...clause);
  }
  const out = words.slice(0, count);
  // A clause cut short should not end on "the" or "can": end it on a noun instead.
  if (!out[out.length - 1].endsWith(".") && !NOUNS.includes(out[out.length - 1])) out[out.length - 1] = pick(NOUNS);
  if (!out[out.length - 1].endsWith(".")) out[out.length - 1] += ".";
  return out.join(" ");
}

/**
 * Builds prompts of one size. Each request gets a distinct leading tag (`Ref 17.`) so
 * servers with prefix caching (llama-server, vLLM) still evaluate every prompt: a bench of
 * prefill would otherwise measure cache hits. The filler after the tag is built once.
 */
export class PromptBuilder {
  private readonly body: string;

  constructor(readonly size: PromptSpec) {
    const fillerCount = Math.max(1, size.words - FIXED_WORDS);
    this.body = `${LEAD.join(" ")} ${fillerWords(fillerCount)}`;
  }

  /** The prompt of request number `index` (any integer). */
  prompt(index: number): string {
    return `Ref ${index}. ${this.body}`;
  }
}
