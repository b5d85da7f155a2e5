/**
 * OpenAI `POST /v1/embeddings`: the request as llmux honours it, and the response.
 */
import { z } from "zod";
import { invalidField } from "../../errors/llmux-error.js";
import { float32ToBase64 } from "../../engine/embeddings/vectors.js";
import { MODEL_NAME_MAX, parseBody } from "../validation.js";

/** OpenAI's limit on any array in `input` (inputs per request, or tokens per token array). */
export const MAX_EMBEDDING_ARRAY = 2048;

const tokenId = z.number({ error: "expected a token id" }).int().min(0);
const tokenArray = z.array(tokenId).min(1, "a token array must not be empty").max(MAX_EMBEDDING_ARRAY);

const INPUT_KINDS = "a string, an array of strings, an array of token ids or an array of token-id arrays";

/** An array `input`: each item checked on its own, so errors name their index. */
const inputArraySchema = z
  .array(z.union([z.string(), tokenId, tokenArray], { error: "expected a string, a token id or an array of token ids" }))
  .min(1, "must hold at least one input")
  .max(MAX_EMBEDDING_ARRAY, `must hold at most ${MAX_EMBEDDING_ARRAY} items`);

/** The embeddings request. `input` is checked by {@link decodeOpenAIEmbeddings} (its errors name the item at fault). */
export const embeddingsSchema = z.strictObject({
  model: z.string().min(1).max(MODEL_NAME_MAX),
  input: z.unknown(),
  encoding_format: z.enum(["float", "base64"]).nullable().optional(),
  dimensions: z.number().int().min(1).nullable().optional(),
  user: z.string().max(256).nullable().optional(),
});

export type EmbeddingEncoding = "float" | "base64";

export interface DecodedEmbeddings {
  model: string;
  /** Texts, or token-id arrays (a single string or token array becomes a list of one). */
  inputs: string[] | number[][];
  encodingFormat: EmbeddingEncoding;
  /** Only the model's own dimension is honoured; checked once the model is known. */
  dimensions?: number;
}

/** Decodes and checks an embeddings body; every input is non-empty and the list is of one kind. */
export function decodeOpenAIEmbeddings(body: unknown): DecodedEmbeddings {
  const b = parseBody(embeddingsSchema, body, {}, { nullIsAbsent: true });
  const raw = parseInput(b.input);
  let inputs: string[] | number[][];
  if (typeof raw === "string") {
    inputs = [raw];
  } else if (raw.every((x) => typeof x === "string")) {
    inputs = raw as string[];
  } else if (raw.every((x) => typeof x === "number")) {
    inputs = [raw as number[]];
  } else if (raw.every((x) => Array.isArray(x))) {
    inputs = raw as number[][];
  } else {
    throw invalidField("input", "an array must hold only strings, only token ids, or only token-id arrays");
  }
  inputs.forEach((input, i) => {
    if (typeof input === "string" && input.length === 0) {
      throw invalidField(typeof raw === "string" ? "input" : `input.${i}`, "must not be an empty string");
    }
  });
  return {
    model: b.model,
    inputs,
    encodingFormat: b.encoding_format ?? "float",
    dimensions: b.dimensions ?? undefined,
  };
}

function parseInput(input: unknown): string | z.infer<typeof inputArraySchema> {
  if (typeof input === "string") return input;
  if (input === undefined || input === null) throw invalidField("input", `required: ${INPUT_KINDS}`);
  if (!Array.isArray(input)) throw invalidField("input", `expected ${INPUT_KINDS}`);
  const r = inputArraySchema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw invalidField(["input", ...issue.path.map(String)].join("."), issue.message);
}

/** One embedding in OpenAI's shape. */
export interface OpenAIEmbedding {
  object: "embedding";
  index: number;
  embedding: number[] | string;
}

export interface OpenAIEmbeddingsResponse {
  object: "list";
  data: OpenAIEmbedding[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

/** Encodes vectors as OpenAI does: float arrays, or base64 of little-endian float32 bytes. */
export function encodeOpenAIEmbeddings(
  result: { vectors: Float32Array[]; promptTokens: number; model: string },
  encodingFormat: EmbeddingEncoding,
): OpenAIEmbeddingsResponse {
  return {
    object: "list",
    data: result.vectors.map((v, index) => ({
      object: "embedding",
      index,
      embedding: encodingFormat === "base64" ? float32ToBase64(v) : Array.from(v),
    })),
    model: result.model,
    usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
  };
}
