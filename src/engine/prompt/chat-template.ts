import { Template } from "@huggingface/jinja";
import { textOfParts, type ChatMessage, type ChatRequest } from "../../core/chat.js";
import { LlmuxError } from "../../errors/llmux-error.js";

/** Used only when a GGUF carries no chat template at all. */
const CHATML_FALLBACK =
  "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}" +
  "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

const compiled = new Map<string, Template>();

function compile(source: string): Template {
  let t = compiled.get(source);
  if (!t) {
    t = new Template(source);
    compiled.set(source, t);
  }
  return t;
}

/** The message shape chat templates expect (the Hugging Face convention). */
function templateMessage(m: ChatMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.role, content: textOfParts(m.content) };
  if (m.toolCalls?.length) {
    out.tool_calls = m.toolCalls.map((c) => ({
      id: c.id,
      type: "function",
      function: { name: c.name, arguments: parseArguments(c.arguments) },
    }));
  }
  if (m.toolCallId) out.tool_call_id = m.toolCallId;
  if (m.name) out.name = m.name;
  if (m.reasoning) out.reasoning_content = m.reasoning;
  return out;
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Renders a request's messages with the model's own chat template (from the GGUF),
 * exactly as llama.cpp's server does: no hidden system prompt, no substituted wrapper.
 */
export function renderChatPrompt(
  template: string | undefined,
  request: ChatRequest,
  options: { bos?: string; eos?: string; withTools?: boolean; enableThinking?: boolean } = {},
): string {
  const context: Record<string, unknown> = {
    messages: request.messages.map(templateMessage),
    add_generation_prompt: true,
    bos_token: options.bos ?? "",
    eos_token: options.eos ?? "",
  };
  if (options.enableThinking !== undefined) context.enable_thinking = options.enableThinking;
  if (options.withTools !== false && request.tools?.length) {
    context.tools = request.tools.map((t) => ({
      type: "function",
      function: { name: t.name, description: t.description ?? "", parameters: t.parameters },
    }));
  }
  try {
    return compile(template || CHATML_FALLBACK).render(context);
  } catch (err) {
    if (err instanceof LlmuxError) throw err;
    throw new LlmuxError("validation_failed", `the model's chat template could not render these messages: ${(err as Error).message}`);
  }
}
