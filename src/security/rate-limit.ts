/**
 * A sliding-window counter per key (an account, an address, an API key): at most `limit`
 * hits within `windowMs`. In memory and per process, which is what a single llmux needs;
 * several replicas would each allow `limit`.
 */
export class SlidingWindowLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds to wait before the next hit is allowed, or 0 when one is allowed now. Does not count. */
  retryAfter(key: string): number {
    const list = this.prune(key);
    if (list.length < this.limit) return 0;
    return Math.max(1, Math.ceil((list[0]! + this.windowMs - this.now()) / 1000));
  }

  /** Counts a hit. */
  hit(key: string): void {
    const list = this.prune(key);
    list.push(this.now());
    this.hits.set(key, list);
    if (this.hits.size > 100_000) this.sweep();
  }

  /** Counts a hit when allowed; otherwise returns the seconds to wait. */
  take(key: string): number {
    const wait = this.retryAfter(key);
    if (wait === 0) this.hit(key);
    return wait;
  }

  reset(key: string): void {
    this.hits.delete(key);
  }

  private prune(key: string): number[] {
    const list = this.hits.get(key) ?? [];
    const cutoff = this.now() - this.windowMs;
    let drop = 0;
    while (drop < list.length && list[drop]! <= cutoff) drop++;
    if (drop > 0) list.splice(0, drop);
    if (list.length === 0) this.hits.delete(key);
    return list;
  }

  /** Bounds memory under a flood of distinct keys. */
  private sweep(): void {
    for (const key of [...this.hits.keys()]) this.prune(key);
  }
}
