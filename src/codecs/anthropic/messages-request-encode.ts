import { textOfParts, type ChatMessage, type ChatRequest, type ContentPart, type DocumentPart, type ToolChoice } from "../../core/chat.js";
import { invalidField } from "../../errors/llmux-error.js";
import { jsonAnswerTool } from "./json-answer.js";

/** `max_tokens` is required by Anthropic: this is sent when the request sets none. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;
/** Anthropic's smallest thinking budget. */
const MIN_THINKING_BUDGET = 1024;

type Block = Record<string, unknown>;
interface WireMessage {
  role: "user" | "assistant";
  content: Block[];
}

function partBlock(p: ContentPart): Block {
  if (p.type === "text") return { type: "text", text: p.text };
  if (p.type === "document") return documentBlock(p);
  return p.source.kind === "url"
    ? { type: "image", source: { type: "url", url: p.source.url } }
    : { type: "image", source: { type: "base64", media_type: p.source.mediaType, data: p.source.data } };
}

/** A document block: Anthropic reads PDFs (base64 or by URL) and plain text, with the title and note kept. */
function documentBlock(p: DocumentPart): Block {
  const s = p.source;
  const source =
    s.kind === "text" ? { type: "text", media_type: "text/plain", data: s.text } : s.kind === "url" ? { type: "url", url: s.url } : { type: "base64", media_type: s.mediaType, data: s.data };
  return { type: "document", source, ...(p.title !== undefined ? { title: p.title } : {}), ...(p.context !== undefined ? { context: p.context } : {}) };
}

/**
 * Tool arguments as the object Anthropic wants. Text that is not a JSON object is refused (400,
 * naming the field): Anthropic takes nothing else, and sending `{}` instead would tell the model
 * it had called the tool with no arguments. `field` is the call's place in an OpenAI request.
 */
function toolInput(args: string, field: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(args);
  } catch {
    v = undefined;
  }
  if (v !== null && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  if (args.trim() === "") return {}; // no arguments at all: what a call without parameters sends
  throw invalidField(field, "is not a JSON object: an Anthropic provider takes a tool call's arguments as an object");
}

/**
 * A tool call id as Anthropic accepts it (letters, digits, `_` and `-`): ids minted elsewhere
 * (`functions.get_weather:0`, as some OpenAI-compatible servers write them) would be refused.
 * The same id maps to the same result in a call and in its result, so they still pair up.
 */
export const anthropicToolUseId = (id: string): string => id.replace(/[^A-Za-z0-9_-]/g, "_");

function assistantBlocks(m: ChatMessage, index: number): Block[] {
  const blocks: Block[] = [];
  // Only the provider's own signed or redacted blocks go back, verbatim: Anthropic refuses a
  // thinking block whose signature it cannot verify, so reasoning that came without one (a local
  // model's, another provider's, a client's) is not sent.
  for (const b of m.reasoningBlocks ?? []) {
    blocks.push(b.kind === "signed" ? { type: "thinking", thinking: b.text, signature: b.signature } : { type: "redacted_thinking", data: b.data });
  }
  for (const p of m.content) if (p.type !== "text" || p.text !== "") blocks.push(partBlock(p));
  (m.toolCalls ?? []).forEach((c, j) =>
    blocks.push({ type: "tool_use", id: anthropicToolUseId(c.id), name: c.name, input: toolInput(c.arguments, `messages.${index}.tool_calls.${j}.function.arguments`) }),
  );
  return blocks;
}

const isToolResults = (m: WireMessage | undefined): boolean =>
  m !== undefined && m.role === "user" && m.content.length > 0 && m.content.every((b) => b.type === "tool_result");

function encodeMessages(messages: ChatMessage[]): { system: string[]; messages: WireMessage[] } {
  const system: string[] = [];
  const out: WireMessage[] = [];
  messages.forEach((m, index) => {
    switch (m.role) {
      case "system":
        system.push(textOfParts(m.content));
        break;
      case "user": {
        // Anthropic refuses empty text blocks, and a message with no content.
        const content = m.content.filter((p) => p.type !== "text" || p.text !== "").map(partBlock);
        if (content.length === 0) throw invalidField(`messages.${index}.content`, "is empty: an Anthropic provider refuses a user message with no content");
        out.push({ role: "user", content });
        break;
      }
      case "assistant": {
        const content = assistantBlocks(m, index);
        if (content.length > 0) out.push({ role: "assistant", content });
        break;
      }
      case "tool": {
        // One text, as a string; several parts, images or documents, as blocks (Anthropic takes both in a tool result).
        const content = m.content.length > 1 || m.content.some((p) => p.type !== "text") ? m.content.map(partBlock) : textOfParts(m.content);
        const block: Block = { type: "tool_result", tool_use_id: anthropicToolUseId(m.toolCallId ?? ""), content };
        // Consecutive results answer one assistant turn: Anthropic wants them in one user message.
        const last = out[out.length - 1];
        if (isToolResults(last)) last!.content.push(block);
        else out.push({ role: "user", content: [block] });
        break;
      }
    }
  });
  if (out.length === 0) throw invalidField("messages", "holds only system messages: an Anthropic provider needs at least one user message");
  return { system, messages: out };
}

