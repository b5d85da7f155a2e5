import type { SseFrame } from "../sse";
import type { ChatStreamEvent } from "./events";

/**
 * Decodes an Anthropic Messages stream. Stateful: a `content_block_delta` names its block by
 * index only, so the decoder remembers which blocks are tool calls (and their order among tool calls).
 */
export class AnthropicStreamDecoder {
  #toolIndexOfBlock = new Map<number, number>();
  #promptTokens: number | undefined;

  decode(frame: SseFrame): ChatStreamEvent[] {
    if (!frame.data.trim()) return [];
    let ev: any;
    try {
      ev = JSON.parse(frame.data);
    } catch {
      return [{ type: "error", message: "malformed stream data" }];
    }
    switch (ev.type) {
      case "message_start":
        this.#promptTokens = ev.message?.usage?.input_tokens;
        return [];
      case "content_block_start": {
        const block = ev.content_block ?? {};
        if (block.type === "tool_use") {
          const toolIndex = this.#toolIndexOfBlock.size;
          this.#toolIndexOfBlock.set(ev.index, toolIndex);
          return [{ type: "tool_call", index: toolIndex, id: block.id, name: block.name, arguments: "" }];
        }
        if (block.type === "text" && block.text) return [{ type: "text", text: block.text }];
        if (block.type === "thinking" && block.thinking) return [{ type: "reasoning", text: block.thinking }];
        return [];
      }
      case "content_block_delta": {
        const d = ev.delta ?? {};
        if (d.type === "text_delta") return d.text ? [{ type: "text", text: d.text }] : [];
        if (d.type === "thinking_delta") return d.thinking ? [{ type: "reasoning", text: d.thinking }] : [];
        if (d.type === "input_json_delta") {
          const index = this.#toolIndexOfBlock.get(ev.index);
          return index === undefined ? [] : [{ type: "tool_call", index, arguments: d.partial_json ?? "" }];
        }
        return [];
      }
      case "message_delta": {
        const out: ChatStreamEvent[] = [];
        if (ev.usage) out.push({ type: "usage", prompt_tokens: ev.usage.input_tokens ?? this.#promptTokens, completion_tokens: ev.usage.output_tokens });
        if (ev.delta?.stop_reason) out.push({ type: "finish", reason: ev.delta.stop_reason });
        return out;
      }
      case "error":
        return [{ type: "error", message: String(ev.error?.message ?? "upstream error") }];
      default:
        return [];
    }
  }
}
