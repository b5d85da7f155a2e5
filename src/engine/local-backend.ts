import type { ChatBackend, ChatEvent, ChatRequest, SamplingParams, StreamOptions } from "../core/chat.js";
import { LlmuxError } from "../errors/llmux-error.js";
import { recordRunnerPhases } from "../observability/tracing-spans.js";
import type { ModelInfo } from "./gguf/model-info.js";
import { ANY_JSON_OBJECT, toGrammarSchema } from "./grammar/json-schema.js";
import type { ModelSettings } from "../store/model-settings-repo.js";
import type { ModelPool, PoolLease } from "./model-pool.js";
import type { ModelRegistry } from "./model-registry.js";
import { OutputParser, parseWholeAnswerCall } from "./output/output-parser.js";
import { forcedToolCallGrammar, toolCallFormatFor, type GrammarSpec, type ToolCallFormat } from "./output/tool-format.js";

/** The chat template renderer (and Jinja with it), loaded on the first local chat: a gateway-only server never needs it. */
let chatTemplate: Promise<typeof import("./prompt/chat-template.js")> | null = null;
const loadChatTemplate = () => (chatTemplate ??= import("./prompt/chat-template.js"));

/** Everything decided about a request before it reaches the runner. */
interface Prepared {
  info: ModelInfo;
  prompt: string;
  grammar?: GrammarSpec;
  /** The tool-call format to parse, when tools are in play. */
  tools: ToolCallFormat | null;
  reasoning: boolean;
}

/**
 * The embedded llama.cpp engine as a {@link ChatBackend}: renders the prompt with
 * the model's template, constrains decoding with a grammar when a JSON answer or a
 * tool call is required, runs it on the model's runner, and parses the model's
 * text into canonical events (reasoning, tool calls, content).
 */
export class LocalBackend implements ChatBackend {
  readonly name = "local";

  constructor(
    private readonly registry: ModelRegistry,
    private readonly pool: ModelPool,
    /** A model's own settings: default sampling and system prompt, read at each request. */
    private readonly modelSettings?: (id: string) => ModelSettings,
  ) {}

  async *stream(request: ChatRequest, { signal }: StreamOptions): AsyncIterable<ChatEvent> {
    const prep = await this.prepare(request);
    const lease = await this.pool.acquire(prep.info);
    try {
      if (signal.aborted) return;
      yield* this.run(request, prep, lease.runner, signal);
    } finally {
      // The model may be evicted or idle-unloaded only once nothing holds it.
      lease.release();
    }
  }

  private async *run(request: ChatRequest, prep: Prepared, runner: PoolLease["runner"], signal: AbortSignal): AsyncIterable<ChatEvent> {
    const sampling = { ...this.samplingDefaults(prep.info.id), ...definedOnly(request.sampling) };
    const events = runner.generate(
      { prompt: prep.prompt, maxTokens: request.maxTokens, stop: request.stop, sampling, grammar: prep.grammar },
      signal,
    );
    const parser = new OutputParser({
      reasoning: prep.reasoning,
      startInReasoning: /<think>\s*$/.test(prep.prompt),
      tools: prep.tools === "llama3" ? null : prep.tools,
    });
    // Llama 3 writes a call as the whole answer: it can only be told apart at the end.
    const wholeAnswer = prep.tools === "llama3" ? ([] as string[]) : null;
    const onlyOneCall = request.parallelToolCalls === false;
    const keep = (e: ChatEvent) => !(onlyOneCall && "index" in e && e.index > 0);
    for await (const ev of events) {
      // "start" waits for the runner to accept the prompt, so a prompt too long for the
      // context is still an HTTP error rather than an in-band one.
      if (ev.t === "started") yield { type: "start", model: prep.info.id, promptTokens: ev.promptTokens };
      else if (ev.t === "text") {
        if (wholeAnswer) wholeAnswer.push(ev.text);
        else for (const e of parser.push(ev.text)) if (keep(e)) yield e;
      } else if (ev.t === "done") {
        if (ev.timings) recordRunnerPhases(ev.timings);
        let calls = parser.toolCallCount;
        if (wholeAnswer) {
          const text = wholeAnswer.join("");
          const asCall = parseWholeAnswerCall(text);
          if (asCall) {
            calls = 1;
            yield* asCall;
          } else for (const e of [...parser.push(text), ...parser.end(ev.finish === "length")]) yield e;
        } else for (const e of parser.end(ev.finish === "length")) if (keep(e)) yield e;
        yield { type: "usage", usage: { promptTokens: ev.promptTokens, completionTokens: ev.completionTokens } };
        const reason = calls > 0 && ev.finish !== "length" ? "tool_calls" : ev.finish;
        yield { type: "finish", reason, stopSequence: reason === "stop_sequence" ? ev.stopSequence : undefined };
      }
    }
  }

