import { randomBytes } from "node:crypto";
import type { ChatEvent } from "../../core/chat.js";
import type { ToolCallFormat } from "./tool-format.js";

const THINK_OPEN = "<think>";
const THINK_CLOSE = "</think>";
const HERMES_OPEN = "<tool_call>";
const HERMES_CLOSE = "</tool_call>";
const MISTRAL_OPEN = "[TOOL_CALLS]";

/** Tool call ids llmux mints: the same id travels through deltas and the tool result. */
export const newToolCallId = (): string => `call_${randomBytes(12).toString("base64url")}`;

type Mode = "content" | "reasoning" | "tool";

/**
 * Splits a model's streamed text into canonical events: `<think>…</think>` becomes
 * reasoning, tool calls in the model's format become tool-call events, the rest is
 * content. Markers split across chunks are held back until they are whole. Text
 * that looked like a tool call but does not parse is given back as content, so
 * nothing the model wrote is lost.
 */
export class OutputParser {
  private mode: Mode;
  private held = "";
  private toolBody = "";
  private toolCalls = 0;
  /** Whitespace right after </think> or between calls is not content. */
  private trimLeading = false;
  private readonly markers: string[];

  constructor(
    private readonly opts: { reasoning: boolean; startInReasoning: boolean; tools: ToolCallFormat | null },
  ) {
    this.mode = opts.reasoning && opts.startInReasoning ? "reasoning" : "content";
    this.markers = [
      ...(opts.reasoning ? [THINK_OPEN, THINK_CLOSE] : []),
      ...(opts.tools === "hermes" ? [HERMES_OPEN, HERMES_CLOSE] : opts.tools === "mistral" ? [MISTRAL_OPEN] : []),
    ];
  }

  /** How many tool calls were emitted so far. */
  get toolCallCount(): number {
    return this.toolCalls;
  }

  push(text: string): ChatEvent[] {
    const out: ChatEvent[] = [];
    let buf = this.held + text;
    this.held = "";
    while (buf.length > 0) {
      const next = this.nextMarker(buf);
      if (next === null) {
        const keep = this.partialMarkerLength(buf);
        this.emitText(buf.slice(0, buf.length - keep), out);
        this.held = buf.slice(buf.length - keep);
        break;
      }
      this.emitText(buf.slice(0, next.index), out);
      buf = buf.slice(next.index + next.marker.length);
      this.onMarker(next.marker, out);
    }
    return out;
  }

  /**
   * End of generation: whatever is pending, as what it most likely was. `cutOff`: the token limit
   * ended it. A tool call it cut short is then still a tool call (its name, and its arguments as
   * far as they got, as OpenAI and Anthropic send one), never the model's template markup given
   * back as text; a call cut before its name, or a marker cut in half, is dropped.
   */
  end(cutOff = false): ChatEvent[] {
    const out: ChatEvent[] = [];
    const rest = this.held;
    this.held = "";
    if (!(cutOff && this.mode === "content" && rest && this.markers.some((m) => m.startsWith(rest)))) this.emitText(rest, out);
    if (this.mode === "tool") {
      if (cutOff && this.opts.tools === "hermes") this.emitCutCall(this.toolBody, out);
      else if (this.opts.tools === "mistral") this.finishMistral(out);
      else this.emitContent((this.opts.tools === "hermes" ? HERMES_OPEN : "") + this.toolBody, out);
      this.toolBody = "";
    }
    return out;
  }

  /** A `{"name": …, "arguments": …` object the token limit cut short: its name and the arguments' text so far. */
  private emitCutCall(body: string, out: ChatEvent[]): void {
    const raw = /^\s*\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")/.exec(body)?.[1];
    let name: unknown;
    try {
      name = raw === undefined ? undefined : JSON.parse(raw);
    } catch {
      return; // an escape the model never finished
    }
    if (typeof name !== "string") return;
    const args = /"(?:arguments|parameters)"\s*:\s*([\s\S]*)$/.exec(body)?.[1] ?? "";
    const index = this.toolCalls++;
    out.push({ type: "tool_call_start", index, id: newToolCallId(), name });
    if (args) out.push({ type: "tool_call_delta", index, argumentsDelta: args });
    out.push({ type: "tool_call_end", index });
  }

  private nextMarker(buf: string): { index: number; marker: string } | null {
    let best: { index: number; marker: string } | null = null;
    for (const marker of this.markers) {
      if (!this.markerApplies(marker)) continue;
      const index = buf.indexOf(marker);
      if (index !== -1 && (best === null || index < best.index)) best = { index, marker };
    }
    return best;
  }

