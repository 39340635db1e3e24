/**
 * The edge's named Prometheus metrics: predict requests, errors and latency per deployment (or per model for
 * direct model predictions), the batcher's queue length, batch sizes and tokens, the model cache's hits,
 * loads and evictions, and — computed at scrape time from the metadata store — training jobs by status and
 * the runner count (the `runners` collection, read defensively: records of any shape are counted, and only a
 * parseable `last_seen` within RUNNER_FRESH_MS makes a runner count as active).
 */
import type { MetaStore } from "../../shared/platform/types.ts";
import { Registry } from "./registry.ts";

export const RUNNER_FRESH_MS = 120_000;
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"];

export type ServingMetrics = ReturnType<typeof createServingMetrics>;

export function createServingMetrics() {
  const registry = new Registry();
  const metrics = {
    registry,
    requests: registry.counter(
      "edgetune_predict_requests_total",
      "Predict requests answered, by tenant, deployment ('' for direct model predict), model version and status code",
    ),
    errors: registry.counter(
      "edgetune_predict_errors_total",
      "Predict requests that failed (4xx/5xx, 429 included), by tenant, deployment and error code",
    ),
    latency: registry.histogram(
      "edgetune_predict_request_duration_seconds",
      "Predict latency from request to response, by tenant and deployment",
      LATENCY_BUCKETS,
    ),
    inputs: registry.counter("edgetune_predict_inputs_total", "Texts classified, by tenant and deployment"),
    rejected: registry.counter(
      "edgetune_predict_rejected_total",
      "Predict requests refused with 429 (queue full)",
    ),
    queueRequests: registry.gauge("edgetune_queue_size", "Predict requests waiting for a batch (all models)"),
    queueTokens: registry.gauge(
      "edgetune_queue_tokens",
      "Tokens of the rows waiting for a batch (all models)",
    ),
    batchSize: registry.histogram("edgetune_batch_size", "Rows per micro-batch", [
      1,
      2,
      4,
      8,
      16,
      32,
      64,
      128,
      256,
    ]),
    batchTokens: registry.histogram(
      "edgetune_batch_tokens",
      "Padded tokens (rows × longest row) per micro-batch",
      [16, 64, 256, 1024, 2048, 4096, 8192, 16384, 65536],
    ),
    batchSeconds: registry.histogram(
      "edgetune_batch_inference_seconds",
      "Forward time per micro-batch",
      LATENCY_BUCKETS,
    ),
    tokens: registry.counter(
      "edgetune_tokens_total",
      "Input tokens run through models (rate() gives tokens/s)",
    ),
    tokensPerSecond: registry.gauge(
      "edgetune_tokens_per_second",
      "Input tokens per second of inference time, over the last micro-batch",
    ),
    cacheHits: registry.counter(
      "edgetune_model_cache_hits_total",
      "Model lookups served by a loaded (or loading) model",
    ),
    cacheLoads: registry.counter("edgetune_model_cache_loads_total", "Model loads started (cache misses)"),
    cacheLoadFailures: registry.counter(
      "edgetune_model_cache_load_failures_total",
      "Model loads that failed",
    ),
    cacheEvictions: registry.counter(
      "edgetune_model_cache_evictions_total",
      "Models evicted (memory bound or delete)",
    ),
    cacheBytes: registry.gauge("edgetune_model_cache_bytes", "Parameter bytes of the models in the cache"),
    cacheModels: registry.gauge("edgetune_model_cache_models", "Models in the cache (loaded or loading)"),
    loadSeconds: registry.histogram(
      "edgetune_model_load_seconds",
      "Time to load a model from the blob store",
      [
        0.05,
        0.1,
        0.25,
        0.5,
        1,
        2.5,
        5,
        10,
        30,
      ],
    ),
    jobs: registry.gauge("edgetune_training_jobs", "Training jobs in the metadata store, by status"),
    runners: registry.gauge("edgetune_runners", "Runner records in the metadata store"),
    runnersActive: registry.gauge(
      "edgetune_runners_active",
      `Runners whose last_seen is within ${RUNNER_FRESH_MS / 1000} s`,
    ),
  };
  for (const gauge of [metrics.queueRequests, metrics.queueTokens, metrics.cacheBytes, metrics.cacheModels]) {
    gauge.set(0);
  }
  for (const counter of [metrics.rejected, metrics.tokens, metrics.cacheHits, metrics.cacheLoads]) {
    counter.inc({}, 0);
  }
  for (const counter of [metrics.cacheLoadFailures, metrics.cacheEvictions]) counter.inc({}, 0);
  return metrics;
}

/** Registers the scrape-time collectors that read jobs and runners from the metadata store. */
export function collectPlatformGauges(
  metrics: ServingMetrics,
  meta: MetaStore,
  now = () => Date.now(),
): void {
  metrics.registry.collect(async () => {
    const jobs = await meta.list<{ status?: unknown }>("jobs", "");
    const counts = new Map(JOB_STATUSES.map((s) => [s, 0]));
    for (const { value } of jobs) {
      const status = typeof value?.status === "string" ? value.status : "unknown";
      counts.set(status, (counts.get(status) ?? 0) + 1);
    }
    metrics.jobs.replace([...counts].map(([status, value]) => ({ labels: { status }, value })));
  });
  metrics.registry.collect(async () => {
    const runners = await meta.list<{ last_seen?: unknown }>("runners", "");
    let active = 0;
    for (const { value } of runners) {
      const seen = typeof value?.last_seen === "string"
        ? Date.parse(value.last_seen)
        : typeof value?.last_seen === "number"
        ? value.last_seen
        : NaN;
      if (Number.isFinite(seen) && now() - seen <= RUNNER_FRESH_MS) active++;
    }
    metrics.runners.set(runners.length);
    metrics.runnersActive.set(active);
  });
}
