/**
 * The serving core: dynamic batching returns each caller its own probabilities in its own order and never
 * mixes models (two models, interleaved concurrent calls, compared to one-at-a-time results, with batches of
 * more than one request actually formed); the token budget bounds every batch; a full queue answers 429 with
 * Retry-After (never a timeout); the model cache evicts least recently used models by parameter memory and
 * keeps pinned ones; /readyz waits for the models deployments point at.
 */
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/mod.ts";
import type { BlobStore } from "../../shared/platform/types.ts";
import type { ModelRecord } from "../../shared/schemas/resources.ts";
import { createServingMetrics } from "../../edge/metrics/serving_metrics.ts";
import { ModelCache } from "../../edge/serving/model_cache.ts";
import { OverloadedError, PredictBatcher } from "../../edge/serving/batcher.ts";
import { expectJson, servingHarness, TEXTS, tinyDataset, tinyModel } from "./support.ts";

await initBackend();

async function record(h: Awaited<ReturnType<typeof servingHarness>>, id: string): Promise<ModelRecord> {
  return (await h.platform.meta.get<ModelRecord>("models", `tenant-a.${id}`))!.value;
}

Deno.test("batching: interleaved concurrent calls to two models each get their own results, in order", async () => {
  const h = await servingHarness();
  try {
    const dataset = await tinyDataset(h);
    const a = await record(h, (await tinyModel(h, dataset, 1)).id);
    const b = await record(h, (await tinyModel(h, dataset, 2)).id);
    const metrics = createServingMetrics();
    const cache = new ModelCache(h.platform.blobs, { metrics });
    const alone = new PredictBatcher(cache, { maxQueueDelayMs: 0 });
    const single = async (model: ModelRecord, text: string) => (await alone.classify(model, [text], 64))[0];
    const expected = new Map<string, Float32Array>();
    for (const model of [a, b]) {
      for (const text of TEXTS) expected.set(`${model.id}|${text}`, await single(model, text));
    }
    // The two models really differ, so a mixed-up batch would show.
    assert.ok(
      Math.abs(expected.get(`${a.id}|${TEXTS[0]}`)![0] - expected.get(`${b.id}|${TEXTS[0]}`)![0]) > 1e-4,
    );

    const batcher = new PredictBatcher(cache, { maxQueueDelayMs: 50, maxBatchTokens: 4096, metrics });
    const calls = Array.from({ length: 12 }, (_, i) => {
      const model = i % 2 === 0 ? a : b;
      const texts = [TEXTS[i % 5], TEXTS[(i + 2) % 5], TEXTS[(i + 3) % 5]].slice(0, 1 + (i % 3));
      return { model, texts };
    });
    const results = await Promise.all(calls.map(({ model, texts }) => batcher.predict(model, texts, 64)));
    for (const [i, { model, texts }] of calls.entries()) {
      assert.equal(results[i].probabilities.length, texts.length, `call ${i}: one result per input`);
      texts.forEach((text, j) => {
        const want = expected.get(`${model.id}|${text}`)!;
        const got = results[i].probabilities[j];
        assert.equal(got.length, 3);
        for (let k = 0; k < 3; k++) {
          assert.ok(Math.abs(got[k] - want[k]) < 1e-5, `call ${i} input ${j} label ${k}`);
        }
      });
      assert.ok(results[i].tokens >= texts.length * 2, "token count includes [CLS] and [SEP]");
    }
    // 12 requests were answered by fewer batches: they were merged (two models → at least two batches).
    const batches = metrics.batchSize.count();
    assert.ok(batches >= 2 && batches < 12, `${batches} batches for 12 concurrent requests`);
    cache.clear();
  } finally {
    await h.close();
  }
});

Deno.test("batching: the token budget bounds each batch; a request larger than the budget is split", async () => {
  const h = await servingHarness();
  try {
    const dataset = await tinyDataset(h);
    const a = await record(h, (await tinyModel(h, dataset, 3)).id);
    const metrics = createServingMetrics();
    const cache = new ModelCache(h.platform.blobs, { metrics });
    const reference = await new PredictBatcher(cache).classify(a, TEXTS, 64);
    const tight = new PredictBatcher(cache, { maxBatchTokens: 64, maxQueueDelayMs: 20, metrics });
    const before = metrics.batchSize.count();
    const got = await tight.classify(a, [...TEXTS, ...TEXTS], 64);
    assert.equal(got.length, 10);
    got.forEach((p, i) => p.forEach((v, k) => assert.ok(Math.abs(v - reference[i % 5][k]) < 1e-5)));
    assert.ok(
      metrics.batchSize.count() - before >= 2,
      "10 rows of 3-14 tokens (over 64 in all) need several passes of at most 64 padded tokens",
    );
    const rendered = await metrics.registry.render();
    const over = /edgetune_batch_tokens_bucket\{le="64"\} (\d+)/.exec(rendered)!;
    assert.equal(Number(over[1]), metrics.batchTokens.count(), "every batch ≤ 64 padded tokens");
    cache.clear();
  } finally {
    await h.close();
  }
});

