/**
 * A single-consumer async queue: producers push values, one consumer iterates.
 * Used to turn callback-shaped sources (IPC messages) into async iterables.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | null = null;
  private failWaiting: ((err: unknown) => void) | null = null;
  private ended = false;
  private error: unknown = null;
  private onReturn?: () => void;

  /** `onReturn` runs when the consumer stops early (break, throw, abort). */
  constructor(onReturn?: () => void) {
    this.onReturn = onReturn;
  }

  push(item: T): void {
    if (this.ended) return;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = this.failWaiting = null;
      w({ value: item, done: false });
    } else this.items.push(item);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = this.failWaiting = null;
      w({ value: undefined, done: true });
    }
  }

  fail(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = err;
    if (this.failWaiting) {
      const f = this.failWaiting;
      this.waiting = this.failWaiting = null;
      f(err);
    }
  }

  get isEnded(): boolean {
    return this.ended;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
        if (this.error !== null) return Promise.reject(this.error);
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.waiting = resolve;
          this.failWaiting = reject;
        });
      },
      return: () => {
        const wasEnded = this.ended;
        this.ended = true;
        this.items = [];
        if (!wasEnded) this.onReturn?.();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
