/**
 * Entry point of a model runner: a child process that owns one loaded model.
 * A crash here (llama.cpp aborts on some bad GGUFs) takes down only this
 * process; the server sees the exit and reports llama.cpp's last words.
 */
import { getLlama, LlamaLogLevel, type Llama, type LlamaContext, type LlamaGrammar, type LlamaModel } from "node-llama-cpp";
import { wrapJsonGrammar } from "../grammar/gbnf.js";
import { LlamaLog } from "./llama-log.js";
import { BatchScheduler } from "./scheduler.js";
import type { FromRunner, RunnerGrammar, RunnerLoadOptions, ToRunner } from "./protocol.js";

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

const llamaLog = new LlamaLog();

let llama: Llama | null = null;
let model: LlamaModel | null = null;
let context: LlamaContext | null = null;
let scheduler: BatchScheduler | null = null;

async function load(options: RunnerLoadOptions): Promise<void> {
  const started = performance.now();
  try {
    llama = await getLlama({
      build: "never",
      gpu: options.gpuLayers ? "auto" : false,
      // 0: no thread splitting between contexts, so `threads` below is always the count used
      // (otherwise node-llama-cpp treats it as a hint and sometimes decodes with fewer).
      maxThreads: 0,
      logLevel: LlamaLogLevel.warn,
      logger: llamaLog.logger,
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
    scheduler = new BatchScheduler(model, context, send, options.vocabSize);
    send({
      t: "loaded",
      contextSize: context.contextSize,
      parallel: context.totalSequences,
      rssBytes: process.memoryUsage.rss(),
      loadMs: performance.now() - started,
    });
  } catch (err) {
    send({ t: "load_failed", reason: llamaLog.reason(err) });
  }
}

/** Compiled grammars by spec: agents send the same tool schemas request after request. */
const grammars = new Map<string, Promise<LlamaGrammar>>();
const MAX_CACHED_GRAMMARS = 64;

/** node-llama-cpp compiles the JSON schema to GBNF; `wrapJsonGrammar` makes it exact and finite. */
async function compileGrammar(spec: RunnerGrammar): Promise<LlamaGrammar> {
  const key = JSON.stringify(spec);
  let compiled = grammars.get(key);
  if (!compiled) {
    compiled = (async () => {
      if (!llama) throw new Error("model not loaded");
      const json = await llama.createGrammarForJsonSchema(spec.schema as never);
      return llama.createGrammar({ grammar: wrapJsonGrammar(json.grammar, spec.prefix, spec.suffix) });
    })();
    grammars.set(key, compiled);
    compiled.catch(() => grammars.delete(key));
    if (grammars.size > MAX_CACHED_GRAMMARS) grammars.delete(grammars.keys().next().value as string);
  }
  return compiled;
}

/** Requests whose grammar is still compiling, and whether they were cancelled meanwhile. */
const compiling = new Map<number, { cancelled: boolean }>();

async function generateWithGrammar(id: number, params: Extract<ToRunner, { t: "generate" }>["params"]): Promise<void> {
  const state = { cancelled: false };
  compiling.set(id, state);
  let grammar: LlamaGrammar;
  try {
    grammar = await compileGrammar(params.grammar!);
  } catch (err) {
    return send({ t: "failed", id, code: "validation_failed", message: `the JSON schema could not be compiled to a grammar: ${(err as Error).message}` });
  } finally {
    compiling.delete(id);
  }
  if (state.cancelled) return;
  if (!scheduler) return send({ t: "failed", id, code: "internal", message: "model not loaded" });
  scheduler.submit(id, params, grammar);
}

process.on("message", (raw: unknown) => {
  const msg = raw as ToRunner;
  switch (msg.t) {
    case "load":
      void load(msg.options);
      break;
    case "generate":
      if (msg.params.grammar) void generateWithGrammar(msg.id, msg.params);
      else if (!scheduler) send({ t: "failed", id: msg.id, code: "internal", message: "model not loaded" });
      else scheduler.submit(msg.id, msg.params);
      break;
    case "cancel":
      if (compiling.has(msg.id)) compiling.get(msg.id)!.cancelled = true;
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
