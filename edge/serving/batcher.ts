/**
 * Dynamic batching for predictions. Each request is tokenized on arrival (its own max length applied), then its
 * rows wait in its model's queue. A micro-batch is formed from one model's queue only — never mixing models —
 * taking rows first-in first-out while their tokens stay within the token budget, and runs as length-sorted
 * forward passes of similar lengths (each padded to its own longest row, never past the budget). A batch runs
 * when the budget is reached, when the oldest request has waited the maximum queue delay, or — when callers
 * announce arrivals — as soon as no other request is on its way. One batch computes at a time (inference is
 * CPU-bound on the event loop), so requests that arrive meanwhile join the next one. Each caller gets the
 * probabilities of its own rows in its own order, with its queue, tokenization and inference times. Past
 * `maxQueue` waiting requests a new request is refused with a 429 (`OverloadedError`, carrying a Retry-After
 * estimate) instead of waiting into a timeout.
 */
import { logitsOf } from "../../shared/core/mod.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import type { ModelRecord } from "../../shared/schemas/resources.ts";
import type { ServingMetrics } from "../metrics/serving_metrics.ts";
import { encoderOf, type ModelCache, modelKey, type ServedModel } from "./model_cache.ts";

export interface BatcherOptions {
  /** Tokens per micro-batch, and padded tokens per forward pass (default 8192). */
  maxBatchTokens?: number;
  /** Longest wait of the oldest request before its batch runs (default 2 ms). */
  maxQueueDelayMs?: number;
  /** Older name of maxQueueDelayMs. */
  windowMs?: number;
  /** Waiting requests (all models) past which new ones are refused with 429 (default 1024). */
  maxQueue?: number;
  /**
   * Callers announce requests with arrive(): a batch waits the queue delay only while some are on their way,
   * and runs at once otherwise (no added latency when idle). Off: every batch waits the delay for company.
   */
  trackArrivals?: boolean;
  metrics?: ServingMetrics;
}

export interface PredictTimings {
  queueMs: number;
  tokenizeMs: number;
  inferenceMs: number;
}

/** A request that reached a predict handler but is not queued yet; release it once queued or failed. */
export interface Arrival {
  release(): void;
}

export interface PredictResult {
  probabilities: Float32Array[];
  /** Input tokens (special tokens included, after truncation). */
  tokens: number;
  timings: PredictTimings;
}

/** 429: the queue is full; `retryAfterSeconds` goes into the Retry-After header. */
export class OverloadedError extends ApiError {
  constructor(readonly retryAfterSeconds: number, queued: number) {
    super(429, "rate_limited", `the prediction queue is full (${queued} requests waiting); retry later`, {
      queued,
      retry_after_seconds: retryAfterSeconds,
    });
  }
}

/** One model input row: token ids with their segment ids (same length). */
export interface BatchRow {
  ids: number[];
  typeIds: number[];
}
type Row = BatchRow;