Deno.test("overload: past the queue limit requests get 429 with Retry-After, the rest succeed", async () => {
  const h = await servingHarness({ maxQueue: 1, maxQueueDelayMs: 300 });
  try {
    const dataset = await tinyDataset(h);
    const model = await tinyModel(h, dataset, 4);
    await expectJson(
      await h.call("POST", `/v1/models/${model.id}/predict`, { json: { inputs: "warm" } }),
      200,
    );
    const responses = await Promise.all(
      Array.from(
        { length: 6 },
        () => h.call("POST", `/v1/models/${model.id}/predict`, { json: { inputs: "fine" } }),
      ),
    );
    const statuses = responses.map((r) => r.status).sort();
    assert.ok(statuses.includes(200), `${statuses}`);
    assert.ok(statuses.includes(429), `${statuses}`);
    assert.deepEqual([...new Set(statuses)], [200, 429]);
    for (const res of responses) {
      const body = await res.json();
      if (res.status !== 429) continue;
      assert.equal(body.error.code, "rate_limited");
      assert.ok(Number(res.headers.get("retry-after")) >= 1, "Retry-After in whole seconds");
    }
    // The batcher signals it as its own error type too.
    const cache = new ModelCache(h.platform.blobs);
    const batcher = new PredictBatcher(cache, { maxQueue: 1, maxQueueDelayMs: 100 });
    const m = await record(h, model.id);
    await cache.use(m, () => Promise.resolve()); // loaded
    const first = batcher.classify(m, ["fine"], 64);
    for (let i = 0; i < 1000 && batcher.queued < 1; i++) await new Promise((r) => setTimeout(r, 1));
    assert.equal(batcher.queued, 1);
    await assert.rejects(() => batcher.classify(m, ["fine"], 64), OverloadedError);
    await first;
    cache.clear();
  } finally {
    await h.close();
  }
});

Deno.test("model cache: LRU eviction by parameter memory; pinned models stay", async () => {
  const h = await servingHarness();
  try {
    const dataset = await tinyDataset(h);
    const [a, b, c] = await Promise.all(
      [5, 6, 7].map(async (seed) => record(h, (await tinyModel(h, dataset, seed)).id)),
    );
    const bytes = a.parameters * 4;
    const metrics = createServingMetrics();
    const cache = new ModelCache(h.platform.blobs, { maxBytes: Math.floor(bytes * 2.5), metrics });
    const touch = (m: ModelRecord) => cache.use(m, () => Promise.resolve());
    await touch(a);
    await touch(b);
    assert.equal(cache.bytes, 2 * bytes, "bytes are the parameter bytes");
    await touch(a); // a is now the most recently used
    await touch(c); // over the bound: b (least recently used) goes
    assert.deepEqual(cache.keys().sort(), [`tenant-a.${a.id}`, `tenant-a.${c.id}`].sort());
    assert.equal(metrics.cacheEvictions.get(), 1);
    assert.equal(metrics.cacheLoads.get(), 3);
    assert.equal(metrics.cacheHits.get(), 1);

    cache.pin([c]); // c is now least recently used but pinned: a goes instead
    await touch(b);
    assert.ok(cache.isLoaded("tenant-a", c.id));
    assert.ok(!cache.isLoaded("tenant-a", a.id));
    assert.equal(metrics.cacheEvictions.get(), 2);
    cache.clear();
  } finally {
    await h.close();
  }
});

/** Holds back reads of model.safetensors until `release()`. */
function gated(blobs: BlobStore) {
  const { promise, resolve } = Promise.withResolvers<void>();
  const wrapped = new Proxy(blobs, {
    get(target, property) {
      if (property === "get") {
        return async (key: string) => {
          if (key.endsWith("model.safetensors")) await promise;
          return target.get(key);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { wrapped, release: resolve };
}

Deno.test("readiness: /readyz is 503 until the deployed models are loaded, a cold request waits for the load", async () => {
  let release = () => {};
  const h = await servingHarness({}, (blobs) => {
    const g = gated(blobs);
    release = g.release;
    return g.wrapped;
  });
  try {
    assert.equal((await h.app.request("/readyz")).status, 200, "nothing deployed: ready");
    const dataset = await tinyDataset(h);
    const model = await tinyModel(h, dataset, 8);
    await expectJson(
      await h.call("POST", "/v1/deployments", { json: { name: "gate", model: model.id } }),
      201,
    );
    const notReady = await h.app.request("/readyz");
    assert.equal(notReady.status, 503);
    assert.deepEqual(await notReady.json(), { status: "not_ready" });
    const cold = h.call("POST", "/v1/deployments/gate/predict", { json: { inputs: "a good film" } });
    release();
    const answered = await cold;
    assert.equal(answered.status, 200, "the cold request waited for the load instead of failing");
    await answered.body?.cancel();
    assert.equal((await h.app.request("/readyz")).status, 200);
  } finally {
    release();
    await h.close();
  }
});
