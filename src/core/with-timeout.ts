/**
 * `p`, or a rejection with "timed out" after `ms` milliseconds, whichever settles first.
 * The timer never keeps the process alive and is cleared as soon as `p` settles.
 */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out")), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
