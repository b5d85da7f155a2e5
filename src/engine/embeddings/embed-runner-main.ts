/**
 * Entry point of an embedding runner: a child process that owns one loaded embedding model
 * and its llama.cpp embedding context. A crash here (llama.cpp aborts on some bad GGUFs)
 * takes down only this process; the server sees the exit and reports llama.cpp's last words.
 *
 * A request's inputs arrive in one message and are evaluated back to back on the context's
 * single sequence: node-llama-cpp's embedding context reads the pooled vector of sequence 0
 * only, so parallel sequences would need its private API. Requests run one after another.
 */
import { getLlama, LlamaLogLevel, type LlamaEmbeddingContext, type LlamaModel, type Token } from "node-llama-cpp";
import { LlamaLog } from "../runner/llama-log.js";
import type { EmbedInput, EmbedRunnerLoadOptions, FromEmbedRunner, ToEmbedRunner } from "./protocol.js";
import { float32ToBase64, l2Normalize } from "./vectors.js";

const send = (msg: FromEmbedRunner): void => {
  if (process.connected) process.send?.(msg);
};

const llamaLog = new LlamaLog();

let model: LlamaModel | null = null;
let context: LlamaEmbeddingContext | null = null;
let loadOptions: EmbedRunnerLoadOptions | null = null;
let dimensions = 0;
/** Requests run one at a time, in arrival order. */
let queue: Promise<void> = Promise.resolve();
/** Requests received and not yet answered, and those of them cancelled. */
const active = new Set<number>();
const cancelled = new Set<number>();

async function load(options: EmbedRunnerLoadOptions): Promise<void> {
  const started = performance.now();
  try {
    const llama = await getLlama({
      build: "never",
      gpu: false,
      // 0: no thread splitting between contexts, so `threads` below is the count used.
      maxThreads: 0,
      logLevel: LlamaLogLevel.warn,
      logger: llamaLog.logger,
      progressLogs: false,
    });
    model = await llama.loadModel({ modelPath: options.modelPath, useMmap: options.useMmap, gpuLayers: 0 });
    context = await model.createEmbeddingContext({
      contextSize: options.contextSize,
      // Encoders (non-causal attention) need the whole input in one batch.
      batchSize: options.contextSize,
      threads: options.threads,
    });
    loadOptions = options;
    dimensions = model.embeddingVectorSize;
    send({ t: "loaded", contextSize: options.contextSize, dimensions, loadMs: performance.now() - started });
  } catch (err) {
    send({ t: "load_failed", reason: llamaLog.reason(err) });
  }
}

type Failure = Extract<FromEmbedRunner, { t: "failed" }>;

/** Tokenizes and checks every input before any is evaluated, so a bad one fails the request cheaply. */
function prepare(id: number, inputs: EmbedInput[], ctx: LlamaEmbeddingContext, m: LlamaModel, opts: EmbedRunnerLoadOptions): { tokens: Token[][]; counts: number[] } | Failure {
  // node-llama-cpp refuses an input of contextSize tokens or more.
  const maxTokens = opts.contextSize - 1;
  const tokens: Token[][] = [];
  const counts: number[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i];
    let seq: Token[];
    if (typeof input === "string") {
      // Text is text: `[CLS]` typed by a user is not the control token.
      seq = m.tokenize(input, false);
    } else {
      const bad = input.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= opts.vocabSize);
      if (bad >= 0) {
        return { t: "failed", id, code: "validation_failed", param: `input.${i}.${bad}`, message: `invalid 'input.${i}.${bad}': not a token id of this model (0..${opts.vocabSize - 1})` };
      }
      seq = input as Token[];
    }
    if (seq.length === 0) {
      // Whitespace only: embed the bare [CLS] [SEP] (node-llama-cpp would return an empty vector).
      const bos = m.tokens.bos;
      if (bos == null) return { t: "failed", id, code: "validation_failed", param: `input.${i}`, message: `invalid 'input.${i}': it has no tokens` };
      seq = [bos];
    }
    // Counted as evaluated: with the [CLS]/[SEP] (or BOS/EOS) the context adds when missing.
    const count = ctx.calculateInputLength(seq);
    if (count > maxTokens) {
      return {
        t: "failed",
        id,
        code: "context_length_exceeded",
        param: `input.${i}`,
        message: `'input.${i}' has ${count} tokens; this model embeds at most ${maxTokens} tokens per input`,
      };
    }
    tokens.push(seq);
    counts.push(count);
  }
  return { tokens, counts };
}

async function embed(id: number, inputs: EmbedInput[]): Promise<void> {
  try {
    if (cancelled.delete(id)) return;
    if (!model || !context || !loadOptions) {
      send({ t: "failed", id, code: "internal", message: "model not loaded" });
      return;
    }
    const prepared = prepare(id, inputs, context, model, loadOptions);
    if ("t" in prepared) {
      send(prepared);
      return;
    }
    const all = new Float32Array(prepared.tokens.length * dimensions);
    for (let i = 0; i < prepared.tokens.length; i++) {
      // A cancelled request stops between inputs.
      if (cancelled.delete(id)) return;
      const { vector } = await context.getEmbeddingFor(prepared.tokens[i]);
      if (vector.length !== dimensions) throw new Error(`input ${i} gave a vector of ${vector.length} values, not ${dimensions}`);
      all.set(l2Normalize(vector), i * dimensions);
    }
    send({ t: "embedded", id, dimensions, data: float32ToBase64(all), tokenCounts: prepared.counts });
  } catch (err) {
    send({ t: "failed", id, code: "internal", message: `embedding failed: ${(err as Error)?.message ?? String(err)}` });
  } finally {
    active.delete(id);
    cancelled.delete(id);
  }
}

process.on("message", (raw: unknown) => {
  const msg = raw as ToEmbedRunner;
  switch (msg.t) {
    case "load":
      void load(msg.options);
      break;
    case "embed":
      active.add(msg.id);
      queue = queue.then(() => embed(msg.id, msg.inputs));
      break;
    case "cancel":
      if (active.has(msg.id)) cancelled.add(msg.id);
      break;
    case "shutdown":
      process.exit(0);
  }
});

// The server went away: nothing left to serve.
process.on("disconnect", () => process.exit(0));
