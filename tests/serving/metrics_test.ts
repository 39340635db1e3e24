/**
 * GET /metrics: valid Prometheus text (every line a comment or a sample, histogram buckets cumulative and
 * ending at +Inf = _count); request, error, latency, input, batch, token and cache metrics move as predictions
 * are made (per deployment); 429s are counted; training jobs by status and the runner count come from the
 * metadata store (runner records of any shape counted, fresh last_seen ones as active); with a metrics token
 * set, /metrics needs it.
 */
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/mod.ts";
import { expectJson, metricSum, parseMetrics, servingHarness, tinyDataset, tinyModel } from "./support.ts";

await initBackend();

type H = Awaited<ReturnType<typeof servingHarness>>;

async function scrape(h: H): Promise<Map<string, number>> {
  const res = await h.app.request("/metrics");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const samples = parseMetrics(text);
  // Histograms: buckets never decrease and +Inf equals _count.
  const buckets = new Map<string, number[]>();
  for (const [key, value] of samples) {
    const m = /^(\w+)_bucket\{(.*?),?le="([^"]+)"\}$/.exec(key);
    if (m) buckets.set(`${m[1]}{${m[2]}}`, [...(buckets.get(`${m[1]}{${m[2]}}`) ?? []), value]);
  }
  for (const [series, counts] of buckets) {
    for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1], `${series} cumulative`);
    const [name, labels] = series.split("{");
    const countKey = labels === "}" ? `${name}_count` : `${name}_count{${labels}`;
    assert.equal(counts.at(-1), samples.get(countKey), `${series}: +Inf bucket = _count`);
  }
  return samples;
}

Deno.test("metrics: predict requests, errors, latency, batches, tokens and cache move per deployment", async () => {
  const h = await servingHarness();
  try {
    const dataset = await tinyDataset(h);
    const model = await tinyModel(h, dataset, 21);
    await expectJson(await h.call("POST", "/v1/deployments", { json: { name: "m", model: model.id } }), 201);
    const before = await scrape(h);
    const dep = { tenant: "tenant-a", deployment: "m" };
    assert.equal(metricSum(before, "edgetune_predict_requests_total", dep), 0);

    const responses = await Promise.all(
      Array.from(
        { length: 5 },
        (_, i) =>
          h.call("POST", "/v1/deployments/m/predict", {
            json: { inputs: ["a good film", "fine"].slice(0, 1 + (i % 2)) },
          }),
      ),
    );
    for (const res of responses) await expectJson(res, 200);
    const bad = await h.call("POST", "/v1/deployments/m/predict", { json: { inputs: [] } });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();
    await expectJson(await h.call("POST", `/v1/models/${model.id}/predict`, { json: { inputs: "x" } }), 200);

    const after = await scrape(h);
    assert.equal(metricSum(after, "edgetune_predict_requests_total", { ...dep, code: "200" }), 5);
    assert.equal(metricSum(after, "edgetune_predict_requests_total", { ...dep, code: "400" }), 1);
    // The body is validated by the picked version's task, so the invalid one is counted against its model.
    assert.equal(metricSum(after, "edgetune_predict_requests_total", { ...dep, model: model.id }), 6);
    assert.equal(metricSum(after, "edgetune_predict_errors_total", { ...dep, code: "invalid_request" }), 1);
    assert.equal(metricSum(after, "edgetune_predict_request_duration_seconds_count", dep), 6);
    assert.ok(metricSum(after, "edgetune_predict_request_duration_seconds_sum", dep) > 0);
    assert.equal(metricSum(after, "edgetune_predict_inputs_total", dep), 1 + 2 + 1 + 2 + 1);
    assert.equal(
      metricSum(after, "edgetune_predict_requests_total", {
        tenant: "tenant-a",
        deployment: "",
        model: model.id,
      }),
      1,
    );
    const batches = metricSum(after, "edgetune_batch_size_count") -
      metricSum(before, "edgetune_batch_size_count");
    assert.ok(batches >= 1 && batches <= 6, `${batches} batches`);
    assert.equal(
      metricSum(after, "edgetune_batch_size_sum") - metricSum(before, "edgetune_batch_size_sum"),
      8,
    );
    assert.ok(metricSum(after, "edgetune_tokens_total") > metricSum(before, "edgetune_tokens_total") + 8 * 2);
    assert.ok(metricSum(after, "edgetune_tokens_per_second") > 0);
    assert.equal(metricSum(after, "edgetune_model_cache_loads_total"), 1);
    assert.ok(metricSum(after, "edgetune_model_cache_hits_total") >= 6);
    assert.equal(metricSum(after, "edgetune_model_cache_models"), 1);
    assert.equal(metricSum(after, "edgetune_model_cache_bytes"), model.parameters * 4);
    assert.equal(metricSum(after, "edgetune_queue_size"), 0);
  } finally {
    await h.close();
  }
});

