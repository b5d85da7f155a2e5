/**
 * Downloads: the list from GET /api/downloads (so they survive a page reload), each
 * active one followed over SSE GET /api/downloads/:id/events.
 */
import type { DownloadList, DownloadProgress } from "$api";
import { del, get, post } from "../api";

const TERMINAL = new Set(["done", "failed", "cancelled"]);

type Source = { close(): void; addEventListener(type: string, fn: (ev: { data: string }) => void): void; onerror: ((ev: unknown) => void) | null };

export class DownloadStore {
  items = $state<DownloadProgress[]>([]);
  #sources = new Map<string, Source>();

  constructor(private openEvents: (url: string) => Source = (url) => new EventSource(url) as unknown as Source) {}

  async load(): Promise<void> {
    const { items } = await get<DownloadList>("/api/downloads");
    this.items = items;
    for (const d of items) if (!TERMINAL.has(d.state)) this.follow(d.id);
  }

  /** Applies one progress snapshot (from SSE or an action's answer). */
  apply(p: DownloadProgress): void {
    const i = this.items.findIndex((d) => d.id === p.id);
    if (i < 0) this.items = [p, ...this.items];
    else this.items[i] = p;
    if (TERMINAL.has(p.state)) this.unfollow(p.id);
  }

  follow(id: string): void {
    if (this.#sources.has(id)) return;
    const src = this.openEvents(`/api/downloads/${encodeURIComponent(id)}/events`);
    this.#sources.set(id, src);
    src.addEventListener("progress", (ev) => this.apply(JSON.parse(ev.data)));
    // The server ends the stream at a terminal state; EventSource would reconnect: stop it.
    src.onerror = () => this.unfollow(id);
  }

  unfollow(id: string): void {
    this.#sources.get(id)?.close();
    this.#sources.delete(id);
  }

  async start(repo: string, quant: string): Promise<void> {
    const { id } = await post<{ id: string }>("/api/downloads", { repo, quant });
    this.apply(await get<DownloadProgress>(`/api/downloads/${encodeURIComponent(id)}`));
    this.follow(id);
  }

  async pause(id: string): Promise<void> {
    const p = await post<DownloadProgress | undefined>(`/api/downloads/${encodeURIComponent(id)}/pause`);
    if (p?.id) this.apply(p);
  }

  async resume(id: string): Promise<void> {
    const p = await post<DownloadProgress | undefined>(`/api/downloads/${encodeURIComponent(id)}/resume`);
    if (p?.id) this.apply(p);
    this.unfollow(id);
    this.follow(id);
  }

  async cancel(id: string): Promise<void> {
    const p = await del<DownloadProgress | undefined>(`/api/downloads/${encodeURIComponent(id)}`);
    if (p?.id) this.apply(p);
    else this.unfollow(id);
  }

  close(): void {
    for (const id of [...this.#sources.keys()]) this.unfollow(id);
  }
}

/** 0..100 for a progress bar. */
export function percent(p: Pick<DownloadProgress, "bytesDone" | "bytesTotal" | "state">): number {
  if (p.state === "done") return 100;
  if (!p.bytesTotal) return 0;
  return Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 100));
}
