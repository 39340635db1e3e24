/**
 * The serving layer: concurrent first requests share one model load, the least recently used model is
 * evicted past capacity (and loaded again when asked for), a failed load is not cached, and batching merged
 * requests changes no probability and no order.
 */
import assert from "node:assert/strict";
import {
  classifyTexts,
  exportHfFolder,
  initBackend,
  initBertForSequenceClassification,
  parseBertConfig,
  TextTokenizer,
} from "../../shared/core/mod.ts";
import type { BlobStore } from "../../shared/platform/types.ts";
import type { ModelRecord } from "../../shared/schemas/resources.ts";
import { encoderOf, ModelCache } from "../../edge/serving/model_cache.ts";
import { PredictBatcher } from "../../edge/serving/batcher.ts";
import { harness } from "./helpers.ts";

await initBackend();

async function storeModel(blobs: BlobStore, id: string): Promise<ModelRecord> {
  const tokenizer = TextTokenizer.trainWordPiece(["tiny text for a vocab"], {
    vocabSize: 40,
    minFrequency: 1,
  });
  const config = parseBertConfig({
    model_type: "bert",
    vocab_size: tokenizer.vocabSize,
    hidden_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 16,
    max_position_embeddings: 32,
  });
  const model = initBertForSequenceClassification(config, 2, 3);
  const files = exportHfFolder(model, tokenizer, ["a", "b"]);
  for (const variable of model.params.values()) variable.dispose();
  const prefix = `models/t/${id}/`;
  for (const [name, bytes] of Object.entries(files)) await blobs.put(prefix + name, bytes);
  return {
    id,
    object: "model",
    tenant: "t",
    name: id,
    source: "import",
    architecture: "bert",
    task: "text-classification",
    labels: ["a", "b"],
    task_options: {},
    parameters: 0,
    config: { ...config },
    files: [],
    blob_prefix: prefix,
    job_id: null,
    created_at: new Date().toISOString(),
  };
}

function counting(blobs: BlobStore, loads: string[]): BlobStore {
  return new Proxy(blobs, {
    get(target, property) {
      if (property === "get") {
        return (key: string) => {
          if (key.endsWith("model.safetensors")) loads.push(key.split("/")[2]);
          return target.get(key);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("model cache: shared first load, LRU eviction, failed loads not cached", async () => {
  const h = await harness();
  try {
    const a = await storeModel(h.platform.blobs, "mdl_a");
    const b = await storeModel(h.platform.blobs, "mdl_b");
    const loads: string[] = [];
    const cache = new ModelCache(counting(h.platform.blobs, loads), 1);
    const labels = await Promise.all(
      [1, 2, 3].map(() => cache.use(a, (served) => Promise.resolve(encoderOf(served).labels))),
    );
    assert.deepEqual(labels, [["a", "b"], ["a", "b"], ["a", "b"]]);
    assert.deepEqual(loads, ["mdl_a"]);
    await cache.use(a, () => Promise.resolve());
    await cache.use(b, () => Promise.resolve());
    await cache.use(a, () => Promise.resolve());
    assert.deepEqual(loads, ["mdl_a", "mdl_b", "mdl_a"]);
    assert.equal(cache.size, 1);

    const missing = { ...a, id: "mdl_gone", blob_prefix: "models/t/mdl_gone/" };
    await assert.rejects(() => cache.use(missing, () => Promise.resolve()), /missing/);
    await assert.rejects(() => cache.use(missing, () => Promise.resolve()), /missing/);
    assert.deepEqual(loads.filter((id) => id === "mdl_gone"), ["mdl_gone", "mdl_gone"]);
    cache.clear();
    assert.equal(cache.size, 0);
  } finally {
    await h.close();
  }
});

Deno.test("batched predictions equal one-by-one predictions, in each caller's order", async () => {
  const h = await harness();
  try {
    const record = await storeModel(h.platform.blobs, "mdl_batch");
    const cache = new ModelCache(h.platform.blobs, 2);
    const texts = ["tiny", "a much longer text for the vocab", "text", "for a tiny vocab text"];
    const alone = [];
    for (const text of texts) {
      alone.push(
        (await cache.use(
          record,
          (s) => classifyTexts(encoderOf(s).model, encoderOf(s).tokenizer, [text], { maxLength: 32 }),
        ))[0],
      );
    }
    const batcher = new PredictBatcher(cache, { windowMs: 20 });
    const [first, second] = await Promise.all([
      batcher.classify(record, [texts[1], texts[0]], 32),
      batcher.classify(record, [texts[3], texts[2]], 32),
    ]);
    const got = [first[1], first[0], second[1], second[0]];
    for (const [i, probabilities] of got.entries()) {
      assert.equal(probabilities.length, 2);
      for (let j = 0; j < 2; j++) assert.ok(Math.abs(probabilities[j] - alone[i][j]) < 1e-5, `text ${i}`);
    }
    cache.clear();
  } finally {
    await h.close();
  }
});
