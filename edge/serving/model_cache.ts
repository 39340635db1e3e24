/**
 * The edge's model cache for serving: loads a model's HF folder from the blob store once (config.json,
 * model.safetensors, tokenizer.json, tokenizer_config.json → a core classifier of the config's family —
 * BERT, RoBERTa, ELECTRA or DistilBERT — + tokenizer) and keeps models in an LRU bounded by memory (parameter
 * bytes: 4 per float32 parameter; the record's parameter count until the load tells the real size) and
 * optionally by count. Concurrent first requests share one load; a cold model's first request waits for it.
 * Pinned models (the ones deployments currently route to) are loaded in the background, are never evicted for
 * space, and `ready()` is true only once all of them are loaded. An evicted model's weights are freed only
 * after the requests using it finish.
 */
import {
  prepareBackend,
  readSafetensors,
  type SequenceClassifier,
  TextTokenizer,
} from "../../shared/core/mod.ts";
import { loadSequenceClassifier } from "../../shared/core/model/load.ts";
import type { HeadKind } from "../../shared/core/model/classifier.ts";
import type { GenerativeModel } from "../../shared/core/generate/types.ts";
import { loadGenerativeModel } from "../../shared/core/model/generative_load.ts";
import { GenerationTokenizer } from "../../shared/core/tokenizer/generation_tokenizer.ts";
import type { BlobStore } from "../../shared/platform/types.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import type { ModelRecord } from "../../shared/schemas/resources.ts";
import type { ServingMetrics } from "../metrics/serving_metrics.ts";

/** An encoder with a task head (classification, regression, token classification, QA). */
export interface ServedEncoder {
  kind: "encoder";
  model: SequenceClassifier;
  tokenizer: TextTokenizer;
  labels: string[];
}

/** A generative model (causal LM or encoder-decoder) with its generation tokenizer. */
export interface ServedGenerator {
  kind: "generator";
  model: GenerativeModel;
  tokenizer: GenerationTokenizer;
}

export type ServedModel = ServedEncoder | ServedGenerator;

/** The served model as an encoder; a programming error for a generative model (routes pick by task). */
export function encoderOf(served: ServedModel): ServedEncoder {
  if (served.kind !== "encoder") throw new Error("expected an encoder model");
  return served;
}

/** The served model as a generator. */
export function generatorOf(served: ServedModel): ServedGenerator {
  if (served.kind !== "generator") throw new Error("expected a generative model");
  return served;
}

/** The head and output width a record's task needs. */
export function headOf(record: ModelRecord): { head: HeadKind; numLabels: number } {
  switch (record.task) {
    case "token-classification":
      return { head: "token", numLabels: record.labels?.length ?? 0 };
    case "question-answering":
      return { head: "span", numLabels: 2 };
    case "text-regression":
      return { head: "sequence", numLabels: 1 };
    default:
      return { head: "sequence", numLabels: record.labels?.length ?? 0 };
  }
}

const GENERATIVE_TASKS = new Set(["causal-lm", "translation"]);

export interface ModelCacheOptions {
  /** Parameter bytes the cache may hold (default 1 GiB). */
  maxBytes?: number;
  /** Most models held (default unbounded). */
  maxModels?: number;
  metrics?: ServingMetrics;
}

interface Entry {
  key: string;
  record: ModelRecord;
  loading: Promise<ServedModel>;
  loaded: boolean;
  bytes: number;
  users: number;
  evicted: boolean;
}

export const modelKey = (record: Pick<ModelRecord, "tenant" | "id">): string =>
  `${record.tenant}.${record.id}`;

async function readBlob(blobs: BlobStore, key: string): Promise<Uint8Array | null> {
  const body = await blobs.get(key);
  return body === null ? null : new Uint8Array(await new Response(body).arrayBuffer());
}

async function loadModel(blobs: BlobStore, record: ModelRecord): Promise<ServedModel> {
  await prepareBackend(); // no-op once the process chose its backend (app/server.ts does that at start)
  const read = async (name: string) => {
    const bytes = await readBlob(blobs, record.blob_prefix + name);
    if (bytes === null && name !== "tokenizer_config.json") {
      // The record was read, but its files are gone: deleted meanwhile (e.g. through another edge).
      throw new ApiError(404, "not_found", `model '${record.id}' has no stored ${name} (missing; deleted?)`, {
        id: record.id,
      });
    }
    return bytes;
  };
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  const [configBytes, weights, tokenizerJson, tokenizerConfig] = await Promise.all(
    ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"].map(read),
  );
  const tokenizerConfigJson = tokenizerConfig ? JSON.parse(text(tokenizerConfig)) : {};
  if (record.task !== null && GENERATIVE_TASKS.has(record.task)) {
    const model = loadGenerativeModel(text(configBytes!), readSafetensors(weights!)).model;
    const tokenizer = GenerationTokenizer.fromTokenizerJson(text(tokenizerJson!), tokenizerConfigJson);
    return { kind: "generator", model, tokenizer };
  }
  const labels = record.labels ?? [];
  const { head, numLabels } = headOf(record);
  const { model } = loadSequenceClassifier(
    text(configBytes!),
    readSafetensors(weights!),
    numLabels,
    42,
    head,
  );
  const tokenizer = TextTokenizer.fromTokenizerJson(text(tokenizerJson!), tokenizerConfigJson);
  return { kind: "encoder", model, tokenizer, labels };
}

