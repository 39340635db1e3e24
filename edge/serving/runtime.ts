/**
 * The serving runtime one edge process holds: its settings, metrics, model cache and batcher, plus the link
 * between deployments and the cache — every model a deployment's traffic points at is pinned (loaded in the
 * background, kept), read on the first readiness probe and after each deployment change on this edge — and
 * the readiness check /readyz adds: ready once the pins were read and every pinned model is loaded.
 */
import type { MetaStore, Platform } from "../../shared/platform/types.ts";
import type { DeploymentRecord } from "../../shared/schemas/deployments.ts";
import type { ModelRecord } from "../../shared/schemas/resources.ts";
import {
  collectPlatformGauges,
  createServingMetrics,
  type ServingMetrics,
} from "../metrics/serving_metrics.ts";
import { PredictBatcher } from "./batcher.ts";
import { ModelCache } from "./model_cache.ts";
import { RecordCache } from "./records.ts";
import type { ServeSettings } from "./settings.ts";

export interface Serving {
  settings: ServeSettings;
  metrics: ServingMetrics;
  cache: ModelCache;
  batcher: PredictBatcher;
  /** Short-lived cache of model and deployment records for the predict path. */
  records: RecordCache;
  /** Re-reads every deployment and pins the models their traffic points at. */
  refreshPins(): Promise<void>;
  /** True once pins were read and all pinned models are loaded. */
  ready(): Promise<boolean>;
}

/** Every model (record) the deployments' traffic points at, across tenants. */
export async function deployedModels(meta: MetaStore): Promise<ModelRecord[]> {
  const deployments = await meta.list<DeploymentRecord>("deployments", "");
  const wanted = new Set<string>();
  for (const { value } of deployments) {
    for (const [version, share] of Object.entries(value.traffic ?? {})) {
      const model = value.versions?.find((v) => v.version === Number(version))?.model;
      if (model && share > 0) wanted.add(`${value.tenant}.${model}`);
    }
  }
  const records = await Promise.all([...wanted].map((key) => meta.get<ModelRecord>("models", key)));
  return records.flatMap((r) => (r === null ? [] : [r.value]));
}

export function createServing(platform: Platform, settings: ServeSettings, maxModels?: number): Serving {
  const metrics = createServingMetrics();
  collectPlatformGauges(metrics, platform.meta);
  const cache = new ModelCache(platform.blobs, { maxBytes: settings.cacheBytes, maxModels, metrics });
  const batcher = new PredictBatcher(cache, {
    maxBatchTokens: settings.maxBatchTokens,
    maxQueueDelayMs: settings.maxQueueDelayMs,
    maxQueue: settings.maxQueue,
    trackArrivals: true,
    metrics,
  });
  const records = new RecordCache(platform.meta);
  cache.onForget((tenant, id) => records.forget("models", `${tenant}.${id}`));
  let pinsRead: Promise<boolean> | null = null;
  const refreshPins = async () => {
    cache.pin(await deployedModels(platform.meta));
  };
  const firstRefresh = () => (pinsRead ??= refreshPins().then(() => true, () => (pinsRead = null, false)));
  return {
    settings,
    metrics,
    cache,
    batcher,
    records,
    async refreshPins() {
      await refreshPins();
      pinsRead = Promise.resolve(true);
    },
    async ready() {
      return (await firstRefresh()) && cache.ready();
    },
  };
}
