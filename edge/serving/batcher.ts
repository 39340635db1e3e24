/**
 * Request batching for predictions: calls for the same model (and max length) that arrive within a short
 * window are merged into one inference call, sorted by text length so each forward pass pads little, and
 * the probabilities are handed back to each caller in its own order. A batch is sent at once when it
 * reaches `maxTexts`. A failure rejects every caller of that batch.
 */
import { classifyTexts } from "../../shared/core/mod.ts";
import type { ModelRecord } from "../../shared/schemas/resources.ts";
import type { ModelCache } from "./model_cache.ts";

interface Waiting {
  texts: string[];
  resolve: (probabilities: Float32Array[]) => void;
  reject: (error: unknown) => void;
}

interface Batch {
  record: ModelRecord;
  maxLength: number;
  waiting: Waiting[];
  texts: number;
  timer: ReturnType<typeof setTimeout> | null;
}

export interface BatcherOptions {
  /** How long the first request of a batch waits for company (default 2 ms). */
  windowMs?: number;
  /** Texts that make a batch go at once (default 256). */
  maxTexts?: number;
}

export class PredictBatcher {
  readonly #batches = new Map<string, Batch>();
  readonly #windowMs: number;
  readonly #maxTexts: number;

  constructor(private readonly cache: ModelCache, options: BatcherOptions = {}) {
    this.#windowMs = options.windowMs ?? 2;
    this.#maxTexts = options.maxTexts ?? 256;
  }

  /** Class probabilities for each text (in order), computed together with concurrent calls. */
  classify(record: ModelRecord, texts: string[], maxLength: number): Promise<Float32Array[]> {
    const key = `${record.tenant}.${record.id}:${maxLength}`;
    return new Promise((resolve, reject) => {
      let batch = this.#batches.get(key);
      if (!batch) {
        batch = { record, maxLength, waiting: [], texts: 0, timer: null };
        this.#batches.set(key, batch);
      }
      batch.waiting.push({ texts, resolve, reject });
      batch.texts += texts.length;
      if (batch.texts >= this.#maxTexts) this.#send(key, batch);
      else batch.timer ??= setTimeout(() => this.#send(key, batch!), this.#windowMs);
    });
  }

  #send(key: string, batch: Batch) {
    if (this.#batches.get(key) === batch) this.#batches.delete(key);
    if (batch.timer !== null) clearTimeout(batch.timer);
    const all = batch.waiting.flatMap((w) => w.texts);
    const order = all.map((_, i) => i).sort((a, b) => all[a].length - all[b].length);
    this.cache.use(
      batch.record,
      (served) =>
        classifyTexts(served.model, served.tokenizer, order.map((i) => all[i]), {
          maxLength: batch.maxLength,
        }),
    ).then((sorted) => {
      const results = new Array<Float32Array>(all.length);
      order.forEach((original, position) => (results[original] = sorted[position]));
      let offset = 0;
      for (const waiting of batch.waiting) {
        waiting.resolve(results.slice(offset, offset + waiting.texts.length));
        offset += waiting.texts.length;
      }
    }, (error) => {
      for (const waiting of batch.waiting) waiting.reject(error);
    });
  }
}
