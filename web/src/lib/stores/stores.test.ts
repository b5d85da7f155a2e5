import { describe, expect, it, vi } from "vitest";
import type { AuditRow, DownloadProgress } from "$api";
import { ApiError } from "../api";
import { AuditLive } from "./audit-live.svelte";
import { AuthStore } from "./auth.svelte";
import { ConversationStore } from "./conversations.svelte";
import { DownloadStore, percent } from "./downloads.svelte";
import { ThemeStore } from "./theme.svelte";

/** A Storage stand-in: the stores take their storage as a parameter. */
function memoryStorage(initial: Record<string, string> = {}) {
  const data = new Map(Object.entries(initial));
  return { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v), data };
}

const defaults = { model: "tiny", protocol: "openai" as const, system: "", sampling: { temperature: 0.5 } };

describe("ConversationStore", () => {
  it("keeps conversations across instances (a page reload), titled by the first message, newest first", () => {
    const storage = memoryStorage();
    const a = new ConversationStore(storage);
    const first = a.create(defaults);
    const second = a.create({ ...defaults, protocol: "anthropic" });
    a.update(first.id, (c) => c.messages.push({ role: "user", content: "What is a GGUF file?" }));

    const b = new ConversationStore(storage);
    expect(b.list.map((c) => c.id)).toEqual([first.id, second.id]);
    expect(b.list[0].title).toBe("What is a GGUF file?");
    expect(b.list[1].protocol).toBe("anthropic");
    expect(b.currentId).toBe(first.id);

    b.remove(first.id);
    expect(new ConversationStore(storage).list.map((c) => c.id)).toEqual([second.id]);
  });

  it("survives corrupt storage", () => {
    expect(new ConversationStore(memoryStorage({ "llmux.conversations": "{oops" })).list).toEqual([]);
    expect(new ConversationStore(memoryStorage({ "llmux.conversations": '[{"id":1},null,{"id":"x","messages":[]}]' })).list.map((c) => c.id)).toEqual(["x"]);
  });
});

describe("ThemeStore", () => {
  it("cycles system → light → dark → system and remembers the choice", () => {
    const storage = memoryStorage();
    const t = new ThemeStore(storage);
    expect(t.choice).toBe("system");
    t.cycle();
    expect(t.choice).toBe("light");
    t.cycle();
    expect(t.choice).toBe("dark");
    expect(new ThemeStore(storage).choice).toBe("dark");
    t.cycle();
    expect(t.choice).toBe("system");
  });
});

describe("AuthStore", () => {
  const user = { id: "u1", email: "a@b.c", role: "user" as const, status: "approved" as const, created_at: 1 };

  it("signs in from /api/auth/me and knows a plain user is no admin", async () => {
    const a = new AuthStore();
    await a.refresh(async () => ({ user }));
    expect(a.state).toBe("signed_in");
    expect(a.isAdmin).toBe(false);
  });

  it("is signed out on 401", async () => {
    const a = new AuthStore();
    await a.refresh(async () => {
      throw new ApiError(401, { code: "unauthorized" });
    });
    expect(a.state).toBe("signed_out");
  });

  it("never signs anyone in without /api/auth/me saying so: a 404 is a failure like any other", async () => {
    const a = new AuthStore();
    await expect(a.refresh(async () => { throw new ApiError(404, { code: "route_not_found" }); })).rejects.toThrow();
    expect(a.state).toBe("unknown");
    expect(a.isAdmin).toBe(false);
    expect(a.error).toBeInstanceOf(ApiError);
  });

  it("keeps a signed-in session through a server error, and clears the error once the server answers", async () => {
    const a = new AuthStore();
    await a.refresh(async () => ({ user }));
    await expect(a.refresh(async () => { throw new ApiError(500, {}); })).rejects.toThrow();
    expect(a.state).toBe("signed_in");
    expect(a.error).not.toBeNull();
    await a.refresh(async () => ({ user }));
    expect(a.error).toBeNull();
  });
});