/**
 * Whether the conversation ends inside a tool loop (tool results after an assistant's tool
 * calls) whose assistant message has no signed or redacted reasoning. With thinking on,
 * Anthropic refuses that request: the loop's assistant message must start with the thinking
 * block it sent. A client that dropped the blocks (most OpenAI clients keep only `content` and
 * `tool_calls`) can still finish its loop: that request goes without thinking.
 */
export function toolLoopLacksThinking(messages: ChatMessage[]): boolean {
  let i = messages.length - 1;
  if (messages[i]?.role !== "tool") return false;
  while (i >= 0 && messages[i]!.role === "tool") i--;
  const assistant = messages[i];
  return assistant?.role === "assistant" && (assistant.toolCalls?.length ?? 0) > 0 && !(assistant.reasoningBlocks?.length ?? 0);
}

function encodeToolChoice(c: ToolChoice, parallel: boolean | undefined): Block {
  const noParallel = parallel === false ? { disable_parallel_tool_use: true } : {};
  switch (c.type) {
    case "auto":
      return { type: "auto", ...noParallel };
    case "required":
      return { type: "any", ...noParallel };
    case "tool":
      return { type: "tool", name: c.name, ...noParallel };
    case "none":
      return { type: "none" };
  }
}

/**
 * Canonical request → Anthropic `POST /v1/messages` body, for `model` (the provider's model id).
 * System messages become `system`; tool results become user `tool_result` blocks; an assistant's
 * signed and redacted reasoning blocks go back first in its message, unchanged. `reasoning.enabled`
 * turns thinking on with the client's budget, else half of `max_tokens` (at least 1024, so
 * `max_tokens` must exceed 1024), except in a tool loop whose blocks the client did not send back
 * ({@link toolLoopLacksThinking}). A JSON `responseFormat` becomes a forced call to one tool
 * whose input schema is the answer's ({@link jsonAnswerTool}). A legacy `prompt` is sent as one
 * user message.
 */
export function encodeAnthropicRequest(req: ChatRequest, model: string): Record<string, unknown> {
  const enc =
    req.messages.length === 0 && req.prompt !== undefined
      ? { system: [], messages: [{ role: "user" as const, content: [{ type: "text", text: req.prompt }] }] }
      : encodeMessages(req.messages);
  const maxTokens = req.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS;
  const body: Record<string, unknown> = { model, max_tokens: maxTokens, messages: enc.messages };
  if (enc.system.length > 0) body.system = enc.system.join("\n\n");
  const s = req.sampling;
  if (s.temperature !== undefined) body.temperature = s.temperature;
  if (s.topP !== undefined) body.top_p = s.topP;
  if (s.topK !== undefined) body.top_k = s.topK;
  if (req.stop.length > 0) body.stop_sequences = req.stop;
  if (req.tools && req.tools.length > 0) {
    body.tools = req.tools.map((t) => ({
      name: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      input_schema: t.parameters,
    }));
  }
  if (req.toolChoice) body.tool_choice = encodeToolChoice(req.toolChoice, req.parallelToolCalls);
  else if (req.parallelToolCalls === false && req.tools && req.tools.length > 0) body.tool_choice = { type: "auto", disable_parallel_tool_use: true };
  const json = jsonAnswerTool(req);
  if (json) Object.assign(body, json);
  if (req.reasoning && !(req.reasoning.enabled && toolLoopLacksThinking(req.messages))) {
    if (req.reasoning.enabled) {
      if (maxTokens <= MIN_THINKING_BUDGET) throw invalidField("max_tokens", `must be more than ${MIN_THINKING_BUDGET} to think on this provider`);
      // An Anthropic client's own budget (count_tokens is translated; its messages pass through), else half of max_tokens.
      body.thinking = { type: "enabled", budget_tokens: req.reasoning.budgetTokens ?? Math.max(MIN_THINKING_BUDGET, Math.floor(maxTokens / 2)) };
    } else {
      body.thinking = { type: "disabled" };
    }
  }
  if (req.endUser !== undefined) body.metadata = { user_id: req.endUser };
  body.stream = req.stream;
  return body;
}
