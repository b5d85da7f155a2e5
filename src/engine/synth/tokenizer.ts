/**
 * A real byte-level BPE (GPT-2 style) vocabulary for synthetic models, Qwen2-flavoured:
 * - ids 0..255: the 256 byte tokens in GPT-2's bytes→unicode mapping (in GPT-2's order);
 * - then merges learned from a small built-in English/code text (so common words are few tokens);
 * - then seeded filler merges (concatenations of two existing short tokens) up to the vocab size;
 * - then the special tokens.
 */
import { GgufValueType, LlamaTokenType } from "../gguf/constants.js";
import { kv } from "../gguf/writer.js";
import type { GgufKv } from "../gguf/writer.js";
import { Xoshiro128 } from "./prng.js";
import { CHATML_THINK_TEMPLATE, CHATML_TOOLS_TEMPLATE } from "./templates.js";

/** Special tokens appended after the regular vocabulary, with their token types. */
export const SPECIAL_TOKENS: readonly { text: string; type: LlamaTokenType }[] = [
  { text: "<|endoftext|>", type: LlamaTokenType.CONTROL },
  { text: "<|im_start|>", type: LlamaTokenType.CONTROL },
  { text: "<|im_end|>", type: LlamaTokenType.CONTROL },
  { text: "<think>", type: LlamaTokenType.USER_DEFINED },
  { text: "</think>", type: LlamaTokenType.USER_DEFINED },
  { text: "<tool_call>", type: LlamaTokenType.USER_DEFINED },
  { text: "</tool_call>", type: LlamaTokenType.USER_DEFINED },
];