Deno.test("metrics: 429s are counted; training jobs by status and runners come from the metadata store", async () => {
  const h = await servingHarness({ maxQueue: 1, maxQueueDelayMs: 200 });
  try {
    const dataset = await tinyDataset(h);
    const model = await tinyModel(h, dataset, 22);
    await expectJson(
      await h.call("POST", `/v1/models/${model.id}/predict`, { json: { inputs: "warm" } }),
      200,
    );
    const statuses = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const res = await h.call("POST", `/v1/models/${model.id}/predict`, { json: { inputs: "x" } });
        await res.body?.cancel();
        return res.status;
      }),
    );
    const rejected = statuses.filter((s) => s === 429).length;
    assert.ok(rejected >= 1, `${statuses}`);
    const samples = await scrape(h);
    assert.equal(metricSum(samples, "edgetune_predict_rejected_total"), rejected);
    assert.equal(metricSum(samples, "edgetune_predict_errors_total", { code: "rate_limited" }), rejected);

    const meta = h.platform.meta;
    for (const [id, status] of [["j1", "running"], ["j2", "queued"], ["j3", "queued"], ["j4", "failed"]]) {
      await meta.create("jobs", `tenant-a.${id}`, { id, status });
    }
    const now = new Date().toISOString();
    await meta.create("runners", "r1", {
      capabilities: [],
      backend: "wasm",
      started_at: now,
      last_seen: now,
    });
    await meta.create("runners", "r2", { last_seen: "2000-01-01T00:00:00Z" });
    await meta.create("runners", "r3", { surprise: true }); // any shape is read without failing
    const platform = await scrape(h);
    assert.equal(metricSum(platform, "edgetune_training_jobs", { status: "queued" }), 2);
    assert.equal(metricSum(platform, "edgetune_training_jobs", { status: "running" }), 1);
    assert.equal(metricSum(platform, "edgetune_training_jobs", { status: "failed" }), 1);
    assert.equal(metricSum(platform, "edgetune_training_jobs", { status: "succeeded" }), 0);
    assert.equal(metricSum(platform, "edgetune_runners"), 3);
    assert.equal(metricSum(platform, "edgetune_runners_active"), 1);
  } finally {
    await h.close();
  }
});

Deno.test("metrics: a metrics token guards /metrics when set", async () => {
  const h = await servingHarness({ metricsToken: "metrics-secret-0123456789" });
  try {
    const open = await h.app.request("/metrics");
    assert.equal(open.status, 401);
    assert.equal((await open.json()).error.code, "unauthorized");
    const tenantKey = await h.call("GET", "/metrics"); // a tenant API key is not the metrics token
    assert.equal(tenantKey.status, 401);
    await tenantKey.body?.cancel();
    const ok = await h.app.request("/metrics", {
      headers: { authorization: "Bearer metrics-secret-0123456789" },
    });
    assert.equal(ok.status, 200);
    assert.ok(parseMetrics(await ok.text()).has("edgetune_queue_size"));
  } finally {
    await h.close();
  }
});
