import type { ChatEvent, ChatRequest } from "../../core/chat.js";
import { LlmuxError } from "../../errors/llmux-error.js";

/*
 * Anthropic's Messages API takes no `response_format`. What it does take is a forced tool call
 * whose input must match the tool's JSON schema: so a JSON answer (`json_object`, or
 * `json_schema` from the `openai` SDK's `parse()`) is asked for as a call to one tool, and the
 * call's arguments come back to the client as the answer's text. Left out, the format would be
 * ignored and the client would get free text.
 */

/** The tool an Anthropic provider answers through when the request asks for JSON. */
export const JSON_ANSWER_TOOL = "json_answer";

/** Whether the request asks for a JSON answer (so an Anthropic provider answers through the tool). */
export const asksForJson = (req: ChatRequest): boolean => req.responseFormat !== undefined && req.responseFormat.type !== "text";

/** Tool definition and choice that make an Anthropic model answer in JSON, or null when the request asks for no JSON. */
export function jsonAnswerTool(req: ChatRequest): { tools: Record<string, unknown>[]; tool_choice: Record<string, unknown> } | null {
  const rf = req.responseFormat;
  if (!rf || !asksForJson(req)) return null;
  const refuse = (why: string) =>
    new LlmuxError("unsupported_parameter", `response_format on an Anthropic provider: ${why}`, { param: "response_format", fieldErrors: [{ field: "response_format", message: why }] });
  // The answer is a forced tool call: the request cannot also offer its own tools, and Anthropic
  // refuses a forced tool call while thinking.
  if (req.tools && req.tools.length > 0) throw refuse("it is answered through a tool, so it cannot be combined with tools");
  if (req.reasoning?.enabled) throw refuse("it is answered through a forced tool call, which Anthropic refuses while thinking");
  const schema = rf.type === "json_schema" ? rf.schema : { type: "object" };
  if (schema.type !== "object") throw refuse("a tool's input is a JSON object: the schema's root must be of type 'object'");
  const description = rf.type === "json_schema" && rf.name ? `Give your whole answer (${rf.name}) as this tool's input.` : "Give your whole answer as this tool's input.";
  return { tools: [{ name: JSON_ANSWER_TOOL, description, input_schema: schema }], tool_choice: { type: "tool", name: JSON_ANSWER_TOOL } };
}

/**
 * The provider's events for a JSON answer, as the client asked for it: the forced call's
 * arguments as text, the call's own start and end left out, its finish a plain stop. Anthropic
 * itself writes no text beside a forced call; a compatible server that ignored the forcing and
 * answered in text has its text passed on as it is, rather than an empty answer.
 */
export function jsonAnswerEvents(ev: ChatEvent): ChatEvent[] {
  switch (ev.type) {
    case "tool_call_delta":
      return ev.argumentsDelta ? [{ type: "text", text: ev.argumentsDelta }] : [];
    case "tool_call_start":
    case "tool_call_end":
      return [];
    case "finish":
      return [ev.reason === "tool_calls" ? { type: "finish", reason: "stop" } : ev];
    default:
      return [ev];
  }
}
