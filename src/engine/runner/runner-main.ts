/**
 * Entry point of a model runner: a child process that owns one loaded model.
 * A crash here (llama.cpp aborts on some bad GGUFs) takes down only this
 * process; the server sees the exit and reports llama.cpp's last words.
 */
import { getLlama, LlamaLogLevel, type LlamaContext, type LlamaModel } from "node-llama-cpp";
import { BatchScheduler } from "./scheduler.js";
import type { FromRunner, RunnerLoadOptions, ToRunner } from "./protocol.js";

/**
 * Messages leave in one IPC write per event-loop turn: a decode step of N sequences
 * wakes the server once, not N times (each wake-up steals a core from llama.cpp).
 */
let outbox: FromRunner[] = [];
const flush = (): void => {
  const batch = outbox;
  outbox = [];
  if (process.connected && batch.length > 0) process.send?.(batch);
};
const send = (msg: FromRunner): void => {
  if (outbox.length === 0) setImmediate(flush);
  outbox.push(msg);
};

/** The last llama.cpp log lines at warning level or worse: the real reason a load fails. */
const recentLog: string[] = [];
const rememberLog = (level: LlamaLogLevel, message: string): void => {
  if (level !== LlamaLogLevel.error && level !== LlamaLogLevel.warn && level !== LlamaLogLevel.fatal) return;
  const line = message.trim();
  if (!line) return;
  recentLog.push(line);
  if (recentLog.length > 20) recentLog.shift();
  // Also to stderr, so the server still has it if this process dies before IPC flushes.
  process.stderr.write(`llama.cpp: ${line}\n`);
};

let model: LlamaModel | null = null;
let context: LlamaContext | null = null;
let scheduler: BatchScheduler | null = null;

async function load(options: RunnerLoadOptions): Promise<void> {
  const started = performance.now();
  try {
    const llama = await getLlama({
      build: "never",
      gpu: options.gpuLayers ? "auto" : false,
      // 0: no thread splitting between contexts, so `threads` below is always the count used
      // (otherwise node-llama-cpp treats it as a hint and sometimes decodes with fewer).
      maxThreads: 0,
      logLevel: LlamaLogLevel.warn,
      logger: rememberLog,
      progressLogs: false,
    });
    model = await llama.loadModel({
      modelPath: options.modelPath,
      useMmap: options.useMmap,
      gpuLayers: options.gpuLayers ?? 0,
    });
    context = await model.createContext({
      contextSize: options.contextSize,
      sequences: options.parallel,
      threads: options.threads,
    });
    scheduler = new BatchScheduler(model, context, send);
    send({
      t: "loaded",
      contextSize: context.contextSize,
      parallel: context.totalSequences,
      rssBytes: process.memoryUsage.rss(),
      loadMs: performance.now() - started,
    });
  } catch (err) {
    const why = recentLog.filter((l) => !/^llama_model_load_from_file_impl: failed to load model$/.test(l));
    const reason = why.length > 0 ? why.slice(-3).join("; ") : String((err as Error)?.message ?? err);
    send({ t: "load_failed", reason });
  }
}

process.on("message", (raw: unknown) => {
  const msg = raw as ToRunner;
  switch (msg.t) {
    case "load":
      void load(msg.options);
      break;
    case "generate":
      if (!scheduler) send({ t: "failed", id: msg.id, code: "internal", message: "model not loaded" });
      else scheduler.submit(msg.id, msg.params);
      break;
    case "cancel":
      scheduler?.cancel(msg.id);
      break;
    case "tokenize":
      send({ t: "tokens", id: msg.id, count: scheduler ? scheduler.tokenizePrompt(msg.text).length : 0 });
      break;
    case "stats":
      if (scheduler) send({ t: "stats", id: msg.id, stats: scheduler.stats(process.memoryUsage.rss()) });
      break;
    case "shutdown":
      process.exit(0);
  }
});

// The server went away: nothing left to serve.
process.on("disconnect", () => process.exit(0));
