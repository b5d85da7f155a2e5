import type { ChatRequest } from "../../src/core/chat.js";

export const API_KEY = "sk-test-SECRET-0123456789abcdef";

/** A request using every feature the encoders translate. */
export const FULL_REQUEST: ChatRequest = {
  model: "model-x",
  messages: [
    { role: "system", content: [{ type: "text", text: "You are terse." }] },
    {
      role: "user",
      content: [
        { type: "text", text: "What is this?" },
        { type: "image", source: { kind: "base64", mediaType: "image/png", data: "iVBORw0KGgo=" } },
      ],
    },
    {
      role: "assistant",
      content: [{ type: "text", text: "A cat." }],
      reasoning: "It looks feline.",
      reasoningBlocks: [
        { kind: "signed", text: "It looks feline.", signature: "sig-feline" },
        { kind: "redacted", data: "opaque-redacted" },
      ],
    },
    {
      role: "user",
      content: [
        { type: "text", text: "Weather and time where this was taken?" },
        { type: "image", source: { kind: "url", url: "https://example.com/cat.png" } },
      ],
    },
    {
      role: "assistant",
      content: [],
      toolCalls: [
        { id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' },
        { id: "call_2", name: "get_time", arguments: "{}" },
      ],
    },
    { role: "tool", toolCallId: "call_1", content: [{ type: "text", text: "18C" }] },
    { role: "tool", toolCallId: "call_2", content: [{ type: "text", text: "12:00" }] },
    { role: "user", content: [{ type: "text", text: "Thanks." }] },
  ],
  maxTokens: 2048,
  sampling: { temperature: 0.2, topP: 0.9, topK: 40, seed: 7 },
  stop: ["END", "STOP"],
  stream: false,
  tools: [
    { name: "get_weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } },
    { name: "get_time", parameters: { type: "object", properties: {} } },
  ],
  toolChoice: { type: "tool", name: "get_weather" },
  parallelToolCalls: false,
  reasoning: { enabled: true },
};

export const simpleRequest = (model = "model-x"): ChatRequest => ({
  model,
  messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }],
  sampling: {},
  stop: [],
  stream: true,
});
