import { z } from "zod";
import type { ChatMessage, ChatRequest, ContentPart, ReasoningBlock } from "../../core/chat.js";
import { invalidField } from "../../errors/llmux-error.js";
import { MODEL_NAME_MAX, parseBody } from "../validation.js";
import { decodeSampling, decodeStop, opt, samplingFields } from "./sampling.js";

const textPart = z.strictObject({ type: z.literal("text"), text: z.string() });
const imagePart = z.strictObject({
  type: z.literal("image_url"),
  image_url: z.strictObject({ url: z.string().min(1), detail: z.enum(["auto", "low", "high"]).optional() }),
});

/** The start of a base64 data URL of a PDF or of plain text. */
const FILE_DATA = /^data:(application\/pdf|text\/plain)(?:;[^;,]*)*;base64,/;

/**
 * A file as Chat Completions take one: a PDF as a base64 data URL (plain text is read too).
 * A `file_id` names an upload at one provider; a request that passes through to an OpenAI
 * provider is not decoded and keeps it, but no other backend can read it.
 */
const filePart = z.strictObject({
  type: z.literal("file"),
  file: z
    .strictObject({
      file_data: z.string().regex(FILE_DATA, "must be a base64 data URL of a PDF (data:application/pdf;base64,...) or of plain text").optional(),
      file_id: z
        .unknown()
        .refine((v) => v == null, { error: "an uploaded file (file_id) can only be read by the provider that holds it; send the file as file_data" })
        .optional(),
      filename: z.string().nullable().optional(),
    })
    .refine((f) => f.file_data !== undefined || f.file_id != null, { error: "a file part needs file_data" }),
});

/**
 * A user message's content: a string or an array of parts. A string is read as one text part
 * before validation, so that a bad part is reported by its own path and message instead of
 * disappearing into a union's "Invalid input".
 */
const userContent = z.preprocess(
  (v) => (typeof v === "string" ? [{ type: "text", text: v }] : v),
  z.array(
    z.discriminatedUnion("type", [textPart, imagePart, filePart], {
      error: (iss) => {
        if (iss.code !== "invalid_union") return undefined;
        const t = (iss.input as { type?: unknown } | undefined)?.type;
        return typeof t === "string" ? `content part type '${t}' is not supported` : "expected a content part with a 'type'";
      },
    }),
    { error: (iss) => (iss.code === "invalid_type" ? "expected a string or an array of content parts" : undefined) },
  ),
);

const toolCall = z.strictObject({
  id: z.string(),
  type: z.literal("function"),
  // parsed_arguments: what the SDK's helpers (`parse`, `stream`, `runTools`) add to a call they return, sent back as it is in a tool loop.
  function: z.strictObject({ name: z.string(), arguments: z.string(), parsed_arguments: z.unknown().optional() }),
});

/** A field an assistant message may carry only empty (null, or left out): what it would ask for is not supported. */
const emptyOnly = (reason: string) => z.unknown().refine((v) => v == null, { error: reason }).optional();

/**
 * A provider's reasoning block as llmux (and LiteLLM) return it in `thinking_blocks`, sent back
 * with the assistant message so that the provider gets it unchanged (Anthropic requires its
 * signed blocks within a tool loop).
 */
const thinkingBlock = z.discriminatedUnion(
  "type",
  [
    z.strictObject({ type: z.literal("thinking"), thinking: z.string(), signature: z.string() }),
    z.strictObject({ type: z.literal("redacted_thinking"), data: z.string().min(1) }),
  ],
  { error: "a thinking block's type must be 'thinking' or 'redacted_thinking'" },
);

/** The canonical message's signed or redacted blocks, if any; a thinking block without a signature is plain reasoning. */
function reasoningBlocksOf(blocks: z.infer<typeof thinkingBlock>[] | undefined): Pick<ChatMessage, "reasoningBlocks"> {
  const out: ReasoningBlock[] = [];
  for (const b of blocks ?? []) {
    if (b.type === "redacted_thinking") out.push({ kind: "redacted", data: b.data });
    else if (b.signature) out.push({ kind: "signed", text: b.thinking, signature: b.signature });
  }
  return out.length ? { reasoningBlocks: out } : {};
}

