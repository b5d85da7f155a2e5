import { z } from "zod";
import type { ChatMessage, ChatRequest, ContentPart, ReasoningBlock, ResponseFormat, ToolCall, ToolChoice, ToolDefinition } from "../../core/chat.js";
import { invalidField, LlmuxError } from "../../errors/llmux-error.js";
import { MODEL_NAME_MAX, parseBody } from "../validation.js";

/**
 * The Anthropic Messages API request (`POST /v1/messages`, `/v1/messages/count_tokens`)
 * as far as llmux honours it, and its decoding into the canonical {@link ChatRequest}.
 * Fields llmux knows but cannot honour are refused by name. Accepted and dropped are
 * only what cannot matter to a local model: `cache_control` (no prompt cache to steer) and
 * `metadata.user_id` (kept as `endUser` for providers). Thinking `signature`s and
 * `redacted_thinking` (Anthropic-encrypted, readable by Claude only) are kept in the canonical
 * message's `reasoningBlocks`, which only an Anthropic provider reads.
 */

/** A field that exists in Anthropic's API but is refused here (unless null), with the reason as the message. */
const refused = (reason: string) => z.unknown().refine((v) => v == null, { error: reason }).optional();

/** Prompt caching markers: accepted and ignored, since llmux keeps no prompt cache to steer. */
const cacheControl = z
  .strictObject({ type: z.literal("ephemeral"), ttl: z.enum(["5m", "1h"]).optional() })
  .nullable()
  .optional();

/**
 * `content` is a string or an array of blocks. A string is read as one text block
 * before validation, so that a bad block is reported by its own path and message
 * instead of disappearing into a union's "Invalid input".
 */
function blocksOrString<T extends z.ZodType>(block: T, min = 0) {
  const blocks = z.array(block, { error: (iss) => (iss.code === "invalid_type" ? "expected a string or an array of content blocks" : undefined) });
  return z.preprocess(
    (v) => (typeof v === "string" ? [{ type: "text", text: v }] : v),
    min > 0 ? blocks.min(min, "a message needs at least one content block") : blocks,
  );
}

function blockTypeError(where: string) {
  return (iss: { code?: string; input?: unknown }) => {
    if (iss.code !== "invalid_union") return undefined;
    const t = (iss.input as { type?: unknown } | undefined)?.type;
    return typeof t === "string" ? `content block type '${t}' is not supported in ${where}` : "expected a content block with a 'type'";
  };
}

const textBlock = z.strictObject({
  type: z.literal("text"),
  text: z.string(),
  cache_control: cacheControl,
  citations: refused("citations are not supported on this server"),
});

const imageBlock = z.strictObject({
  type: z.literal("image"),
  source: z.discriminatedUnion(
    "type",
    [
      z.strictObject({
        type: z.literal("base64"),
        media_type: z.enum(["image/jpeg", "image/png", "image/gif", "image/webp"]),
        data: z.string().min(1),
      }),
      z.strictObject({ type: z.literal("url"), url: z.string().min(1) }),
    ],
    { error: (iss) => (iss.code === "invalid_union" ? "image source must be base64 or url (files are not supported)" : undefined) },
  ),
  cache_control: cacheControl,
});

/**
 * A document: a PDF (base64 or URL) or plain text. Citations would need the answer's text tied
 * back to the document's pages, which only Anthropic does, so they are refused rather than dropped
 * (a request that passes through to an Anthropic provider is not decoded and keeps them).
 */
const documentBlock = z.strictObject({
  type: z.literal("document"),
  source: z.discriminatedUnion(
    "type",
    [
      z.strictObject({ type: z.literal("base64"), media_type: z.literal("application/pdf"), data: z.string().min(1) }),
      z.strictObject({ type: z.literal("text"), media_type: z.literal("text/plain"), data: z.string() }),
      z.strictObject({ type: z.literal("url"), url: z.string().min(1) }),
    ],
    { error: (iss) => (iss.code === "invalid_union" ? "document source must be base64 (a PDF), text or url (files and content blocks are not supported)" : undefined) },
  ),
  title: z.string().nullable().optional(),
  context: z.string().nullable().optional(),
  citations: z
    .strictObject({ enabled: z.boolean().optional() })
    .nullable()
    .optional()
    .refine((v) => v?.enabled !== true, { error: "citations are not supported on this server" }),
  cache_control: cacheControl,
});

