/**
 * Progress on stderr while a bench runs: a redrawn bar on a terminal, otherwise a plain
 * line at each level's start and end and every few seconds in between (CI logs stay short).
 */
import type { EmbeddingsLevelResult, LevelPlan, LevelResult } from "./types.js";

/** What the runner reports while it runs. */
export interface ProgressReporter {
  levelStart(label: string, plan: LevelPlan): void;
  request(ok: boolean): void;
  levelEnd(level: LevelResult | EmbeddingsLevelResult): void;
  /** A one-off message (warm-up, model generation…). */
  note(message: string): void;
}

/** Reports nothing (library use, tests). */
export const silentProgress: ProgressReporter = { levelStart() {}, request() {}, levelEnd() {}, note() {} };

const BAR = 24;
const PLAIN_EVERY_MS = 10_000;
const REDRAW_MS = 100;

/** The stderr reporter: a bar when `stream.isTTY`, plain lines otherwise. */
export class StderrProgress implements ProgressReporter {
  private label = "";
  private plan: LevelPlan = { requests: 0 };
  private done = 0;
  private errors = 0;
  private started = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly tty: boolean;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(stream.isTTY);
  }

  levelStart(label: string, plan: LevelPlan): void {
    this.label = label;
    this.plan = plan;
    this.done = 0;
    this.errors = 0;
    this.started = performance.now();
    if (this.tty) {
      this.timer = setInterval(() => this.draw(), REDRAW_MS);
      this.draw();
    } else {
      const what = plan.requests !== undefined ? `${plan.requests} requests` : `${plan.durationS}s`;
      this.stream.write(`bench: ${label}: ${what}…\n`);
      this.timer = setInterval(() => this.stream.write(`bench: ${this.label}: ${this.status()}\n`), PLAIN_EVERY_MS);
    }
    this.timer.unref();
  }

  request(ok: boolean): void {
    this.done++;
    if (!ok) this.errors++;
  }

  levelEnd(level: LevelResult | EmbeddingsLevelResult): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) this.stream.write("\r\x1b[2K");
    const errs = level.errors.count ? `, ${level.errors.count} errors` : "";
    const rate = "inputsPerS" in level ? `${level.inputsPerS.toFixed(1)} inputs/s` : `${level.outputTokPerS.toFixed(1)} tok/s`;
    this.stream.write(
      `bench: ${this.label}: ${level.completed}/${level.requests} in ${level.wallS.toFixed(1)}s, ${level.requestsPerS.toFixed(2)} req/s, ${rate}${errs}\n`,
    );
  }

  note(message: string): void {
    if (this.tty && this.timer) this.stream.write("\r\x1b[2K");
    this.stream.write(`bench: ${message}\n`);
  }

  private status(): string {
    const elapsed = (performance.now() - this.started) / 1000;
    const of = this.plan.requests !== undefined ? `/${this.plan.requests}` : "";
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    return `${this.done}${of} done, ${rate.toFixed(2)} req/s, ${this.errors} errors, ${elapsed.toFixed(1)}s`;
  }

  private draw(): void {
    const elapsed = (performance.now() - this.started) / 1000;
    const fraction = this.plan.requests !== undefined ? this.done / Math.max(1, this.plan.requests) : elapsed / this.plan.durationS;
    const filled = Math.max(0, Math.min(BAR, Math.round(fraction * BAR)));
    this.stream.write(`\r\x1b[2K${this.label} [${"#".repeat(filled)}${".".repeat(BAR - filled)}] ${this.status()}`);
  }
}