/** Who the request is for, when the client said (the safety identifier before the older `user`). */
const endUserOf = (id: string | null | undefined): Pick<ChatRequest, "endUser"> => (id ? { endUser: id } : {});

/** The readable reasoning of `thinking_blocks`, for a message that sent no `reasoning_content`. */
function reasoningTextOf(blocks: z.infer<typeof thinkingBlock>[] | undefined): string | undefined {
  const texts = (blocks ?? []).flatMap((b) => (b.type === "thinking" ? [b.thinking] : []));
  return texts.length ? texts.join("\n") : undefined;
}

const message = z.discriminatedUnion("role", [
  z.strictObject({ role: z.enum(["system", "developer"]), content: z.union([z.string(), z.array(textPart)]), name: z.string().optional() }),
  z.strictObject({ role: z.literal("user"), content: userContent, name: z.string().optional() }),
  z.strictObject({
    role: z.literal("assistant"),
    content: z.union([z.string(), z.array(textPart), z.null()]).optional(),
    name: z.string().optional(),
    tool_calls: z.array(toolCall).optional(),
    reasoning_content: z.string().optional(),
    thinking_blocks: z.array(thinkingBlock).optional(),
    refusal: z.string().nullable().optional(),
    // A message as an API or the SDK returned it, sent back in a tool loop: `parsed` is what the
    // SDK's helpers add, `annotations` are URL citations. Neither asks anything of the model.
    parsed: z.unknown().optional(),
    annotations: z.array(z.unknown()).optional(),
    audio: emptyOnly("audio output is not supported"),
    function_call: emptyOnly("the deprecated functions API is not supported; use tool_calls"),
  }),
  z.strictObject({ role: z.literal("tool"), content: z.union([z.string(), z.array(textPart)]), tool_call_id: z.string() }),
]);

const functionTool = z.strictObject({
  type: z.literal("function"),
  function: z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and -, at most 64"),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});

const toolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.strictObject({ type: z.literal("function"), function: z.strictObject({ name: z.string() }) }),
]);