const toolUseBlock = z.strictObject({
  type: z.literal("tool_use"),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
  cache_control: cacheControl,
});

const toolResultBlock = z.strictObject({
  type: z.literal("tool_result"),
  tool_use_id: z.string().min(1),
  content: blocksOrString(z.discriminatedUnion("type", [textBlock, imageBlock, documentBlock], { error: blockTypeError("a tool_result") })).optional(),
  is_error: z.boolean().optional(),
  cache_control: cacheControl,
});

const thinkingBlock = z.strictObject({ type: z.literal("thinking"), thinking: z.string(), signature: z.string() });
const redactedThinkingBlock = z.strictObject({ type: z.literal("redacted_thinking"), data: z.string() });

const userBlock = z.discriminatedUnion("type", [textBlock, imageBlock, documentBlock, toolResultBlock], { error: blockTypeError("a user message") });
const assistantBlock = z.discriminatedUnion("type", [textBlock, toolUseBlock, thinkingBlock, redactedThinkingBlock], {
  error: blockTypeError("an assistant message"),
});

const message = z.discriminatedUnion(
  "role",
  [
    z.strictObject({ role: z.literal("user"), content: blocksOrString(userBlock, 1) }),
    z.strictObject({ role: z.literal("assistant"), content: blocksOrString(assistantBlock, 1) }),
  ],
  { error: (iss) => (iss.code === "invalid_union" ? "role must be 'user' or 'assistant' (the system prompt is the top-level 'system')" : undefined) },
);

const tool = z.strictObject({
  type: z
    .literal("custom", { error: "only custom tools are supported; server tools (web search, code execution, ...) are not" })
    .nullable()
    .optional(),
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,128}$/, "must be 1-128 letters, digits, '_' or '-'"),
  description: z.string().optional(),
  input_schema: z.looseObject({ type: z.literal("object") }),
  cache_control: cacheControl,
  /** Tool input is streamed as it is generated anyway. */
  eager_input_streaming: z.boolean().nullable().optional(),
  strict: z
    .boolean()
    .optional()
    .refine((v) => v !== true, { error: "strict tool input validation is not supported on this server yet" }),
});

const toolChoice = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("auto"), disable_parallel_tool_use: z.boolean().optional() }),
  z.strictObject({ type: z.literal("any"), disable_parallel_tool_use: z.boolean().optional() }),
  z.strictObject({ type: z.literal("tool"), name: z.string().min(1), disable_parallel_tool_use: z.boolean().optional() }),
  z.strictObject({ type: z.literal("none") }),
]);

/** Structured output: `format` maps to the canonical response format; effort levels have no local meaning. */
const outputConfig = z.strictObject({
  format: z
    .strictObject({ type: z.literal("json_schema"), schema: z.record(z.string(), z.unknown()) })
    .nullable()
    .optional(),
  effort: refused("effort levels are not supported on this server"),
});

const display = z
  .literal("summarized", { error: "only display 'summarized' is supported: llmux returns the thinking text" })
  .nullable()
  .optional();

/** Thinking on or off; `budget_tokens` is checked but not enforced apart from `max_tokens`. */
const thinking = z.discriminatedUnion(
  "type",
  [
    z.strictObject({ type: z.literal("disabled") }),
    z.strictObject({
      type: z.literal("enabled"),
      budget_tokens: z.number().int().min(1024),
      display,
    }),
    z.strictObject({ type: z.literal("adaptive"), display }),
  ],
  { error: (iss) => (iss.code === "invalid_union" ? "thinking.type must be 'enabled', 'adaptive' or 'disabled'" : undefined) },
);

const system = blocksOrString(textBlock);

