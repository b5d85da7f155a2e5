import { documentText, textOfParts, type ChatMessage, type ChatRequest, type ContentPart, type ReasoningEffort, type ToolChoice } from "../../core/chat.js";
import { LlmuxError } from "../../errors/llmux-error.js";

/** Which OpenAI dialect to write: OpenAI itself, or a third-party OpenAI-compatible server. */
export interface OpenAIEncodeOptions {
  /**
   * `openai`: `max_completion_tokens`, OpenAI's sampling fields only. `openai-compatible`:
   * `max_tokens` (what most compatible servers read) plus llama.cpp/vLLM's `top_k`,
   * `min_p`, `repeat_penalty`. Default `openai`.
   */
  kind?: "openai" | "openai-compatible";
}

type WirePart =
  | { type: "text"; text: string }
  | { type: "image_url"; image_url: { url: string } }
  | { type: "file"; file: { filename: string; file_data: string } };

const dataUrl = (s: { mediaType: string; data: string }): string => `data:${s.mediaType};base64,${s.data}`;

const imageUrl = (p: Extract<ContentPart, { type: "image" }>): string => (p.source.kind === "url" ? p.source.url : dataUrl(p.source));

/**
 * A part as Chat Completions take it: images as `image_url` (base64 as data URLs); a PDF as a
 * `file` part with its data URL (its title as the filename, the client's note on it as a text
 * part after it); a plain-text document as text. Chat Completions take files as data only, so a
 * document given by URL is refused rather than dropped.
 */
function wireParts(p: ContentPart): WirePart[] {
  switch (p.type) {
    case "text":
      return [{ type: "text", text: p.text }];
    case "image":
      return [{ type: "image_url", image_url: { url: imageUrl(p) } }];
    case "document": {
      const s = p.source;
      if (s.kind === "text") return [{ type: "text", text: documentText(p, s.text) }];
      if (s.kind === "url") {
        throw new LlmuxError("unsupported_parameter", "a document given by URL cannot be sent to an OpenAI-protocol provider, which takes files as data only; send it as base64", { param: "messages" });
      }
      const file: WirePart = { type: "file", file: { filename: p.title ?? "document.pdf", file_data: dataUrl(s) } };
      return p.context !== undefined ? [file, { type: "text", text: p.context }] : [file];
    }
  }
}

/**
 * A user message's content: a plain string for one text, else the part array ({@link wireParts};
 * several texts kept apart), which every server takes for users. The other roles get one string
 * ({@link textOfParts}): some compatible servers take no part lists for them.
 */
function userContent(parts: ContentPart[]): string | WirePart[] {
  if (parts.length === 1 && parts[0]!.type === "text") return parts[0]!.text;
  if (parts.length === 0) return "";
  return parts.flatMap(wireParts);
}

function encodeMessage(m: ChatMessage): Record<string, unknown> {
  const name = m.name !== undefined && m.role !== "tool" ? { name: m.name } : {};
  switch (m.role) {
    case "system":
      return { role: "system", content: textOfParts(m.content), ...name };
    case "user":
      return { role: "user", content: userContent(m.content), ...name };
    case "assistant": {
      // Reasoning is not sent back, text or signed blocks: OpenAI has no field for it, and a strict
      // compatible server refuses fields it does not know (a fallback from Claude to such a server
      // would fail on the history's `thinking_blocks`). Another llmux in front of Claude then
      // finishes a tool loop without thinking, as for any client that dropped the blocks.
      const text = textOfParts(m.content);
      const calls = m.toolCalls ?? [];
      return {
        role: "assistant",
        content: text === "" && calls.length > 0 ? null : text,
        ...name,
        ...(calls.length > 0
          ? { tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) }
          : {}),
      };
    }
    case "tool":
      return { role: "tool", tool_call_id: m.toolCallId ?? "", content: textOfParts(m.content) };
  }
}

/** What a tool message cannot hold: its images and PDFs (a plain-text document is in its text). */
const notText = (p: ContentPart): boolean => p.type === "image" || (p.type === "document" && p.source.kind !== "text");

/**
 * The messages, with one addition: OpenAI's tool messages hold text only, so images and PDFs a
 * tool returned (an Anthropic client's `tool_result` may hold them) follow the run of tool
 * messages in a user message, each call's after a line naming its call id, rather than being lost.
 */
