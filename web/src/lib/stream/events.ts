/** What the chat screen draws, decoded from either protocol's stream. */
export type ChatStreamEvent =
  | { type: "text"; text: string }
  | { type: "reasoning"; text: string }
  /** A tool call's start (id, name) or a piece of its JSON arguments, by index. */
  | { type: "tool_call"; index: number; id?: string; name?: string; arguments: string }
  | { type: "usage"; prompt_tokens?: number; completion_tokens?: number }
  | { type: "finish"; reason: string | null }
  | { type: "error"; message: string };

/** A whole tool call once its pieces are joined. */
export interface ToolCall {
  id?: string;
  name: string;
  arguments: string;
}

/** Folds tool-call events (by index) into whole calls. */
export function joinToolCalls(calls: ToolCall[], ev: Extract<ChatStreamEvent, { type: "tool_call" }>): ToolCall[] {
  const next = calls.slice();
  const cur = next[ev.index] ?? { name: "", arguments: "" };
  next[ev.index] = { id: ev.id ?? cur.id, name: cur.name + (ev.name ?? ""), arguments: cur.arguments + ev.arguments };
  return next;
}