/** The fields both endpoints share: what the prompt is made of. */
const promptFields = {
  model: z.string().min(1).max(MODEL_NAME_MAX),
  messages: z.array(message).min(1),
  system: system.optional(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  thinking: thinking.optional(),
  output_config: outputConfig.optional(),
  /** Top-level automatic cache marker: nothing to cache here. */
  cache_control: cacheControl,
};

/** `POST /v1/messages`. */
export const anthropicMessagesSchema = z.strictObject({
  ...promptFields,
  max_tokens: z.number().int().min(1),
  stop_sequences: z.array(z.string().min(1, "stop sequences must not be empty")).max(16).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  // One tier here; "auto" and "standard_only" both mean it. A provider-routed request passes through with its own.
  service_tier: z.enum(["auto", "standard_only"], { error: "this server has one service tier: send 'auto' or 'standard_only', or leave it out" }).optional(),
  metadata: z.strictObject({ user_id: z.string().max(256).nullable().optional() }).optional(),
  stream: z.boolean().optional(),
});

/** `POST /v1/messages/count_tokens`: the prompt only, as Anthropic defines it. */
export const anthropicCountTokensSchema = z.strictObject(promptFields);

/** Anthropic fields llmux knows but does not honour: refused by name, never ignored. */
const UNSUPPORTED: Record<string, string> = {
  container: "containers (code execution) are not available on this server",
  mcp_servers: "the MCP connector is not available on this server",
  context_management: "context management is not available on this server",
  output_format: "the beta 'output_format' is not supported; use output_config.format",
  inference_geo: "inference regions do not exist on this server",
  speed: "speed modes do not exist on this server",
  diagnostics: "prompt-cache diagnostics do not exist on this server",
};

export type AnthropicMessagesBody = z.infer<typeof anthropicMessagesSchema>;
type PromptBody = z.infer<typeof anthropicCountTokensSchema>;
type UserBlock = z.infer<typeof userBlock>;
type AssistantBlock = z.infer<typeof assistantBlock>;

const text = (t: string): ContentPart => ({ type: "text", text: t });

function imagePart(b: z.infer<typeof imageBlock>): ContentPart {
  return b.source.type === "base64"
    ? { type: "image", source: { kind: "base64", mediaType: b.source.media_type, data: b.source.data } }
    : { type: "image", source: { kind: "url", url: b.source.url } };
}

function documentPart(b: z.infer<typeof documentBlock>): ContentPart {
  const s = b.source;
  return {
    type: "document",
    source: s.type === "base64" ? { kind: "base64", mediaType: s.media_type, data: s.data } : s.type === "text" ? { kind: "text", text: s.data } : { kind: "url", url: s.url },
    ...(b.title ? { title: b.title } : {}),
    ...(b.context ? { context: b.context } : {}),
  };
}

/** A text, image or document block as a canonical part. */
function mediaPart(b: z.infer<typeof textBlock> | z.infer<typeof imageBlock> | z.infer<typeof documentBlock>): ContentPart {
  return b.type === "text" ? text(b.text) : b.type === "image" ? imagePart(b) : documentPart(b);
}

/**
 * One Anthropic user message becomes: a canonical `tool` message per `tool_result`
 * block (in order), then one `user` message with the text, images and documents, if any.
 */
function decodeUser(content: UserBlock[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  const parts: ContentPart[] = [];
  for (const b of content) {
    if (b.type !== "tool_result") parts.push(mediaPart(b));
    else {
      const result = (b.content ?? []).map(mediaPart);
      // The canonical model has no error flag on tool results yet; say it in the content so the model still sees it.
      if (b.is_error) {
        const first = result[0];
        if (first?.type === "text") result[0] = text(`Error: ${first.text}`);
        else result.unshift(text("Error"));
      }
      out.push({ role: "tool", content: result, toolCallId: b.tool_use_id });
    }
  }
  if (parts.length > 0) out.push({ role: "user", content: parts });
  return out;
}

/**
 * Text, tool calls and reasoning of one assistant turn. Signed thinking and `redacted_thinking`
 * (Anthropic-encrypted: no other model can read it) are also kept verbatim as `reasoningBlocks`.
 */
function decodeAssistant(content: AssistantBlock[]): ChatMessage {
  const parts: ContentPart[] = [];
  const toolCalls: ToolCall[] = [];
  const reasoning: string[] = [];
  const blocks: ReasoningBlock[] = [];
  for (const b of content) {
    if (b.type === "text") parts.push(text(b.text));
    else if (b.type === "tool_use") toolCalls.push({ id: b.id, name: b.name, arguments: JSON.stringify(b.input) });
    else if (b.type === "thinking") {
      reasoning.push(b.thinking);
      if (b.signature) blocks.push({ kind: "signed", text: b.thinking, signature: b.signature });
    } else if (b.data) blocks.push({ kind: "redacted", data: b.data });
  }
  const m: ChatMessage = { role: "assistant", content: parts };
  if (toolCalls.length) m.toolCalls = toolCalls;
  if (reasoning.length) m.reasoning = reasoning.join("\n");
  if (blocks.length) m.reasoningBlocks = blocks;
  return m;
}

type PromptPart = Pick<ChatRequest, "model" | "messages" | "tools" | "toolChoice" | "parallelToolCalls" | "responseFormat" | "reasoning">;

function decodePrompt(b: PromptBody): PromptPart {
  const last = b.messages[b.messages.length - 1];
  if (last.role === "assistant") {
    throw new LlmuxError("unsupported_parameter", "a final assistant message (prefill) is not supported: end with a user message", {
      param: "messages",
      fieldErrors: [{ field: `messages.${b.messages.length - 1}.role`, message: "prefill is not supported" }],
    });
  }
  const names = new Set((b.tools ?? []).map((t) => t.name));
  if (names.size !== (b.tools ?? []).length) throw invalidField("tools", "tool names must be unique");
  const choice = b.tool_choice;
  if (choice && choice.type !== "none" && choice.type !== "auto" && names.size === 0) {
    throw invalidField("tool_choice", `tool_choice '${choice.type}' needs at least one tool in 'tools'`);
  }
  if (choice?.type === "tool" && !names.has(choice.name)) {
    throw invalidField("tool_choice.name", `no tool named '${choice.name}' in 'tools'`);
  }

  const messages: ChatMessage[] = [];
  if (b.system?.length) {
    messages.push({ role: "system", content: b.system.map((s) => text(s.text)) });
  }
  for (const m of b.messages) {
    if (m.role === "user") messages.push(...decodeUser(m.content));
    else messages.push(decodeAssistant(m.content));
  }
  const tools: ToolDefinition[] | undefined = b.tools?.map((t) => ({
    name: t.name,
    ...(t.description !== undefined ? { description: t.description } : {}),
    parameters: t.input_schema,
  }));
  const toolChoiceOut: ToolChoice | undefined = !choice
    ? undefined
    : choice.type === "any"
      ? { type: "required" }
      : choice.type === "tool"
        ? { type: "tool", name: choice.name }
        : { type: choice.type };
  const parallel = choice && choice.type !== "none" && choice.disable_parallel_tool_use !== undefined ? !choice.disable_parallel_tool_use : undefined;
  const format = b.output_config?.format;
  const responseFormat: ResponseFormat | undefined = format ? { type: "json_schema", schema: format.schema } : undefined;
  return {
    model: b.model,
    messages,
    ...(tools ? { tools } : {}),
    ...(toolChoiceOut ? { toolChoice: toolChoiceOut } : {}),
    ...(parallel !== undefined ? { parallelToolCalls: parallel } : {}),
    ...(responseFormat ? { responseFormat } : {}),
    ...(b.thinking ? { reasoning: b.thinking.type === "enabled" ? { enabled: true, budgetTokens: b.thinking.budget_tokens } : { enabled: b.thinking.type !== "disabled" } } : {}),
  };
}

/** Decodes a `/v1/messages` body into the canonical request (throws `LlmuxError` on bad input). */
export function decodeAnthropicMessages(body: unknown): { request: ChatRequest } {
  const b = parseBody(anthropicMessagesSchema, body, UNSUPPORTED);
  if (b.thinking?.type === "enabled" && b.thinking.budget_tokens >= b.max_tokens) {
    throw invalidField("thinking.budget_tokens", "must be less than max_tokens");
  }
  const prompt = decodePrompt(b);
  return {
    request: {
      ...prompt,
      maxTokens: b.max_tokens,
      sampling: { temperature: b.temperature, topP: b.top_p, topK: b.top_k },
      stop: b.stop_sequences ?? [],
      stream: b.stream === true,
      ...(b.metadata?.user_id ? { endUser: b.metadata.user_id } : {}),
    },
  };
}

/** Decodes a `/v1/messages/count_tokens` body into a canonical request (no generation settings). */
export function decodeAnthropicCountTokens(body: unknown): { request: ChatRequest } {
  const b = parseBody(anthropicCountTokensSchema, body, UNSUPPORTED);
  return { request: { ...decodePrompt(b), sampling: {}, stop: [], stream: false } };
}