function parameterBytes(served: ServedModel): number {
  let total = 0;
  for (const variable of served.model.params.values()) total += variable.size * 4;
  return total;
}

function dispose(served: ServedModel) {
  for (const variable of served.model.params.values()) variable.dispose();
}

export class ModelCache {
  readonly #entries = new Map<string, Entry>();
  readonly #pinned = new Map<string, ModelRecord>();
  readonly #maxBytes: number;
  readonly #maxModels: number;
  readonly #metrics?: ServingMetrics;
  readonly #forgetListeners: ((tenant: string, id: string) => void)[] = [];

  /** `options` as a number: at most that many models (the older signature). */
  constructor(private readonly blobs: BlobStore, options: number | ModelCacheOptions = {}) {
    const o = typeof options === "number" ? { maxModels: options } : options;
    this.#maxBytes = o.maxBytes ?? 1024 ** 3;
    this.#maxModels = o.maxModels ?? Infinity;
    this.#metrics = o.metrics;
  }

  /** Runs `use` with the loaded model of `record`, loading it first if needed. */
  async use<T>(record: ModelRecord, use: (served: ServedModel) => Promise<T>): Promise<T> {
    const entry = this.#acquire(record);
    entry.users++;
    try {
      return await use(await entry.loading);
    } finally {
      entry.users--;
      if (entry.evicted && entry.users === 0) entry.loading.then(dispose, () => {});
    }
  }

  /** Starts loading `record` in the background (no-op when cached); resolves when it is loaded. */
  preload(record: ModelRecord): Promise<void> {
    return this.#acquire(record, false).loading.then(() => {});
  }

  /** The models deployments route to now: loaded in the background and kept; replaces the previous set. */
  pin(records: ModelRecord[]): void {
    this.#pinned.clear();
    for (const record of records) this.#pinned.set(modelKey(record), record);
    for (const record of records) this.preload(record).catch(() => {});
  }

  /** True when every pinned model is loaded; retries pinned loads that failed. */
  ready(): boolean {
    let ready = true;
    for (const [key, record] of this.#pinned) {
      const entry = this.#entries.get(key);
      if (!entry?.loaded) {
        ready = false;
        if (!entry) this.preload(record).catch(() => {});
      }
    }
    return ready;
  }

  /** Whether `record`'s model is loaded (not merely loading). */
  isLoaded(tenant: string, id: string): boolean {
    return this.#entries.get(`${tenant}.${id}`)?.loaded === true;
  }

  /** Called with every model forgotten by evict() (e.g. to drop cached records of it). */
  onForget(listener: (tenant: string, id: string) => void): void {
    this.#forgetListeners.push(listener);
  }

  /** Forgets a model (after DELETE); frees it once unused. */
  evict(tenant: string, id: string): void {
    const key = `${tenant}.${id}`;
    for (const listener of this.#forgetListeners) listener(tenant, id);
    this.#pinned.delete(key);
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#remove(entry);
  }

  /** Frees every cached model (process shutdown). */
  clear(): void {
    for (const entry of [...this.#entries.values()]) this.#remove(entry, false);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Parameter bytes held (loaded models at their real size, loading ones at their estimate). */
  get bytes(): number {
    let total = 0;
    for (const entry of this.#entries.values()) total += entry.bytes;
    return total;
  }

  /** Cached model ids, least recently used first. */
  keys(): string[] {
    return [...this.#entries.keys()];
  }

  #acquire(record: ModelRecord, touch = true): Entry {
    const key = modelKey(record);
    let entry = this.#entries.get(key);
    if (entry) {
      if (touch) {
        this.#entries.delete(key); // re-insert: most recently used last
        this.#entries.set(key, entry);
        this.#metrics?.cacheHits.inc();
      }
      return entry;
    }
    const started = performance.now();
    const created: Entry = {
      key,
      record,
      loading: loadModel(this.blobs, record),
      loaded: false,
      bytes: Math.max(0, record.parameters) * 4,
      users: 0,
      evicted: false,
    };
    entry = created;
    this.#entries.set(key, created);
    this.#metrics?.cacheLoads.inc();
    created.loading.then((served) => {
      created.loaded = true;
      created.bytes = parameterBytes(served);
      this.#metrics?.loadSeconds.observe((performance.now() - started) / 1000);
      this.#evictOverflow(created);
      this.#report();
    }, () => {
      this.#metrics?.cacheLoadFailures.inc();
      if (this.#entries.get(key) === created) this.#entries.delete(key);
      this.#report();
    });
    this.#evictOverflow(created);
    this.#report();
    return created;
  }

  #remove(entry: Entry, count = true) {
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    entry.evicted = true;
    if (count) this.#metrics?.cacheEvictions.inc();
    if (entry.users === 0) entry.loading.then(dispose, () => {});
    this.#report();
  }

  /** Evicts least recently used, unpinned models (never `keep`) until the bounds hold. */
  #evictOverflow(keep: Entry) {
    const over = () => this.bytes > this.#maxBytes || this.#entries.size > this.#maxModels;
    for (const entry of [...this.#entries.values()]) {
      if (!over()) break;
      if (entry === keep || this.#pinned.has(entry.key)) continue;
      this.#remove(entry);
    }
  }

  #report() {
    this.#metrics?.cacheBytes.set(this.bytes);
    this.#metrics?.cacheModels.set(this.#entries.size);
  }
}