/** Softmax of one row of logits (max-shifted). */
export function softmaxRow(logits: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const out = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

interface Taken {
  pending: Pending;
  index: number;
  length: number;
}

interface Pending {
  served: ServedModel;
  rows: Row[];
  next: number;
  done: number;
  results: Float32Array[];
  tokens: number;
  enqueuedAt: number;
  startedAt: number | null;
  inferenceMs: number;
  resolve: (result: { probabilities: Float32Array[]; queueMs: number; inferenceMs: number }) => void;
  reject: (error: unknown) => void;
}

export class PredictBatcher {
  readonly #queues = new Map<string, Pending[]>();
  readonly #maxBatchTokens: number;
  readonly #maxDelayMs: number;
  readonly #maxQueue: number;
  readonly #metrics?: ServingMetrics;
  readonly #trackArrivals: boolean;
  #waiting = 0;
  #waitingTokens = 0;
  #running = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #tokensPerSecond = 0;
  #arriving = 0;
  #freeSince = 0;

  constructor(private readonly cache: ModelCache, options: BatcherOptions = {}) {
    this.#maxBatchTokens = options.maxBatchTokens ?? 8192;
    this.#maxDelayMs = options.maxQueueDelayMs ?? options.windowMs ?? 2;
    this.#maxQueue = options.maxQueue ?? 1024;
    this.#metrics = options.metrics;
    this.#trackArrivals = options.trackArrivals ?? false;
  }

  /** Requests waiting for (the rest of) their rows to be scheduled. */
  get queued(): number {
    return this.#waiting;
  }

  /** Class probabilities for each text (in order), computed together with concurrent calls. */
  async classify(record: ModelRecord, texts: string[], maxLength: number): Promise<Float32Array[]> {
    return (await this.predict(record, texts, maxLength)).probabilities;
  }

  /**
   * The generic path every encoder task uses: `prepare` turns the request into model rows (token ids and
   * segment ids, within the model's length) and a `finish` that maps the raw outputs of those rows — a
   * sequence head's logits [numLabels], a token head's [rowLength × numLabels], a span head's [rowLength × 2]
   * — to the response; `finish` runs while the model is still held. Throws OverloadedError when the queue is full.
   */
  async run<T>(
    record: ModelRecord,
    prepare: (served: ServedModel) => { rows: BatchRow[]; finish: (outputs: Float32Array[]) => T },
    arrival?: Arrival,
  ): Promise<{ result: T; tokens: number; timings: PredictTimings }> {
    try {
      this.#admit();
    } catch (error) {
      arrival?.release();
      throw error;
    }
    try {
      return await this.cache.use(record, async (served) => {
        const started = performance.now();
        const { rows, finish } = prepare(served);
        const tokenizeMs = performance.now() - started;
        this.#admit();
        const tokens = rows.reduce((sum, row) => sum + row.ids.length, 0);
        const queued = this.#enqueue(modelKey(record), served, rows, tokens);
        arrival?.release();
        const { probabilities: outputs, queueMs, inferenceMs } = await queued;
        return { result: finish(outputs), tokens, timings: { queueMs, tokenizeMs, inferenceMs } };
      });
    } finally {
      arrival?.release();
    }
  }

  /**
   * Marks a request as on its way (body being read, model being looked up): while any are, a batch that is
   * not full waits up to the queue delay for them; with none on the way a lone request runs at once.
   */
  arrive(): Arrival {
    this.#arriving++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#arriving--;
        if (this.#arriving === 0 && !this.#running && this.#queues.size > 0) this.#schedule();
      },
    };
  }

  /** Probabilities, token count and timings for `texts`; throws OverloadedError when the queue is full. */
  async predict(
    record: ModelRecord,
    texts: string[],
    maxLength: number,
    arrival?: Arrival,
  ): Promise<PredictResult> {
    const { result, tokens, timings } = await this.run(record, (served) => {
      const encoder = encoderOf(served);
      const limit = Math.min(maxLength, encoder.model.maxSequenceLength);
      return {
        rows: texts.map((text) =>
          encoder.tokenizer.buildInput(encoder.tokenizer.tokenize(text), null, limit)
        ),
        finish: (outputs) => outputs.map(softmaxRow),
      };
    }, arrival);
    return { probabilities: result, tokens, timings };
  }

  #admit() {
    if (this.#waiting < this.#maxQueue) return;
    const rate = this.#tokensPerSecond > 0 ? this.#tokensPerSecond : 1000;
    const seconds = Math.min(60, Math.max(1, Math.ceil(this.#waitingTokens / rate)));
    this.#metrics?.rejected.inc();
    throw new OverloadedError(seconds, this.#waiting);
  }

  #enqueue(key: string, served: ServedModel, rows: Row[], tokens: number) {
    return new Promise<{ probabilities: Float32Array[]; queueMs: number; inferenceMs: number }>(
      (resolve, reject) => {
        const pending: Pending = {
          served,
          rows,
          next: 0,
          done: 0,
          results: new Array(rows.length),
          tokens,
          enqueuedAt: performance.now(),
          startedAt: null,
          inferenceMs: 0,
          resolve,
          reject,
        };
        const queue = this.#queues.get(key) ?? [];
        queue.push(pending);
        this.#queues.set(key, queue);
        this.#waiting++;
        this.#waitingTokens += tokens;
        this.#report();
        this.#schedule();
      },
    );
  }

  /** Runs the next due batch, or sets a timer for when the oldest request becomes due. */
  #schedule() {
    if (this.#running) return;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    let chosen: [string, Pending[]] | null = null;
    for (const entry of this.#queues) {
      if (!chosen || entry[1][0].enqueuedAt < chosen[1][0].enqueuedAt) chosen = entry;
    }
    if (!chosen) return;
    const [key, queue] = chosen;
    // The delay counts from when the request could have run: its arrival or the end of the last batch.
    const waited = performance.now() - Math.max(queue[0].enqueuedAt, this.#freeSince);
    const full = this.#tokensWaiting(queue) >= this.#maxBatchTokens;
    const companyComing = !this.#trackArrivals || this.#arriving > 0;
    if (!full && waited < this.#maxDelayMs && companyComing) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#schedule();
      }, Math.max(0, this.#maxDelayMs - waited));
      return;
    }
    this.#running = true;
    this.#runBatch(key, queue).finally(() => {
      // Let requests that arrived during the batch be parsed and queued before the next batch forms.
      setTimeout(() => {
        this.#running = false;
        this.#freeSince = performance.now();
        this.#schedule();
      }, 0);
    });
  }

  #tokensWaiting(queue: Pending[]): number {
    let tokens = 0;
    for (const pending of queue) {
      for (let i = pending.next; i < pending.rows.length; i++) {
        tokens += pending.rows[i].ids.length;
        if (tokens >= this.#maxBatchTokens) return tokens;
      }
    }
    return tokens;
  }

  /**
   * Takes rows first-in first-out while their tokens fit the budget (at least one row), then runs them sorted
   * by length in forward passes of similar lengths (a pass never pads a row to more than twice the pass's
   * shortest row, and never exceeds the budget padded), so short rows do not pay for a long one.
   */
  async #runBatch(key: string, queue: Pending[]) {
    const taken: Taken[] = [];
    let tokens = 0;
    outer: for (const pending of queue) {
      while (pending.next < pending.rows.length) {
        const length = pending.rows[pending.next].ids.length;
        if (taken.length > 0 && tokens + length > this.#maxBatchTokens) break outer;
        tokens += length;
        taken.push({ pending, index: pending.next++, length });
      }
    }
    const members = [...new Set(taken.map((t) => t.pending))];
    const start = performance.now();
    for (const pending of members) pending.startedAt ??= start;
    while (queue.length > 0 && queue[0].next === queue[0].rows.length) {
      const scheduled = queue.shift()!;
      this.#waiting--;
      this.#waitingTokens -= scheduled.tokens;
    }
    if (queue.length === 0) this.#queues.delete(key);
    this.#report();
    const { model, tokenizer } = encoderOf(members[0].served);
    try {
      for (const pass of this.#passes(taken)) {
        const passStart = performance.now();
        const encoded = tokenizer.collate(pass.map((t) => t.pending.rows[t.index]));
        const logits = logitsOf(model, encoded);
        const values = await logits.data() as Float32Array;
        logits.dispose();
        const width = logits.shape[1];
        // A sequence head answers one row of logits per input row; token and span heads one per position.
        const perPosition = model.head !== "sequence";
        pass.forEach((t, j) => {
          const start = perPosition ? j * encoded.seqLength * width : j * width;
          const end = perPosition ? start + t.length * width : start + width;
          t.pending.results[t.index] = values.slice(start, end);
        });
        const passTokens = pass.reduce((sum, t) => sum + t.length, 0);
        this.#observe(
          pass.length,
          encoded.batchSize * encoded.seqLength,
          passTokens,
          performance.now() - passStart,
        );
      }
      const ms = performance.now() - start;
      for (const pending of members) {
        pending.inferenceMs += ms;
        pending.done += taken.filter((t) => t.pending === pending).length;
        if (pending.done === pending.rows.length) {
          pending.resolve({
            probabilities: pending.results,
            queueMs: pending.startedAt! - pending.enqueuedAt,
            inferenceMs: pending.inferenceMs,
          });
        }
      }
    } catch (error) {
      for (const pending of members) {
        const index = queue.indexOf(pending);
        if (index >= 0) {
          queue.splice(index, 1);
          this.#waiting--;
          this.#waitingTokens -= pending.tokens;
        }
        pending.reject(error);
      }
      if (queue.length === 0 && this.#queues.get(key) === queue) this.#queues.delete(key);
      this.#report();
    }
  }

  /** Length-sorted forward passes of similar lengths within the padded budget. */
  #passes(taken: Taken[]): Taken[][] {
    const sorted = [...taken].sort((a, b) => a.length - b.length);
    const passes: Taken[][] = [];
    let pass: Taken[] = [];
    for (const t of sorted) {
      const tooLong = pass.length > 0 && t.length > 2 * Math.max(pass[0].length, 8);
      if (pass.length > 0 && (tooLong || (pass.length + 1) * t.length > this.#maxBatchTokens)) {
        passes.push(pass);
        pass = [];
      }
      pass.push(t);
    }
    if (pass.length > 0) passes.push(pass);
    return passes;
  }

  #observe(rows: number, padded: number, tokens: number, ms: number) {
    const rate = tokens / Math.max(ms / 1000, 1e-6);
    this.#tokensPerSecond = this.#tokensPerSecond === 0 ? rate : 0.8 * this.#tokensPerSecond + 0.2 * rate;
    const m = this.#metrics;
    if (!m) return;
    m.batchSize.observe(rows);
    m.batchTokens.observe(padded);
    m.batchSeconds.observe(ms / 1000);
    m.tokens.inc({}, tokens);
    m.tokensPerSecond.set(rate);
  }

  #report() {
    this.#metrics?.queueRequests.set(this.#waiting);
    this.#metrics?.queueTokens.set(this.#waitingTokens);
  }
}
