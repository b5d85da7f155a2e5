/** Conversations kept in the browser (localStorage), newest first. */
import type { AnswerStats, Protocol, Sampling } from "../chat";
import type { ToolCall } from "../stream/events";

export interface ChatMessage {
  role: "user" | "assistant";
  content: string;
  reasoning?: string;
  tool_calls?: ToolCall[];
  stats?: AnswerStats;
  error?: string;
  /** Stopped by the user before the end. */
  stopped?: boolean;
}

export interface Conversation {
  id: string;
  title: string;
  model: string;
  protocol: Protocol;
  system: string;
  sampling: Sampling;
  messages: ChatMessage[];
  updated_at: number;
}

const KEY = "llmux.conversations";
const MAX = 50;

type KV = Pick<Storage, "getItem" | "setItem">;

class ConversationStore {
  list = $state<Conversation[]>([]);
  currentId = $state<string | null>(null);

  constructor(private storage: KV | undefined = globalThis.localStorage) {
    try {
      const raw = storage?.getItem(KEY);
      const parsed = raw ? JSON.parse(raw) : [];
      if (Array.isArray(parsed)) this.list = parsed.filter((c) => c && typeof c.id === "string" && Array.isArray(c.messages));
    } catch {
      this.list = []; // a corrupt entry must not break the page
    }
    this.currentId = this.list[0]?.id ?? null;
  }

  get current(): Conversation | undefined {
    return this.list.find((c) => c.id === this.currentId);
  }

  create(defaults: Pick<Conversation, "model" | "protocol" | "system" | "sampling">): Conversation {
    const c: Conversation = { id: crypto.randomUUID(), title: "New chat", messages: [], updated_at: Date.now(), ...defaults };
    this.list = [c, ...this.list].slice(0, MAX);
    this.currentId = c.id;
    this.save();
    return c;
  }

  /** Applies a change to one conversation, moves it to the top and saves. */
  update(id: string, change: (c: Conversation) => void): void {
    const c = this.list.find((x) => x.id === id);
    if (!c) return;
    change(c);
    c.updated_at = Date.now();
    if (c.title === "New chat") {
      const first = c.messages.find((m) => m.role === "user");
      if (first) c.title = first.content.slice(0, 48) || "New chat";
    }
    this.list = [c, ...this.list.filter((x) => x.id !== id)];
    this.save();
  }

  remove(id: string): void {
    this.list = this.list.filter((c) => c.id !== id);
    if (this.currentId === id) this.currentId = this.list[0]?.id ?? null;
    this.save();
  }

  save(): void {
    try {
      this.storage?.setItem(KEY, JSON.stringify($state.snapshot(this.list)));
    } catch {
      // Quota exceeded: keep going in memory.
    }
  }
}

export { ConversationStore };
export const conversations = new ConversationStore();
