import type { ModelInfo } from "../../engine/gguf/model-info.js";

/** One entry of OpenAI's model list, with llmux's metadata alongside (SDKs ignore extra fields). */
export function encodeOpenAIModel(info: ModelInfo, created: number): Record<string, unknown> {
  return {
    id: info.id,
    object: "model",
    created,
    owned_by: "llmux",
    llmux: {
      architecture: info.architecture,
      parameters: info.parameterCount,
      quantization: info.quantization,
      context_length: info.contextLength,
      size_bytes: info.sizeBytes,
      synthetic: info.synthetic,
      capabilities: info.capabilities,
    },
  };
}
