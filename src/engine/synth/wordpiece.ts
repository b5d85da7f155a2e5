/**
 * A real WordPiece (BERT) vocabulary for synthetic embedding models, stored the way llama.cpp's
 * converter stores BERT vocabularies: a word-initial piece `word` is written as `▁word` (phantom
 * space) and a continuation piece `##ing` as plain `ing`; the specials keep their text.
 *
 * - ids 0..4: `[PAD] [UNK] [CLS] [SEP] [MASK]` (control tokens);
 * - every lowercase letter and digit as a word-initial and a continuation piece, and every ASCII
 *   punctuation mark as a word (so any lowercase ASCII text tokenizes without `[UNK]`);
 * - the words of the built-in training text and common suffixes (`##ing`, `##ed`...);
 * - seeded filler pieces up to the vocabulary size.
 */
import { GgufValueType, LlamaTokenType } from "../gguf/constants.js";
import { kv } from "../gguf/writer.js";
import type { GgufKv } from "../gguf/writer.js";
import { Xoshiro128 } from "./prng.js";
import { TRAINING_TEXT } from "./tokenizer.js";

/** llama.cpp's word-start marker in WordPiece vocabularies. */
export const PHANTOM_SPACE = "\u2581";

export const WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;

const LETTERS = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";
const PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
const SUFFIXES = ["s", "es", "ed", "er", "ers", "est", "ing", "ly", "ion", "tion", "ment", "ness", "able", "al", "ful", "less"];

export interface WordPieceTokenizer {
  tokens: string[];
  tokenTypes: number[];
  padId: number;
  unkId: number;
  clsId: number;
  sepId: number;
  maskId: number;
  /** The `tokenizer.*` GGUF metadata. */
  metadata: GgufKv[];
  /**
   * Reference encoder, as llama.cpp's WPM tokenizer: lowercases, strips accents, splits on
   * whitespace and punctuation, then longest-match-first per word (a word with an unmatched part is `[UNK]`).
   * Without `[CLS]`/`[SEP]`; exact for ASCII and accented Latin text.
   */
  encode(text: string): number[];
}

/**
 * Splits text into words as llama.cpp's WPM pre-processing does (BERT's normalizer: lowercase,
 * accents stripped; whitespace separates words, punctuation is a word of its own). ASCII-accurate.
 */
function splitWords(text: string): string[] {
  const words: string[] = [];
  let cur = "";
  for (const ch of text.normalize("NFD").replace(/\p{Mn}/gu, "").toLowerCase()) {
    if (/\s/u.test(ch)) {
      if (cur) words.push(cur);
      cur = "";
    } else if (/\p{Cc}/u.test(ch)) {
      continue;
    } else if (/\p{P}/u.test(ch) || (ch < "\x7f" && /\p{S}/u.test(ch))) {
      if (cur) words.push(cur);
      words.push(ch);
      cur = "";
    } else {
      cur += ch;
    }
  }
  if (cur) words.push(cur);
  return words;
}

/** Builds the vocabulary and its `tokenizer.*` metadata. Deterministic for a given seed. */
export function buildWordPieceTokenizer(opts: { vocabSize: number; seed: number }): WordPieceTokenizer {
  const tokens: string[] = [...WORDPIECE_SPECIALS];
  const tokenTypes: number[] = WORDPIECE_SPECIALS.map(() => LlamaTokenType.CONTROL);
  const known = new Set<string>(tokens);
  const add = (t: string): void => {
    if (tokens.length >= opts.vocabSize || known.has(t)) return;
    known.add(t);
    tokens.push(t);
    tokenTypes.push(LlamaTokenType.NORMAL);
  };
  const minimum = WORDPIECE_SPECIALS.length + 2 * (LETTERS.length + DIGITS.length) + PUNCTUATION.length;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < minimum) {
    throw new RangeError(`vocabSize must be at least ${minimum}, got ${opts.vocabSize}`);
  }
  for (const c of LETTERS + DIGITS) {
    add(PHANTOM_SPACE + c);
    add(c);
  }
  for (const c of PUNCTUATION) add(PHANTOM_SPACE + c);
  for (const w of splitWords(TRAINING_TEXT)) if (/^[a-z0-9]+$/.test(w)) add(PHANTOM_SPACE + w);
  for (const s of SUFFIXES) add(s);
  const rng = new Xoshiro128(opts.seed ^ 0x3b5d_1e27);
  while (tokens.length < opts.vocabSize) {
    const len = 2 + rng.nextInt(4);
    let piece = "";
    for (let i = 0; i < len; i++) piece += LETTERS[rng.nextInt(LETTERS.length)];
    add(rng.nextInt(2) === 0 ? PHANTOM_SPACE + piece : piece);
  }

  const ids = new Map<string, number>(tokens.map((t, i) => [t, i]));
  const maxLen = Math.max(...tokens.map((t) => t.length));
  const [padId, unkId, clsId, sepId, maskId] = [0, 1, 2, 3, 4];
  const encode = (text: string): number[] => {
    const out: number[] = [];
    for (const word of splitWords(text)) {
      const w = PHANTOM_SPACE + word;
      const start = out.length;
      let ok = true;
      for (let i = 0; i < w.length && ok; ) {
        let j = Math.min(w.length, i + maxLen);
        for (; j > i; j--) {
          const id = ids.get(w.slice(i, j));
          if (id !== undefined) {
            out.push(id);
            break;
          }
        }
        if (j === i) ok = false;
        else i = j;
      }
      if (!ok) out.length = start;
      if (out.length === start) out.push(unkId);
    }
    return out;
  };

  const metadata: GgufKv[] = [
    kv.str("tokenizer.ggml.model", "bert"),
    kv.str("tokenizer.ggml.pre", "default"),
    kv.arr("tokenizer.ggml.tokens", GgufValueType.STRING, tokens),
    kv.arr("tokenizer.ggml.token_type", GgufValueType.INT32, Int32Array.from(tokenTypes)),
    kv.u32("tokenizer.ggml.token_type_count", 2),
    kv.u32("tokenizer.ggml.padding_token_id", padId),
    kv.u32("tokenizer.ggml.unknown_token_id", unkId),
    kv.u32("tokenizer.ggml.bos_token_id", clsId),
    kv.u32("tokenizer.ggml.cls_token_id", clsId),
    kv.u32("tokenizer.ggml.seperator_token_id", sepId),
    kv.u32("tokenizer.ggml.mask_token_id", maskId),
  ];
  return { tokens, tokenTypes, padId, unkId, clsId, sepId, maskId, metadata, encode };
}