function encodeMessages(messages: ChatMessage[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let attached: WirePart[] = [];
  const flush = () => {
    if (attached.length > 0) out.push({ role: "user", content: attached });
    attached = [];
  };
  for (const m of messages) {
    if (m.role !== "tool") flush();
    out.push(encodeMessage(m));
    const own = m.role === "tool" ? m.content.filter(notText) : [];
    if (own.length > 0) {
      const what = own.every((p) => p.type === "image") ? "Images" : own.every((p) => p.type === "document") ? "Documents" : "Images and documents";
      attached.push({ type: "text", text: `${what} from the result of tool call ${m.toolCallId ?? ""}:` }, ...own.flatMap(wireParts));
    }
  }
  flush();
  return out;
}

/**
 * The effort closest to an Anthropic thinking budget: up to 4,095 tokens `low`, up to 16,383
 * `medium`, more `high` (Claude Code's "think", "think hard" and "ultrathink" ask for 4,000,
 * 10,000 and 31,999). Without a budget (adaptive thinking), `medium`, OpenAI's default.
 */
export function effortForBudget(budgetTokens: number | undefined): ReasoningEffort {
  if (budgetTokens === undefined) return "medium";
  return budgetTokens < 4096 ? "low" : budgetTokens < 16384 ? "medium" : "high";
}

function encodeToolChoice(c: ToolChoice): unknown {
  return c.type === "tool" ? { type: "function", function: { name: c.name } } : c.type;
}

/**
 * Canonical request → OpenAI `POST /v1/chat/completions` body, for `model` (the provider's
 * model id). Streaming requests always ask for usage (`stream_options.include_usage`).
 * A legacy `prompt` (no messages) is sent as one user message.
 */
export function encodeOpenAIChatRequest(req: ChatRequest, model: string, options: OpenAIEncodeOptions = {}): Record<string, unknown> {
  const compatible = options.kind === "openai-compatible";
  const messages = req.messages.length === 0 && req.prompt !== undefined ? [{ role: "user", content: req.prompt }] : encodeMessages(req.messages);
  const s = req.sampling;
  const body: Record<string, unknown> = { model, messages };
  if (req.maxTokens !== undefined) body[compatible ? "max_tokens" : "max_completion_tokens"] = req.maxTokens;
  if (s.temperature !== undefined) body.temperature = s.temperature;
  if (s.topP !== undefined) body.top_p = s.topP;
  if (s.seed !== undefined) body.seed = s.seed;
  if (s.presencePenalty !== undefined) body.presence_penalty = s.presencePenalty;
  if (s.frequencyPenalty !== undefined) body.frequency_penalty = s.frequencyPenalty;
  if (compatible) {
    if (s.topK !== undefined) body.top_k = s.topK;
    if (s.minP !== undefined) body.min_p = s.minP;
    if (s.repeatPenalty !== undefined) body.repeat_penalty = s.repeatPenalty;
  }
  if (req.stop.length > 0) body.stop = req.stop;
  if (req.tools && req.tools.length > 0) {
    body.tools = req.tools.map((t) => ({
      type: "function",
      function: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), parameters: t.parameters },
    }));
  }
  if (req.toolChoice) body.tool_choice = encodeToolChoice(req.toolChoice);
  // Thinking asked for (an Anthropic client's `thinking`) becomes a reasoning effort. Turned off,
  // nothing is sent: a model that does not reason refuses the field even when it says "minimal".
  if (req.reasoning?.enabled) body.reasoning_effort = req.reasoning.effort ?? effortForBudget(req.reasoning.budgetTokens);
  if (req.parallelToolCalls !== undefined && req.tools && req.tools.length > 0) body.parallel_tool_calls = req.parallelToolCalls;
  const rf = req.responseFormat;
  if (rf && rf.type !== "text") {
    body.response_format =
      rf.type === "json_object"
        ? { type: "json_object" }
        : { type: "json_schema", json_schema: { name: rf.name ?? "response", schema: rf.schema, ...(rf.strict !== undefined ? { strict: rf.strict } : {}) } };
  }
  if (req.endUser !== undefined) body.user = req.endUser;
  body.stream = req.stream;
  if (req.stream) body.stream_options = { include_usage: true };
  return body;
}
