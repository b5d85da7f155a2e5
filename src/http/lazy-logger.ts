import type { FastifyBaseLogger } from "fastify";
import type { Bindings, ChildLoggerOptions } from "pino";

/**
 * Fastify's per-request logger, made on first use: a request that logs nothing (nearly all
 * of them) costs one small object instead of a pino child with its bindings serialized.
 * A class, so that object holds three fields and shares its methods (a literal with a
 * closure per method cost ~1% of the gateway's CPU).
 */
class LazyChildLogger {
  #child: FastifyBaseLogger | null = null;
  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly opts: ChildLoggerOptions,
  ) {}
  /** The pino child, made now if it was not yet. */
  real(): FastifyBaseLogger {
    return (this.#child ??= this.parent.child(this.bindings, this.opts));
  }
  get level(): string {
    return this.real().level;
  }
  set level(level: string) {
    this.real().level = level;
  }
  child(bindings: Bindings, opts?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real().child(bindings, opts);
  }
}
const LOG_METHODS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
// The log methods, one per level, are added to the prototype below (same shape each).
interface LazyChildLogger extends Pick<FastifyBaseLogger, (typeof LOG_METHODS)[number]> {}
for (const method of LOG_METHODS) {
  LazyChildLogger.prototype[method] = function (this: LazyChildLogger, ...args: unknown[]) {
    (this.real()[method] as (...a: unknown[]) => void)(...args);
  } as FastifyBaseLogger[typeof method];
}

export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, opts) as unknown as FastifyBaseLogger;
}
