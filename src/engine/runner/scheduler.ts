import {
  LlamaGrammarEvaluationState,
  TokenBias,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaGrammar,
  type LlamaModel,
  type SequenceEvaluateOptions,
  type Token,
} from "node-llama-cpp";
import { StopMatcher } from "../text/stop-matcher.js";
import { TokenTextDecoder } from "../text/token-decoder.js";
import type { FromRunner, GenerateParams, RunnerStats, RunnerTimings } from "./protocol.js";

type Emit = (msg: FromRunner) => void;

interface Job {
  id: number;
  params: GenerateParams;
  grammar?: LlamaGrammar;
  submittedAt: number;
}

interface ActiveJob {
  id: number;
  sequence: LlamaContextSequence;
  generator: AsyncGenerator<Token, void, void | Token | Token[]>;
  decoder: TokenTextDecoder;
  matcher: StopMatcher;
  promptTokens: number;
  maxTokens: number;
  generated: number;
  cancelled: boolean;
  /** Recent tokens, for the repeat penalties. */
  history: Token[];
  /** performance.now() when queued, when the prompt went in, and after the first step (prefill). */
  submittedAt: number;
  startedAt: number;
  firstStepAt: number | null;
}

/** llama.cpp's own defaults, used where a request leaves a sampler setting out. */
const DEFAULT_SAMPLING = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 } as const;
const PENALTY_WINDOW = 64;

/**
 * Continuous batching over one context with N sequences, the way llama-server's
 * slot loop works: one driver advances every active sequence by one token per
 * step, so each llama_decode batch holds all of them (node-llama-cpp's own
 * per-sequence loops dispatch half-filled batches; see docs/PERFORMANCE.md).
 * New requests join at the next step, finished or cancelled ones leave after
 * the current one; requests beyond N wait in a FIFO queue.
 */
export class BatchScheduler {
  private readonly free: LlamaContextSequence[] = [];
  private readonly queue: Job[] = [];
  private readonly active = new Map<number, ActiveJob>();
  private looping = false;
  private readonly order = new Map<LlamaContextSequence, number>();

  constructor(
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly emit: Emit,
    private readonly vocabSize: number,
  ) {
    for (let i = 0; i < context.totalSequences; i++) {
      const seq = context.getSequence();
      this.order.set(seq, i);
      this.free.push(seq);
    }
  }

  /** Queues a generation; `grammar` (compiled by the caller) constrains its output. */
  submit(id: number, params: GenerateParams, grammar?: LlamaGrammar): void {
    this.queue.push({ id, params, grammar, submittedAt: performance.now() });
    this.admit();
  }

  /** Drops a queued job, or frees an active job's sequence after the step in flight. */
  cancel(id: number): void {
    const qi = this.queue.findIndex((j) => j.id === id);
    if (qi !== -1) {
      this.queue.splice(qi, 1);
      return;
    }
    const a = this.active.get(id);
    if (a) a.cancelled = true;
  }

  stats(rssBytes: number): RunnerStats {
    return {
      rssBytes,
      busySlots: this.active.size,
      queued: this.queue.length,
      parallel: this.context.totalSequences,
      contextSize: this.context.contextSize,
    };
  }

  private admit(): void {
    while (this.free.length > 0 && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.start(job, this.takeSequence());
    }
    if (!this.looping && this.active.size > 0) void this.loop();
  }

  /** The free sequence created first: keeps the busy ones packed at the front of the KV cache. */
  private takeSequence(): LlamaContextSequence {
    let best = 0;
    for (let i = 1; i < this.free.length; i++) if (this.order.get(this.free[i])! < this.order.get(this.free[best])!) best = i;
    return this.free.splice(best, 1)[0];
  }

  private start(job: Job, sequence: LlamaContextSequence): void {
    const { params } = job;
    let tokens: Token[];
    try {
      tokens = this.tokenizePrompt(params.prompt);
    } catch (err) {
      this.release(sequence);
      this.emit({ t: "failed", id: job.id, code: "internal", message: `tokenization failed: ${(err as Error).message}` });
      return;
    }
    const room = this.context.contextSize - tokens.length;
    if (tokens.length === 0 || room <= 0) {
      this.release(sequence);
      this.emit({
        t: "failed",
        id: job.id,
        code: tokens.length === 0 ? "validation_failed" : "context_length_exceeded",
        message:
          tokens.length === 0
            ? "the prompt is empty"
            : `the prompt has ${tokens.length} tokens; this model's context holds ${this.context.contextSize}`,
      });
      return;
    }
    const maxTokens = Math.min(params.maxTokens ?? room, room);
    const history: Token[] = tokens.slice(-PENALTY_WINDOW);
    const options = this.samplerOptions(params, history);
    if (job.grammar) {
      options.grammarEvaluationState = new LlamaGrammarEvaluationState({ model: this.model, grammar: job.grammar });
      options.tokenBias = this.partialUtf8Bias();
    }
    const generator = sequence.evaluate(tokens, options);
    const active: ActiveJob = {
      id: job.id,
      sequence,
      generator,
      decoder: new TokenTextDecoder((t) => this.model.detokenize(t as Token[], false)),
      matcher: new StopMatcher(params.stop),
      promptTokens: tokens.length,
      maxTokens,
      generated: 0,
      cancelled: false,
      history,
      submittedAt: job.submittedAt,
      startedAt: performance.now(),
      firstStepAt: null,
    };
    this.active.set(job.id, active);
    this.emit({ t: "started", id: job.id, promptTokens: tokens.length });
  }

