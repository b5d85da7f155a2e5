/**
 * Interleaves several async iterables, yielding each value tagged with the index
 * of its source as soon as it arrives. Stopping early (or one source failing)
 * returns every source, so backends free their work.
 */
export async function* mergeStreams<T>(sources: AsyncIterable<T>[]): AsyncGenerator<{ index: number; value: T }> {
  const its = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<T> }>>();
  const pull = (index: number) => pending.set(index, its[index].next().then((result) => ({ index, result })));
  its.forEach((_, i) => pull(i));
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(index);
        continue;
      }
      pull(index);
      yield { index, value: result.value };
    }
  } finally {
    await Promise.allSettled(its.map((it, i) => (pending.has(i) ? it.return?.() : undefined)));
  }
}