const row = (id: number, extra: Partial<AuditRow> = {}): AuditRow => ({
  id, request_id: `r${id}`, ts: 1000 * id, route: "/v1/chat/completions", protocol: "openai", model_requested: "tiny", model_served: "tiny",
  backend: "local", stream: 1, status: "success", http_status: 200, duration_ms: 10, ttft_ms: 5, prompt_tokens: 1, completion_tokens: 2,
  total_tokens: 3, error_type: null, error_message: null, api_key_id: null, user_id: null, ...extra,
});

describe("AuditLive", () => {
  function fakeSockets() {
    const made: any[] = [];
    return { made, open: () => { const s: any = { onopen: null, onmessage: null, onclose: null, onerror: null, close: vi.fn() }; made.push(s); return s; } };
  }

  it("goes live on hello, prepends rows, ignores other messages, dedupes and bounds them", () => {
    const f = fakeSockets();
    const live = new AuditLive(f.open, 3);
    const seen: number[] = [];
    live.onRow((r) => seen.push(r.id));
    live.start();
    expect(live.state).toBe("connecting");
    f.made[0].onmessage({ data: '{"type":"hello"}' });
    expect(live.state).toBe("live");
    for (const id of [1, 2, 2, 3, 4]) f.made[0].onmessage({ data: JSON.stringify({ type: "audit_row", row: row(id) }) });
    f.made[0].onmessage({ data: JSON.stringify({ type: "something_else", row: row(9) }) });
    f.made[0].onmessage({ data: "not json" });
    expect(live.rows.map((r) => r.id)).toEqual([4, 3, 2]);
    expect(seen).toEqual([1, 2, 2, 3, 4]);
    live.stop();
    expect(live.state).toBe("offline");
  });

  it("reconnects after the socket closes, until stopped", () => {
    vi.useFakeTimers();
    try {
      const f = fakeSockets();
      const live = new AuditLive(f.open);
      live.start();
      f.made[0].onclose({});
      expect(live.state).toBe("offline");
      vi.advanceTimersByTime(2500);
      expect(f.made.length).toBe(2);
      live.stop();
      f.made[1].onclose({});
      vi.advanceTimersByTime(5000);
      expect(f.made.length).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("DownloadStore", () => {
  const progress = (id: string, state: DownloadProgress["state"], done: number): DownloadProgress => ({
    id, repo: "acme/tiny-GGUF", state, bytesDone: done, bytesTotal: 200, speedBps: 10, etaSeconds: 1, files: [],
  });

  it("follows a download's SSE progress and stops following at a terminal state", () => {
    const sources: any[] = [];
    const store = new DownloadStore((url) => {
      const listeners: Record<string, (ev: { data: string }) => void> = {};
      const s = { url, closed: false, onerror: null, close() { this.closed = true; }, addEventListener: (t: string, fn: any) => (listeners[t] = fn), emit: (p: DownloadProgress) => listeners.progress({ data: JSON.stringify(p) }) };
      sources.push(s);
      return s;
    });
    store.apply(progress("d1", "downloading", 0));
    store.follow("d1");
    store.follow("d1");
    expect(sources.length).toBe(1);
    expect(sources[0].url).toBe("/api/downloads/d1/events");
    sources[0].emit(progress("d1", "downloading", 100));
    expect(percent(store.items[0])).toBe(50);
    sources[0].emit(progress("d1", "done", 200));
    expect(store.items[0].state).toBe("done");
    expect(sources[0].closed).toBe(true);
  });

  it("percent: 0 with an unknown size, 100 when done, never above 100", () => {
    expect(percent({ state: "queued", bytesDone: 0, bytesTotal: 0 })).toBe(0);
    expect(percent({ state: "done", bytesDone: 1, bytesTotal: 2 })).toBe(100);
    expect(percent({ state: "downloading", bytesDone: 300, bytesTotal: 200 })).toBe(100);
  });
});