  private partialBias: TokenBias | null = null;

  /**
   * Under a grammar, tokens whose bytes are not whole UTF-8 characters are banned:
   * llama.cpp's grammar reads a lead byte followed by ASCII as one character, so
   * such tokens could break JSON string lengths the grammar believes it enforced.
   * The answer stays valid UTF-8; characters the vocabulary only spells byte by byte
   * cannot appear in constrained output. Computed once per model (one detokenize per token).
   */
  private partialUtf8Bias(): TokenBias {
    if (!this.partialBias) {
      const bias = new TokenBias(this.model.tokenizer);
      for (let t = 0; t < this.vocabSize; t++) {
        const text = this.model.detokenize([t as Token], false);
        if (text.includes("\uFFFD")) bias.set(t as Token, "never");
      }
      this.partialBias = bias;
    }
    return this.partialBias;
  }

  /** The prompt's tokens exactly as a generation evaluates them (special tokens parsed, BOS if the model wants it). */
  tokenizePrompt(prompt: string): Token[] {
    const tokens = this.model.tokenize(prompt, true);
    const bos = this.model.tokens.bos;
    if (this.model.tokens.shouldPrependBosToken && bos != null && tokens[0] !== bos) tokens.unshift(bos);
    return tokens;
  }

  private samplerOptions(params: GenerateParams, history: Token[]): SequenceEvaluateOptions {
    const s = params.sampling;
    const options: SequenceEvaluateOptions = {
      temperature: s.temperature ?? DEFAULT_SAMPLING.temperature,
      topK: s.topK ?? DEFAULT_SAMPLING.topK,
      topP: s.topP ?? DEFAULT_SAMPLING.topP,
      minP: s.minP ?? DEFAULT_SAMPLING.minP,
      seed: s.seed,
      yieldEogToken: true,
    };
    if (s.presencePenalty || s.frequencyPenalty || (s.repeatPenalty !== undefined && s.repeatPenalty !== 1)) {
      options.repeatPenalty = {
        punishTokens: () => history,
        maxPunishTokens: PENALTY_WINDOW,
        penalty: s.repeatPenalty ?? 1,
        presencePenalty: s.presencePenalty ?? 0,
        frequencyPenalty: s.frequencyPenalty ?? 0,
      };
    }
    return options;
  }

  private async loop(): Promise<void> {
    this.looping = true;
    try {
      while (this.active.size > 0) {
        const jobs = [...this.active.values()];
        const results = await Promise.allSettled(jobs.map((a) => (a.cancelled ? null : a.generator.next())));
        for (let i = 0; i < jobs.length; i++) {
          const a = jobs[i];
          const r = results[i];
          if (a.cancelled) this.finish(a, null);
          else if (r.status === "rejected") this.fail(a, r.reason);
          else if (r.value) this.onStep(a, r.value);
        }
        this.admit();
        // One event-loop turn so IPC messages (new requests, cancels) land before the next batch.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      this.looping = false;
    }
  }

  private onStep(a: ActiveJob, step: IteratorResult<Token, void>): void {
    a.firstStepAt ??= performance.now();
    if (step.done) return this.finish(a, "stop");
    const token = step.value;
    a.generated++;
    a.history.push(token);
    if (a.history.length > PENALTY_WINDOW) a.history.shift();
    if (this.model.isEogToken(token)) return this.finish(a, "stop");
    const { emit, stop } = a.matcher.push(a.decoder.push(token));
    if (emit) this.emit({ t: "text", id: a.id, text: emit });
    if (stop !== undefined) return this.finish(a, "stop_sequence", stop);
    if (a.generated >= a.maxTokens) this.finish(a, "length");
  }

  private finish(a: ActiveJob, finish: "stop" | "stop_sequence" | "length" | null, stopSequence?: string): void {
    this.active.delete(a.id);
    void a.generator.return();
    if (finish !== null) {
      if (finish !== "stop_sequence") {
        const { emit, stop } = a.matcher.push(a.decoder.flush());
        const rest = stop === undefined ? emit + a.matcher.flush() : emit;
        if (rest) this.emit({ t: "text", id: a.id, text: rest });
        if (stop !== undefined) {
          finish = "stop_sequence";
          stopSequence = stop;
        }
      }
      this.emit({
        t: "done",
        id: a.id,
        finish,
        stopSequence,
        promptTokens: a.promptTokens,
        completionTokens: a.generated,
        timings: this.timings(a),
      });
    }
    this.release(a.sequence);
  }

  private timings(a: ActiveJob): RunnerTimings {
    const end = performance.now();
    const first = a.firstStepAt ?? end;
    return { queueMs: a.startedAt - a.submittedAt, prefillMs: first - a.startedAt, decodeMs: end - first };
  }

  private fail(a: ActiveJob, err: unknown): void {
    this.active.delete(a.id);
    void a.generator.return();
    this.emit({ t: "failed", id: a.id, code: "internal", message: `generation failed: ${(err as Error)?.message ?? err}` });
    this.release(a.sequence);
  }

  /** Clears the KV cells of a sequence before another request may use it. */
  private release(sequence: LlamaContextSequence): void {
    void sequence
      .clearHistory()
      .catch(() => undefined)
      .then(() => {
        this.free.push(sequence);
        this.admit();
      });
  }
}
