import type { ToolChoice, ToolDefinition } from "../../core/chat.js";
import { toGrammarSchema } from "../grammar/json-schema.js";

/** How a model writes tool calls, read from its chat template. */
export type ToolCallFormat = "hermes" | "mistral" | "llama3";

/**
 * Hermes/Qwen: `<tool_call>\n{"name":…,"arguments":…}\n</tool_call>`;
 * Mistral: `[TOOL_CALLS] [{"name":…,"arguments":…}]`;
 * Llama 3.1+: a bare `{"name":…,"parameters":…}` answer.
 */
export function toolCallFormatFor(template: string | undefined): ToolCallFormat {
  if (template?.includes("[TOOL_CALLS]")) return "mistral";
  if (template && (template.includes("<|python_tag|>") || template.includes("ipython")) && !template.includes("<tool_call>")) return "llama3";
  return "hermes";
}

/** A grammar request for the runner: JSON valid against `schema`, between literal text. */
export interface GrammarSpec {
  schema: Record<string, unknown>;
  prefix: string;
  suffix: string;
}

/**
 * The grammar that forces one well-formed call (tool_choice required or a named
 * tool): the call's arguments must satisfy that tool's schema.
 */
export function forcedToolCallGrammar(format: ToolCallFormat, tools: ToolDefinition[], choice: ToolChoice): GrammarSpec {
  const chosen = choice.type === "tool" ? tools.filter((t) => t.name === choice.name) : tools;
  const argsKey = format === "llama3" ? "parameters" : "arguments";
  const calls = chosen.map((t, i) => ({
    type: "object",
    properties: { name: { const: t.name }, [argsKey]: toGrammarSchema(t.parameters, `tools.${tools.indexOf(t) >= 0 ? tools.indexOf(t) : i}.parameters`) },
    required: ["name", argsKey],
    additionalProperties: false,
  }));
  const schema = calls.length === 1 ? calls[0] : { oneOf: calls };
  switch (format) {
    case "hermes":
      return { schema, prefix: "<tool_call>\n", suffix: "\n</tool_call>" };
    case "mistral":
      return { schema, prefix: "[TOOL_CALLS] [", suffix: "]" };
    case "llama3":
      return { schema, prefix: "", suffix: "" };
  }
}
