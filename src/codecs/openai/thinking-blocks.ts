import type { ReasoningBlock } from "../../core/chat.js";

/*
 * `thinking_blocks` on an OpenAI-protocol assistant message: a provider's signed or redacted
 * reasoning in Anthropic's own block shapes, as LiteLLM writes them. llmux returns them to
 * OpenAI clients, takes them back with the message, and reads them from an OpenAI-protocol
 * upstream (another llmux, or LiteLLM, in front of an Anthropic model). It sends them to no
 * OpenAI-protocol provider: a strict one refuses fields it does not know.
 */

/** One block as `thinking_blocks` holds it. */
export function thinkingBlockJson(b: ReasoningBlock): Record<string, string> {
  return b.kind === "signed" ? { type: "thinking", thinking: b.text, signature: b.signature } : { type: "redacted_thinking", data: b.data };
}

/**
 * One streamed `thinking_blocks` entry as a block to keep, or null for one that is neither signed
 * nor redacted: nothing a provider could check, so nothing to send back. Each entry is read as a
 * whole block, as llmux sends them; pieces of one block spread over several chunks are not joined.
 */
export function reasoningBlockOf(value: unknown): ReasoningBlock | null {
  const b = (value ?? {}) as { type?: unknown; thinking?: unknown; signature?: unknown; data?: unknown };
  if (b.type === "thinking" && typeof b.thinking === "string" && typeof b.signature === "string" && b.signature) return { kind: "signed", text: b.thinking, signature: b.signature };
  if (b.type === "redacted_thinking" && typeof b.data === "string" && b.data) return { kind: "redacted", data: b.data };
  return null;
}
