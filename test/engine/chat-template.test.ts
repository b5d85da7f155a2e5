import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderChatPrompt } from "../../src/engine/prompt/chat-template.js";

describe("renderChatPrompt", () => {
  it("gives the template a message's separate text parts a newline apart, as llama.cpp's server does", () => {
    const template = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}";
    const prompt = renderChatPrompt(template, {
      model: "m",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "<system-reminder>be brief</system-reminder>" },
            { type: "image", source: { kind: "url", url: "https://example.com/a.png" } },
            { type: "text", text: "What is this?" },
          ],
        },
      ],
      sampling: {},
      stop: [],
      stream: false,
    });
    assert.equal(prompt, "[user]<system-reminder>be brief</system-reminder>\nWhat is this?");
  });

  it("reads a plain-text document as its title, note and text", () => {
    const template = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}";
    const prompt = renderChatPrompt(template, {
      model: "m",
      messages: [
        {
          role: "user",
          content: [
            { type: "document", source: { kind: "text", text: "The sky is green." }, title: "notes.txt", context: "from the lab" },
            { type: "text", text: "What colour is the sky?" },
          ],
        },
      ],
      sampling: {},
      stop: [],
      stream: false,
    });
    assert.equal(prompt, "[user]notes.txt\n\nfrom the lab\n\nThe sky is green.\nWhat colour is the sky?");
  });
});
