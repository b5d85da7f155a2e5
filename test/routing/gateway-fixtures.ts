import Anthropic from "@anthropic-ai/sdk";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { FakeProvider, type Behaviour, type Received } from "../providers/fake-provider.js";

/** An OpenAI chat stream answering `text` (usage in the last chunk). */
export function openaiSse(text: string, model = "up-model", usage = { prompt_tokens: 7, completion_tokens: 3 }): string {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id: "chatcmpl-f", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
  const parts = text.match(/.{1,4}/gs) ?? [];
  return (
    chunk({ role: "assistant", content: "" }) +
    parts.map((p) => chunk({ content: p })).join("") +
    chunk({}, "stop") +
    `data: ${JSON.stringify({ id: "chatcmpl-f", object: "chat.completion.chunk", created: 1, model, choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } })}\n\n` +
    "data: [DONE]\n\n"
  );
}

/** An OpenAI non-streaming answer. */
export function openaiJson(text: string, model = "up-model", usage = { prompt_tokens: 7, completion_tokens: 3 }): Record<string, unknown> {
  return {
    id: "chatcmpl-f",
    object: "chat.completion",
    created: 1,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop", logprobs: null }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

/** An Anthropic Messages stream answering `text`. */
export function anthropicSse(text: string, model = "up-claude"): string {
  const ev = (name: string, data: Record<string, unknown>) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
  return (
    ev("message_start", { message: { id: "msg_f", type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 11, output_tokens: 1 } } }) +
    ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }) +
    ev("content_block_delta", { index: 0, delta: { type: "text_delta", text } }) +
    ev("content_block_stop", { index: 0 }) +
    ev("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 4 } }) +
    ev("message_stop", {})
  );
}

export function anthropicJson(text: string, model = "up-claude"): Record<string, unknown> {
  return {
    id: "msg_f",
    type: "message",
    role: "assistant",
    model,
    content: [{ type: "text", text }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 11, output_tokens: 4 },
  };
}

/** Answers every chat request with `text`, as JSON or a stream as the request asks. */
export function answers(text: string, protocol: "openai" | "anthropic" = "openai"): Behaviour {
  return {
    kind: "fn",
    fn: (r: Received) => {
      const stream = (r.body as { stream?: boolean } | undefined)?.stream === true;
      if (protocol === "openai") return stream ? { kind: "sse", body: openaiSse(text) } : { kind: "json", body: openaiJson(text) };
      return stream ? { kind: "sse", body: anthropicSse(text) } : { kind: "json", body: anthropicJson(text) };
    },
  };
}

/** Starts a fake provider that answers `text` by default. */
export async function fake(text: string, protocol: "openai" | "anthropic" = "openai"): Promise<{ fp: FakeProvider; url: string }> {
  const fp = new FakeProvider();
  fp.fallback = answers(text, protocol);
  return { fp, url: await fp.start() };
}

/** Creates a provider through the admin API and returns its JSON. */
export async function addProvider(s: TestServer, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await s.admin("/admin/providers", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = (await res.json()) as { provider: Record<string, unknown> };
  if (res.status !== 201) throw new Error(`POST /admin/providers: ${res.status} ${JSON.stringify(json)}`);
  return json.provider;
}

/** Replaces the routing rules through the admin API. */
export async function putRules(s: TestServer, rules: unknown[]): Promise<Response> {
  return s.admin("/admin/routing/rules", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ rules }) });
}

export async function setRules(s: TestServer, rules: unknown[]): Promise<void> {
  const res = await putRules(s, rules);
  if (res.status !== 200) throw new Error(`PUT /admin/routing/rules: ${res.status} ${await res.text()}`);
}

/** A real llmux in front of a fake Anthropic provider `claude` and a fake OpenAI provider `oai`. */
export interface TwoProviders {
  s: TestServer;
  claude: FakeProvider;
  oai: FakeProvider;
  /** The official Anthropic SDK, pointed at llmux. */
  anthropic: Anthropic;
  close(): Promise<void>;
}

/** Starts llmux with the two fake providers (answering "hi from claude" / "hi from openai" by default) under `rules`. */
export async function startTwoProviders(rules: unknown[]): Promise<TwoProviders> {
  const s = await startTestServer();
  const c = await fake("hi from claude", "anthropic");
  const o = await fake("hi from openai", "openai");
  await addProvider(s, { name: "claude", kind: "anthropic", base_url: c.url, api_key: "sk-ant-test-0123456789" });
  await addProvider(s, { name: "oai", kind: "openai", base_url: o.url, api_key: "sk-oai-test-0123456789" });
  await setRules(s, rules);
  return {
    s,
    claude: c.fp,
    oai: o.fp,
    anthropic: new Anthropic({ baseURL: s.url, apiKey: "unused", maxRetries: 0 }),
    async close() {
      await s.close();
      await c.fp.stop();
      await o.fp.stop();
    },
  };
}
