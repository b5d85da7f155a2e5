/** The audit log's live feed (WebSocket /admin/audit/live) with its connection state. */
import type { AuditLiveMessage, AuditRow } from "$api";

export type LiveState = "connecting" | "live" | "offline";

type SocketLike = Pick<WebSocket, "close"> & {
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
};

export class AuditLive {
  state = $state<LiveState>("offline");
  /** Newest first, bounded. */
  rows = $state<AuditRow[]>([]);
  #socket: SocketLike | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #stopped = true;
  #listeners = new Set<(row: AuditRow) => void>();

  constructor(
    private open: () => SocketLike = () => new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/admin/audit/live`),
    private max = 200,
  ) {}

  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#socket?.close();
    this.#socket = undefined;
    this.state = "offline";
  }

  onRow(fn: (row: AuditRow) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Handles one message (exported for tests through the socket). */
  receive(data: unknown): void {
    let msg: AuditLiveMessage;
    try {
      msg = JSON.parse(String(data));
    } catch {
      return;
    }
    if (msg.type === "hello") this.state = "live";
    else if ((msg.type === "audit_row") && msg.row) {
      this.rows = [msg.row, ...this.rows.filter((r) => r.id !== msg.row.id)].slice(0, this.max);
      for (const fn of this.#listeners) fn(msg.row);
    }
  }

  #connect(): void {
    this.state = "connecting";
    const ws = this.open();
    this.#socket = ws;
    ws.onopen = () => (this.state = "live");
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onerror = () => {};
    ws.onclose = () => {
      if (this.#socket !== ws) return;
      this.state = "offline";
      // Reconnect with a fixed short delay while the page wants the feed.
      if (!this.#stopped) this.#retry = setTimeout(() => this.#connect(), 2000);
    };
  }
}
