import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ContentPart } from "../../src/core/chat.js";
import { renderChatPrompt } from "../../src/engine/prompt/chat-template.js";

/** One user message with these parts, through a template that shows each message's content as it gets it. */
const renderUser = (content: ContentPart[]): string =>
  renderChatPrompt("{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}", {
    model: "m",
    messages: [{ role: "user", content }],
    sampling: {},
    stop: [],
    stream: false,
  });

describe("renderChatPrompt", () => {
  it("gives the template a message's separate text parts a newline apart, as llama.cpp's server does", () => {
    const prompt = renderUser([
      { type: "text", text: "<system-reminder>be brief</system-reminder>" },
      { type: "image", source: { kind: "url", url: "https://example.com/a.png" } },
      { type: "text", text: "What is this?" },
    ]);
    assert.equal(prompt, "[user]<system-reminder>be brief</system-reminder>\nWhat is this?");
  });

  it("reads a plain-text document as its title, note and text", () => {
    const prompt = renderUser([
      { type: "document", source: { kind: "text", text: "The sky is green." }, title: "notes.txt", context: "from the lab" },
      { type: "text", text: "What colour is the sky?" },
    ]);
    assert.equal(prompt, "[user]notes.txt\n\nfrom the lab\n\nThe sky is green.\nWhat colour is the sky?");
  });
});
