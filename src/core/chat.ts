/**
 * The canonical internal model: every protocol decodes into a {@link ChatRequest}
 * and every backend answers with a stream of {@link ChatEvent}s. Wire formats
 * (OpenAI, Anthropic, ...) live only in `src/codecs`.
 */

export type Role = "system" | "user" | "assistant" | "tool";

/**
 * A document the client attached (Anthropic `document`, OpenAI `file`): a PDF as base64 or by
 * URL, or plain text. `title` is Anthropic's title or OpenAI's filename; `context` is Anthropic's
 * note about the document for the model.
 */
export interface DocumentPart {
  type: "document";
  source: { kind: "base64"; mediaType: string; data: string } | { kind: "url"; url: string } | { kind: "text"; text: string };
  title?: string;
  context?: string;
}

/** A piece of message content. Images and documents keep their source so cloud backends can forward them. */
export type ContentPart =
  | { type: "text"; text: string }
  | { type: "image"; source: { kind: "url"; url: string } | { kind: "base64"; mediaType: string; data: string } }
  | DocumentPart;

/** A plain-text document (its `text`) as a model reads it: its title, the client's note on it, then the text, a blank line apart. */
export const documentText = (d: DocumentPart, text: string): string => [d.title, d.context, text].filter((s): s is string => s !== undefined && s !== "").join("\n\n");

/**
 * A message's text as one string, separate text parts a newline apart, as llama.cpp's server
 * joins them: run together, an Anthropic client's reminder block and its question would merge.
 * A plain-text document counts as text ({@link documentText}); images and PDFs are left out.
 * One rule for every backend that needs plain text.
 */
export const textOfParts = (parts: ContentPart[]): string =>
  parts.flatMap((p) => (p.type === "text" ? [p.text] : p.type === "document" && p.source.kind === "text" ? [documentText(p, p.source.text)] : [])).join("\n");

/**
 * Reasoning a provider signed or encrypted, kept byte for byte so it can go back to that
 * provider. Anthropic checks a thinking block's `signature` and refuses a tool loop's next
 * request without the blocks it sent (or with any of them changed). `signed` repeats the
 * block's text, which also went out as `reasoning` deltas; `redacted` is opaque.
 */
export type ReasoningBlock = { kind: "signed"; text: string; signature: string } | { kind: "redacted"; data: string };

/** A tool call made by the assistant, with arguments as the JSON text the model produced. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

export interface ChatMessage {
  role: Role;
  content: ContentPart[];
  /** Assistant messages: the tool calls it made. */
  toolCalls?: ToolCall[];
  /** Tool messages: which call this result answers. */
  toolCallId?: string;
  /** Assistant messages: reasoning text produced before the answer. */
  reasoning?: string;
  /**
   * Assistant messages: the provider's signed or redacted reasoning, verbatim and in order, as
   * a client sent it back. What an Anthropic provider gets instead of the bare `reasoning` text.
   */
  reasoningBlocks?: ReasoningBlock[];
  name?: string;
}

/** Sampling settings; absent fields take the backend's defaults. */
export interface SamplingParams {
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  repeatPenalty?: number;
}

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
}

export type ToolChoice = { type: "auto" } | { type: "none" } | { type: "required" } | { type: "tool"; name: string };

/** Constrains the answer's text: any JSON object, or JSON valid against a schema. */
export type ResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | { type: "json_schema"; name?: string; schema: Record<string, unknown>; strict?: boolean };

export interface ChatRequest {
  /** The model name as the client asked for it. */
  model: string;
  messages: ChatMessage[];
  /**
   * Raw prompt text (legacy completions): evaluated as is, without the chat
   * template; `messages` is then empty.
   */
  prompt?: string;
  /** Upper bound on generated tokens; undefined means "until the context is full". */
  maxTokens?: number;
  sampling: SamplingParams;
  /** Stop strings: generation ends before the first occurrence of any of them. */
  stop: string[];
  stream: boolean;
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  /** false: at most one tool call per answer. */
  parallelToolCalls?: boolean;
  responseFormat?: ResponseFormat;
  /**
   * Turns the model's thinking on or off where its template supports it; absent = the template's
   * default. How much to think, as the client said it: an OpenAI `reasoning_effort`, or an
   * Anthropic thinking budget in tokens. Backends that can steer it use what they understand.
   */
  reasoning?: { enabled: boolean; effort?: ReasoningEffort; budgetTokens?: number };
  /**
   * Who the request is for, as the client named them for a provider's abuse tracking (OpenAI
   * `safety_identifier` or `user`, Anthropic `metadata.user_id`): an opaque id, passed on to providers.
   */
  endUser?: string;
}

/** OpenAI's reasoning effort words for a thinking model (`none` is `reasoning.enabled: false`). */
export type ReasoningEffort = "minimal" | "low" | "medium" | "high" | "xhigh" | "max";

/**
 * Why generation ended, in canonical terms; codecs map it to each protocol's words. `refusal`:
 * the model or the provider's filter declined (Anthropic `refusal`, OpenAI `content_filter`);
 * only providers say it.
 */
export type FinishReason = "stop" | "stop_sequence" | "length" | "tool_calls" | "refusal";

export interface Usage {
  /** Every prompt token, those read from a prompt cache included (OpenAI's `prompt_tokens`). */
  promptTokens: number;
  completionTokens: number;
  /** Of `promptTokens`, those a provider read from its prompt cache; absent when none were reported. */
  cachedPromptTokens?: number;
}

/** The typed stream every backend produces. */
export type ChatEvent =
  | { type: "start"; model: string; /** Known up front by backends that tokenize before generating. */ promptTokens?: number }
  | { type: "text"; text: string }
  | { type: "reasoning"; text: string }
  /** A provider's reasoning block, once complete: after its `reasoning` deltas (signed), or on its own (redacted). */
  | { type: "reasoning_block"; block: ReasoningBlock }
  | { type: "tool_call_start"; index: number; id: string; name: string }
  | { type: "tool_call_delta"; index: number; argumentsDelta: string }
  | { type: "tool_call_end"; index: number }
  | { type: "usage"; usage: Usage }
  | { type: "finish"; reason: FinishReason; stopSequence?: string };

/** Options passed to a backend with each request. */
export interface StreamOptions {
  /** Aborted when the client goes away or the request times out; the backend must stop work promptly. */
  signal: AbortSignal;
}

/**
 * What every backend (the local engine, each cloud provider) implements.
 * Errors are thrown from the iterator as `LlmuxError`s; a backend knows no HTTP framework.
 */
export interface ChatBackend {
  readonly name: string;
  stream(request: ChatRequest, options: StreamOptions): AsyncIterable<ChatEvent>;
  /**
   * Prompt tokens the request would use, counted exactly as `stream` would report
   * them in usage. Optional: backends that cannot count (some providers) omit it.
   */
  countTokens?(request: ChatRequest): Promise<number>;
}