  async countTokens(request: ChatRequest): Promise<number> {
    const { info, prompt } = await this.prepare(request);
    const lease = await this.pool.acquire(info, { countRequest: false });
    try {
      return await lease.runner.tokenize(prompt);
    } finally {
      lease.release();
    }
  }

  /** A model's default sampling (its settings), under whatever the request sets. */
  private samplingDefaults(id: string): SamplingParams {
    const s = this.modelSettings?.(id).sampling;
    if (!s) return {};
    return definedOnly({ temperature: s.temperature, topP: s.top_p, topK: s.top_k, minP: s.min_p, repeatPenalty: s.repeat_penalty });
  }

  /** Checks what this engine can serve, renders the prompt and chooses the grammar. */
  private async prepare(request: ChatRequest): Promise<Prepared> {
    const info = await this.registry.get(request.model);
    if (info.capabilities.embeddings && !info.capabilities.chat) {
      throw new LlmuxError("validation_failed", `model '${info.id}' is an embedding model; it cannot generate text`, { param: "model" });
    }
    if (request.messages.some((m) => m.content.some((p) => p.type === "image"))) {
      throw new LlmuxError("unsupported_parameter", `model '${info.id}' cannot see images; send text only`, { param: "messages" });
    }
    // A plain-text document is read as text (textOfParts); a PDF would need its pages read first.
    if (request.messages.some((m) => m.content.some((p) => p.type === "document" && p.source.kind !== "text"))) {
      throw new LlmuxError("unsupported_parameter", `model '${info.id}' cannot read PDF documents; send their text (a plain-text document is read)`, { param: "messages" });
    }
    if (request.prompt !== undefined) return { info, prompt: request.prompt, tools: null, reasoning: false };

    const tools = request.tools ?? [];
    const choice = request.toolChoice ?? { type: "auto" };
    if ((choice.type === "required" || choice.type === "tool") && tools.length === 0) {
      throw new LlmuxError("validation_failed", `tool_choice '${choice.type}' needs tools`, { param: "tool_choice" });
    }
    if (choice.type === "tool" && !tools.some((t) => t.name === choice.name)) {
      throw new LlmuxError("validation_failed", `tool_choice names '${choice.name}', which is not among the tools`, { param: "tool_choice" });
    }
    const useTools = tools.length > 0 && choice.type !== "none";
    if (useTools && !info.capabilities.tools) {
      throw new LlmuxError("unsupported_parameter", `model '${info.id}' has no tool calling in its chat template`, { param: "tools" });
    }
    // Turning thinking off where there is none is fine (Anthropic clients send it routinely).
    if (request.reasoning?.enabled && !info.capabilities.reasoning) {
      throw new LlmuxError("unsupported_parameter", `model '${info.id}' does not reason; its template has no thinking switch`, { param: "reasoning" });
    }
    const format = toolCallFormatFor(info.chatTemplate);
    const forced = useTools && (choice.type === "required" || choice.type === "tool");
    const json = request.responseFormat && request.responseFormat.type !== "text" ? request.responseFormat : undefined;
    if (forced && json) {
      throw new LlmuxError("validation_failed", "a forced tool call and a JSON response format cannot both constrain one answer", { param: "response_format" });
    }
    let grammar: GrammarSpec | undefined;
    if (forced) grammar = forcedToolCallGrammar(format, tools, choice);
    else if (json) {
      const schema = json.type === "json_schema" ? toGrammarSchema(json.schema, "response_format.json_schema.schema") : ANY_JSON_OBJECT;
      grammar = { schema, prefix: "", suffix: "" };
    }
    // A grammar decides the first token, so a constrained answer cannot start with thinking.
    const thinking = grammar ? false : request.reasoning?.enabled;
    const enableThinking = info.capabilities.reasoning ? thinking : undefined;
    const systemPrompt = this.modelSettings?.(info.id).system_prompt;
    const withSystem =
      systemPrompt && !request.messages.some((m) => m.role === "system")
        ? { ...request, messages: [{ role: "system" as const, content: [{ type: "text" as const, text: systemPrompt }] }, ...request.messages] }
        : request;
    const { renderChatPrompt } = await loadChatTemplate();
    const prompt = renderChatPrompt(info.chatTemplate, withSystem, { withTools: useTools, enableThinking });
    return {
      info,
      prompt,
      grammar,
      tools: useTools ? format : null,
      reasoning: info.capabilities.reasoning && enableThinking !== false,
    };
  }
}

/** The fields that are set (so a request's undefined does not hide a model's default). */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