/** Qwen2's pre-tokenizer regex (llama.cpp's rewrite without the `(?i:...)` group). */
export const QWEN2_PRETOKENIZE =
  /(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** GPT-2's byte → printable unicode character mapping, and the byte order GPT-2 vocabularies use. */
function gpt2ByteMap(): { byteToChar: string[]; order: number[] } {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const byteToChar: string[] = new Array(256);
  for (let i = 0; i < 256; i++) byteToChar[bs[i]] = String.fromCodePoint(cs[i]);
  return { byteToChar, order: bs };
}

const BYTE_MAP = gpt2ByteMap();

const CHAR_TO_BYTE = new Map<string, number>(BYTE_MAP.byteToChar.map((c, b) => [c, b]));

/** Inverse of {@link toByteLevel}: byte-level token text back to bytes. */
export function fromByteLevel(text: string): Buffer {
  const out: number[] = [];
  for (const c of text) {
    const b = CHAR_TO_BYTE.get(c);
    if (b === undefined) throw new RangeError(`not a byte-level character: ${JSON.stringify(c)}`);
    out.push(b);
  }
  return Buffer.from(out);
}

/** UTF-8 bytes of `text` mapped through GPT-2's byte→unicode table. */
export function toByteLevel(text: string): string {
  let out = "";
  for (const b of Buffer.from(text, "utf8")) out += BYTE_MAP.byteToChar[b];
  return out;
}

/** Built-in training text: common English and code so frequent words merge into few tokens. */
export const TRAINING_TEXT = `Hello world! Hello there, how are you today? I am fine, thank you.
The quick brown fox jumps over the lazy dog. The dog was not amused, but the fox did not care.
This is a small model for testing. It can answer questions, write code, and call tools.
What is the weather like in Paris? It is sunny and warm in the city today.
You are a helpful assistant. Please answer the question below and explain your reasoning.
The user asked for a list of the best places to visit in the world, and the assistant answered.
We will use the function to get the current time and the current date for the user.
In this example we show how to read a file, parse the data and print the result.
Hello, world. Hello again, world. The world is large and the people in it are many.
There are many ways to solve this problem; the simplest one is usually the best one.
function hello(name) {
  return "Hello, " + name + "!";
}
const result = await fetch(url, { method: "POST", body: JSON.stringify(data) });
if (result.ok) { console.log("done"); } else { throw new Error("request failed"); }
def main():
    for i in range(10):
        print(f"value {i}: {i * 2}")
    return None
import os
import sys
class Model:
    def __init__(self, name, path):
        self.name = name
        self.path = path
{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
<tool_call>
{"name": "search", "arguments": {"query": "hello world"}}
</tool_call>
The answer is 42. The numbers are 1, 2, 3, 4, 5, 6, 7, 8, 9 and 10.
Thank you for your help! You're welcome, I'm happy to help. Let's continue.
Write a short story about a robot who wants to learn how to paint.
Once upon a time there was a robot. The robot wanted to paint the sky, the sea and the trees.
Every day the robot would go outside and look at the world, and every night it would paint.
Summarize the following text in one sentence. Translate the following sentence into French.
The system is running. The server started on port 8080. The request returned status 200.
`;

export type ChatTemplateKind = "tools" | "think";

export interface SynthTokenizerOptions {
  /** Total number of tokens, specials included. */
  vocabSize: number;
  seed: number;
  /** Which ChatML template to embed (default "tools"). */
  template?: ChatTemplateKind;
  /** Merges to learn from the training text before the filler ones (default 1000; stops early once every training word is one token). */
  learnedMerges?: number;
}

export interface SynthTokenizer {
  tokens: string[];
  tokenTypes: number[];
  merges: string[];
  /** Number of merges learned from the training text (the rest are seeded filler). */
  learnedMergeCount: number;
  /** Id of each special token by text. */
  specialIds: Record<string, number>;
  bosId: number;
  eosId: number;
  padId: number;
  chatTemplate: string;
  /** The `tokenizer.*` GGUF metadata. */
  metadata: GgufKv[];
  /** Reference BPE encoder (no special-token parsing), for tests. */
  encode(text: string): number[];
  /** Decodes token ids (special tokens as their text). */
  decode(ids: readonly number[]): string;
}

function learnMerges(text: string, count: number): [string, string][] {
  const wordCounts = new Map<string, number>();
  for (const m of text.matchAll(QWEN2_PRETOKENIZE)) {
    const w = toByteLevel(m[0]);
    wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
  }
  const words = [...wordCounts].map(([w, c]) => ({ syms: [...w], count: c }));
  const merges: [string, string][] = [];
  while (merges.length < count) {
    const pairs = new Map<string, number>();
    for (const { syms, count: c } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const key = `${syms[i]} ${syms[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + c);
      }
    }
    let best = "";
    let bestCount = 0;
    for (const [key, c] of pairs) {
      if (c > bestCount || (c === bestCount && best !== "" && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === "") break; // every word is a single token
    const sep = best.indexOf(" ");
    const a = best.slice(0, sep);
    const b = best.slice(sep + 1);
    merges.push([a, b]);
    for (const w of words) {
      const s = w.syms;
      const out: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(s[i]);
      }
      w.syms = out;
    }
  }
  return merges;
}

/** Builds the vocabulary, merges, special tokens, chat template and `tokenizer.*` metadata. */
export function buildTokenizer(opts: SynthTokenizerOptions): SynthTokenizer {
  const nSpecial = SPECIAL_TOKENS.length;
  const nRegular = opts.vocabSize - nSpecial;
  if (!Number.isInteger(opts.vocabSize) || nRegular < 256) {
    throw new RangeError(`vocabSize must be at least ${256 + nSpecial}, got ${opts.vocabSize}`);
  }
  const tokens: string[] = BYTE_MAP.order.map((b) => BYTE_MAP.byteToChar[b]);
  const known = new Set<string>(tokens);
  for (const s of SPECIAL_TOKENS) known.add(s.text);
  const merges: string[] = [];

  const learned = learnMerges(TRAINING_TEXT, Math.min(opts.learnedMerges ?? 1000, nRegular - 256));
  for (const [a, b] of learned) {
    const t = a + b;
    merges.push(`${a} ${b}`);
    if (known.has(t)) continue; // another merge already made this string: keep tokens unique
    known.add(t);
    tokens.push(t);
  }
  const learnedMergeCount = merges.length;

  // Filler: concatenations of two short existing tokens, seeded.
  const MAX_POOL_LEN = 6;
  const pool = tokens.filter((t) => t.length <= MAX_POOL_LEN);
  const rng = new Xoshiro128(opts.seed ^ 0x70c3a11d);
  while (tokens.length < nRegular) {
    const a = pool[rng.nextInt(pool.length)];
    const b = pool[rng.nextInt(pool.length)];
    const t = a + b;
    if (known.has(t)) continue;
    known.add(t);
    tokens.push(t);
    merges.push(`${a} ${b}`);
    if (t.length <= MAX_POOL_LEN) pool.push(t);
  }

  const tokenTypes: number[] = new Array<number>(tokens.length).fill(LlamaTokenType.NORMAL);
  const specialIds: Record<string, number> = {};
  for (const s of SPECIAL_TOKENS) {
    specialIds[s.text] = tokens.length;
    tokens.push(s.text);
    tokenTypes.push(s.type);
  }

  const bosId = specialIds["<|endoftext|>"];
  const eosId = specialIds["<|im_end|>"];
  const padId = specialIds["<|endoftext|>"];
  const chatTemplate = (opts.template ?? "tools") === "think" ? CHATML_THINK_TEMPLATE : CHATML_TOOLS_TEMPLATE;

  const metadata: GgufKv[] = [
    kv.str("tokenizer.ggml.model", "gpt2"),
    kv.str("tokenizer.ggml.pre", "qwen2"),
    kv.arr("tokenizer.ggml.tokens", GgufValueType.STRING, tokens),
    kv.arr("tokenizer.ggml.token_type", GgufValueType.INT32, Int32Array.from(tokenTypes)),
    kv.arr("tokenizer.ggml.merges", GgufValueType.STRING, merges),
    kv.u32("tokenizer.ggml.eos_token_id", eosId),
    kv.u32("tokenizer.ggml.padding_token_id", padId),
    kv.u32("tokenizer.ggml.bos_token_id", bosId),
    kv.bool("tokenizer.ggml.add_bos_token", false),
    kv.str("tokenizer.chat_template", chatTemplate),
  ];

  const ranks = new Map<string, number>();
  merges.forEach((m, i) => ranks.set(m, i));
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (i < tokens.length - nSpecial) ids.set(t, i);
  });
  const encode = (text: string): number[] => {
    const out: number[] = [];
    for (const m of text.matchAll(QWEN2_PRETOKENIZE)) {
      const syms = [...toByteLevel(m[0])];
      for (;;) {
        let bestRank = Infinity;
        let at = -1;
        for (let i = 0; i + 1 < syms.length; i++) {
          const r = ranks.get(`${syms[i]} ${syms[i + 1]}`);
          if (r !== undefined && r < bestRank) {
            bestRank = r;
            at = i;
          }
        }
        if (at < 0) break;
        syms.splice(at, 2, syms[at] + syms[at + 1]);
      }
      for (const s of syms) out.push(ids.get(s) as number);
    }
    return out;
  };

  const firstSpecial = tokens.length - nSpecial;
  const decode = (ids: readonly number[]): string =>
    Buffer.concat(
      ids.map((id) => (id >= firstSpecial ? Buffer.from(tokens[id], "utf8") : fromByteLevel(tokens[id]))),
    ).toString("utf8");

  return {
    tokens,
    tokenTypes,
    merges,
    learnedMergeCount,
    specialIds,
    bosId,
    eosId,
    padId,
    chatTemplate,
    metadata,
    encode,
    decode,
  };
}
