/**
 * The edge's model cache for serving: loads a model's HF folder from the blob store once (config.json,
 * model.safetensors, tokenizer.json, tokenizer_config.json → a core classifier of the config's family —
 * BERT, RoBERTa, ELECTRA or DistilBERT — + tokenizer), keeps the few
 * most recently used models, and shares one load between concurrent first requests. An evicted model's
 * weights are freed only after the requests using it finish.
 */
import {
  prepareBackend,
  readSafetensors,
  type SequenceClassifier,
  TextTokenizer,
} from "../../shared/core/mod.ts";
import { loadSequenceClassifier } from "../../shared/core/model/load.ts";
import type { BlobStore } from "../../shared/platform/types.ts";
import type { ModelRecord } from "../../shared/schemas/resources.ts";

export interface ServedModel {
  model: SequenceClassifier;
  tokenizer: TextTokenizer;
  labels: string[];
}

interface Entry {
  loading: Promise<ServedModel>;
  users: number;
  evicted: boolean;
}

async function readBlob(blobs: BlobStore, key: string): Promise<Uint8Array | null> {
  const body = await blobs.get(key);
  return body === null ? null : new Uint8Array(await new Response(body).arrayBuffer());
}

async function loadModel(blobs: BlobStore, record: ModelRecord): Promise<ServedModel> {
  await prepareBackend(); // no-op once the process chose its backend (edge/server.ts does that at start)
  const read = async (name: string) => {
    const bytes = await readBlob(blobs, record.blob_prefix + name);
    if (bytes === null && name !== "tokenizer_config.json") {
      throw new Error(`model ${record.id}: blob ${record.blob_prefix + name} is missing`);
    }
    return bytes;
  };
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  const [configBytes, weights, tokenizerJson, tokenizerConfig] = await Promise.all(
    ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"].map(read),
  );
  const labels = record.labels ?? [];
  const { model } = loadSequenceClassifier(text(configBytes!), readSafetensors(weights!), labels.length);
  const tokenizer = TextTokenizer.fromTokenizerJson(
    text(tokenizerJson!),
    tokenizerConfig ? JSON.parse(text(tokenizerConfig)) : {},
  );
  return { model, tokenizer, labels };
}

function dispose(served: ServedModel) {
  for (const variable of served.model.params.values()) variable.dispose();
}

export class ModelCache {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly blobs: BlobStore, private readonly capacity = 3) {}

  /** Runs `use` with the loaded model of `record`, loading it first if needed. */
  async use<T>(record: ModelRecord, use: (served: ServedModel) => Promise<T>): Promise<T> {
    const key = `${record.tenant}.${record.id}`;
    let entry = this.#entries.get(key);
    if (entry) {
      this.#entries.delete(key); // re-insert: most recently used last
      this.#entries.set(key, entry);
    } else {
      entry = { loading: loadModel(this.blobs, record), users: 0, evicted: false };
      this.#entries.set(key, entry);
      entry.loading.catch(() => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      });
      this.#evictOverflow();
    }
    entry.users++;
    try {
      return await use(await entry.loading);
    } finally {
      entry.users--;
      if (entry.evicted && entry.users === 0) entry.loading.then(dispose, () => {});
    }
  }

  /** Forgets a model (after DELETE); frees it once unused. */
  evict(tenant: string, id: string): void {
    const key = `${tenant}.${id}`;
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#retire(entry);
  }

  /** Frees every cached model (process shutdown). */
  clear(): void {
    for (const [key, entry] of this.#entries) {
      this.#entries.delete(key);
      this.#retire(entry);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  #retire(entry: Entry) {
    entry.evicted = true;
    if (entry.users === 0) entry.loading.then(dispose, () => {});
  }

  #evictOverflow() {
    while (this.#entries.size > this.capacity) {
      const [oldest, entry] = this.#entries.entries().next().value!;
      this.#entries.delete(oldest);
      this.#retire(entry);
    }
  }
}