  private markerApplies(marker: string): boolean {
    switch (marker) {
      case THINK_OPEN:
        return this.mode === "content";
      case THINK_CLOSE:
        return this.mode === "reasoning";
      case HERMES_OPEN:
      case MISTRAL_OPEN:
        return this.mode === "content";
      case HERMES_CLOSE:
        return this.mode === "tool";
      default:
        return false;
    }
  }

  private partialMarkerLength(buf: string): number {
    let best = 0;
    for (const m of this.markers) {
      if (!this.markerApplies(m)) continue;
      for (let n = Math.min(m.length - 1, buf.length); n > best; n--) {
        if (buf.endsWith(m.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }

  private onMarker(marker: string, out: ChatEvent[]): void {
    switch (marker) {
      case THINK_OPEN:
        this.mode = "reasoning";
        break;
      case THINK_CLOSE:
        this.mode = "content";
        this.trimLeading = true;
        break;
      case HERMES_OPEN:
      case MISTRAL_OPEN:
        this.mode = "tool";
        this.toolBody = "";
        break;
      case HERMES_CLOSE:
        // Inside one of the call's JSON strings the marker is an argument's text (code about
        // tool calls, or a sampled token): the call goes on. Taken as the end, it broke the
        // call into text.
        if (insideJsonString(this.toolBody)) {
          this.toolBody += HERMES_CLOSE;
          break;
        }
        this.mode = "content";
        this.trimLeading = true;
        this.emitCall(this.toolBody, out, HERMES_OPEN + this.toolBody + HERMES_CLOSE);
        this.toolBody = "";
        break;
    }
  }

  private emitText(text: string, out: ChatEvent[]): void {
    if (!text) return;
    if (this.mode === "reasoning") out.push({ type: "reasoning", text });
    else if (this.mode === "tool") this.toolBody += text;
    else this.emitContent(text, out);
  }

  private emitContent(text: string, out: ChatEvent[]): void {
    if (this.trimLeading) {
      text = text.replace(/^\s+/, "");
      if (!text) return;
      this.trimLeading = false;
    }
    if (text) out.push({ type: "text", text });
  }

  /** Parses one `{"name":…, "arguments"|"parameters":…}` object into tool-call events. */
  private emitCall(json: string, out: ChatEvent[], raw: string): boolean {
    let call: unknown;
    try {
      call = JSON.parse(json.trim());
    } catch {
      this.emitContent(raw, out);
      return false;
    }
    if (!isCall(call)) {
      this.emitContent(raw, out);
      return false;
    }
    const index = this.toolCalls++;
    const args = call.arguments ?? call.parameters ?? {};
    out.push({ type: "tool_call_start", index, id: newToolCallId(), name: call.name });
    out.push({ type: "tool_call_delta", index, argumentsDelta: typeof args === "string" ? args : JSON.stringify(args) });
    out.push({ type: "tool_call_end", index });
    return true;
  }

  private finishMistral(out: ChatEvent[]): void {
    let calls: unknown;
    try {
      calls = JSON.parse(this.toolBody.trim());
    } catch {
      this.emitContent(MISTRAL_OPEN + this.toolBody, out);
      return;
    }
    const list = Array.isArray(calls) ? calls : [calls];
    if (!list.every(isCall)) {
      this.emitContent(MISTRAL_OPEN + this.toolBody, out);
      return;
    }
    for (const c of list) this.emitCall(JSON.stringify(c), out, "");
  }
}

/** Llama 3 style: the whole answer is one call object. Returns the events, or null if it is not a call. */
export function parseWholeAnswerCall(text: string): ChatEvent[] | null {
  let call: unknown;
  try {
    call = JSON.parse(text.trim());
  } catch {
    return null;
  }
  if (!isCall(call)) return null;
  const args = call.parameters ?? call.arguments ?? {};
  return [
    { type: "tool_call_start", index: 0, id: newToolCallId(), name: call.name },
    { type: "tool_call_delta", index: 0, argumentsDelta: typeof args === "string" ? args : JSON.stringify(args) },
    { type: "tool_call_end", index: 0 },
  ];
}

const isCall = (v: unknown): v is { name: string; arguments?: unknown; parameters?: unknown } =>
  typeof v === "object" && v !== null && typeof (v as { name?: unknown }).name === "string";

/** Whether JSON text cut at its end stops inside a string (an odd count of unescaped quotes). */
function insideJsonString(json: string): boolean {
  let inside = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22) inside = !inside;
    else if (c === 0x5c && inside) i++; // a backslash escapes the next character
  }
  return inside;
}
