import type { SseFrame } from "../sse";
import type { ChatStreamEvent } from "./events";

/**
 * Decodes one frame of an OpenAI chat-completions stream (`data: {chunk}` … `data: [DONE]`)
 * into the UI's events. Unknown fields are ignored; a malformed frame becomes an error event.
 */
export function decodeOpenAIFrame(frame: SseFrame): ChatStreamEvent[] {
  const data = frame.data.trim();
  if (!data || data === "[DONE]") return [];
  let chunk: any;
  try {
    chunk = JSON.parse(data);
  } catch {
    return [{ type: "error", message: "malformed stream data" }];
  }
  if (chunk.error) return [{ type: "error", message: String(chunk.error.message ?? "upstream error") }];
  const out: ChatStreamEvent[] = [];
  for (const choice of chunk.choices ?? []) {
    const d = choice.delta ?? {};
    if (typeof d.reasoning_content === "string" && d.reasoning_content) out.push({ type: "reasoning", text: d.reasoning_content });
    if (typeof d.content === "string" && d.content) out.push({ type: "text", text: d.content });
    for (const tc of d.tool_calls ?? []) {
      out.push({ type: "tool_call", index: tc.index ?? 0, id: tc.id, name: tc.function?.name, arguments: tc.function?.arguments ?? "" });
    }
    if (choice.finish_reason) out.push({ type: "finish", reason: choice.finish_reason });
  }
  if (chunk.usage) out.push({ type: "usage", prompt_tokens: chunk.usage.prompt_tokens, completion_tokens: chunk.usage.completion_tokens });
  return out;
}
