import { LlamaLogLevel } from "node-llama-cpp";

/**
 * llama.cpp's warnings and errors in a runner process: node-llama-cpp's error for
 * any bad GGUF is just "Failed to load model"; the real reason is only in the log.
 * Each line also goes to stderr, so the server still has it if the process dies
 * (some bad files abort it) before an IPC message could carry it.
 */
export class LlamaLog {
  private readonly lines: string[] = [];

  constructor(private readonly keep = 20) {}

  /** Pass as `getLlama({ logger })`. */
  readonly logger = (level: LlamaLogLevel, message: string): void => {
    if (level !== LlamaLogLevel.error && level !== LlamaLogLevel.warn && level !== LlamaLogLevel.fatal) return;
    const line = message.trim();
    if (!line) return;
    this.lines.push(line);
    if (this.lines.length > this.keep) this.lines.shift();
    process.stderr.write(`llama.cpp: ${line}\n`);
  };

  /** The reason a load failed: llama.cpp's last words, else the JavaScript error. */
  reason(err: unknown): string {
    // llama.cpp's own lines, not node-llama-cpp's commentary on them.
    const why = this.lines.filter(
      (l) =>
        !/^llama_model_load_from_file_impl: failed to load model$/.test(l) &&
        !l.startsWith("Using this model") &&
        !l.startsWith("Failed simulating model resource usage"),
    );
    return why.length > 0 ? why.slice(-3).join("; ") : String((err as Error)?.message ?? err);
  }
}