const responseFormat = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("text") }),
  z.strictObject({ type: z.literal("json_object") }),
  z.strictObject({
    type: z.literal("json_schema"),
    json_schema: z.strictObject({
      name: z.string().min(1).max(64),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);

/** The OpenAI Chat Completions request, as far as llmux honours it. */
export const chatCompletionSchema = z.strictObject({
  model: z.string().min(1).max(MODEL_NAME_MAX),
  messages: z.array(message).min(1),
  max_tokens: z.number().int().min(1).nullable().optional(),
  max_completion_tokens: z.number().int().min(1).nullable().optional(),
  ...samplingFields,
  n: z.literal(1).nullable().optional(),
  user: z.string().max(256).optional(),
  // The provider's cache key: nothing to do here. The safety identifier, like `user`, goes on to providers (endUser).
  prompt_cache_key: z.string().max(1024).nullable().optional(),
  safety_identifier: z.string().max(256).nullable().optional(),
  logprobs: z.literal(false).nullable().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  store: z.literal(false).nullable().optional(),
  tools: z.array(functionTool).max(128).optional(),
  tool_choice: toolChoice.optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: responseFormat.optional(),
  reasoning_effort: z.enum(["none", "minimal", "low", "medium", "high", "xhigh", "max"]).nullable().optional(),
  // One tier here; "auto" and "default" both mean it. A provider-routed request passes through with its own.
  service_tier: z.enum(["auto", "default"], { error: "this server has one service tier: send 'auto' or 'default', or leave it out" }).optional(),
});

/** Fields of the OpenAI API that llmux does not (yet) honour: rejected by name, never ignored. */
const UNSUPPORTED: Record<string, string> = {
  functions: "the deprecated functions API is not supported; use tools",
  function_call: "the deprecated functions API is not supported; use tools",
  logit_bias: "logit_bias is not supported",
  top_logprobs: "logprobs are not supported for chat completions",
  audio: "audio output is not supported",
  modalities: "only text output is supported",
  prediction: "predicted outputs are not supported",
  web_search_options: "web search is not supported",
  verbosity: "verbosity is not supported: llmux cannot steer how long a model answers",
};

export type OpenAIChatBody = z.infer<typeof chatCompletionSchema>;

const partsOf = (content: string | Array<z.infer<typeof textPart> | z.infer<typeof imagePart> | z.infer<typeof filePart>> | null | undefined): ContentPart[] => {
  if (content == null) return [];
  if (typeof content === "string") return [{ type: "text", text: content }];
  return content.map((p) => (p.type === "text" ? { type: "text", text: p.text } : p.type === "image_url" ? imageFromUrl(p.image_url.url) : documentFromFile(p.file)));
};

/** A base64 data URL's media type and data (parameters such as `charset` dropped), or null for any other URL. */
function dataUrlParts(url: string): { mediaType: string; data: string } | null {
  const m = /^data:([^;,]+)(?:;[^;,]*)*;base64,/.exec(url);
  return m ? { mediaType: m[1]!, data: url.slice(m[0].length) } : null;
}

/** A file part as a document: a PDF stays base64; plain text is decoded (UTF-8), to be read as text. */
function documentFromFile(f: z.infer<typeof filePart>["file"]): ContentPart {
  const { mediaType, data } = dataUrlParts(f.file_data!)!; // the schema let only such data URLs through
  const title = f.filename ? { title: f.filename } : {};
  return mediaType === "text/plain"
    ? { type: "document", source: { kind: "text", text: Buffer.from(data, "base64").toString("utf8") }, ...title }
    : { type: "document", source: { kind: "base64", mediaType, data }, ...title };
}

function imageFromUrl(url: string): ContentPart {
  const parts = dataUrlParts(url);
  return parts ? { type: "image", source: { kind: "base64", ...parts } } : { type: "image", source: { kind: "url", url } };
}

/** Decodes an OpenAI chat body into the canonical request (throws `LlmuxError` on bad input). */
export function decodeOpenAIChat(body: unknown): { request: ChatRequest; includeUsage: boolean } {
  const b = parseBody(chatCompletionSchema, body, UNSUPPORTED, { nullIsAbsent: true });
  if (b.max_tokens != null && b.max_completion_tokens != null && b.max_tokens !== b.max_completion_tokens) {
    throw invalidField("max_completion_tokens", "disagrees with max_tokens; send one of them");
  }
  const messages: ChatMessage[] = b.messages.map((m) => {
    switch (m.role) {
      case "system":
      case "developer":
        return { role: "system", content: partsOf(m.content), name: m.name };
      case "user":
        return { role: "user", content: partsOf(m.content), name: m.name };
      case "assistant":
        return {
          role: "assistant",
          content: partsOf(m.content),
          name: m.name,
          reasoning: m.reasoning_content ?? reasoningTextOf(m.thinking_blocks),
          toolCalls: m.tool_calls?.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })),
          ...reasoningBlocksOf(m.thinking_blocks),
        };
      case "tool":
        return { role: "tool", content: partsOf(m.content), toolCallId: m.tool_call_id };
    }
  });
  const stop = decodeStop(b.stop);
  return {
    request: {
      model: b.model,
      messages,
      maxTokens: opt(b.max_completion_tokens) ?? opt(b.max_tokens),
      sampling: decodeSampling(b),
      stop,
      stream: b.stream === true,
      tools: b.tools?.map((t) => ({
        name: t.function.name,
        description: t.function.description,
        parameters: t.function.parameters ?? { type: "object", properties: {} },
      })),
      toolChoice:
        b.tool_choice == null
          ? undefined
          : typeof b.tool_choice === "string"
            ? { type: b.tool_choice }
            : { type: "tool", name: b.tool_choice.function.name },
      parallelToolCalls: b.parallel_tool_calls,
      responseFormat:
        b.response_format?.type === "json_schema"
          ? {
              type: "json_schema",
              name: b.response_format.json_schema.name,
              schema: b.response_format.json_schema.schema ?? {},
              strict: b.response_format.json_schema.strict ?? undefined,
            }
          : b.response_format,
      reasoning: b.reasoning_effort == null ? undefined : b.reasoning_effort === "none" ? { enabled: false } : { enabled: true, effort: b.reasoning_effort },
      ...endUserOf(b.safety_identifier || b.user),
    },
    includeUsage: b.stream === true && b.stream_options?.include_usage === true,
  };
}
