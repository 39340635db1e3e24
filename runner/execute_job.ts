/**
 * Runs one delivered fine-tuning job from start to end: claims it (queued → running, compare-and-set),
 * loads its inputs, trains with the shared core while extending the queue lease, streaming events and
 * honouring cancellation within one step, then writes the fine-tuned model as a Hugging Face folder plus
 * metrics to the blob store, registers the model and finishes the job. The outcome tells the worker loop
 * what to do with the delivery: ack, retry later, or give up. A duplicate delivery of a finished job is a
 * no-op, and the output model id is derived from the job id, so a second run cannot double the model.
 */
import type { Delivery, Platform } from "../shared/platform/types.ts";
import type { JobRecord, JobStatus, ModelRecord } from "../shared/schemas/resources.ts";
import { jobTransitions } from "../shared/schemas/resources.ts";
import { ApiError } from "../shared/schemas/errors.ts";
import { updateWithRetry } from "../shared/platform/meta_helpers.ts";
import {
  exportHfFolder,
  fineTuneSequenceClassifier,
  loadBertForSequenceClassification,
  parseBertConfig,
  readSafetensors,
  TextTokenizer,
  type TrainEvent,
} from "../shared/core/mod.ts";
import { loadJobInputs } from "./job_inputs.ts";
import { JobEvents } from "./job_events.ts";

export type JobOutcome =
  | { kind: "ack" }
  | { kind: "retry"; delayMs: number; reason: string }
  | { kind: "give_up"; reason: string };

export interface ExecuteContext {
  platform: Platform;
  backend: string;
  runnerId: string;
  /** How often to push the queue lease out while training. */
  leaseExtendMs: number;
  /** Deliveries after which a transient failure becomes permanent. */
  maxAttempts: number;
  log: (message: string) => void;
}

const FINAL: JobStatus[] = ["succeeded", "failed", "cancelled"];

export async function executeJob(delivery: Delivery, ctx: ExecuteContext): Promise<JobOutcome> {
  const { tenant, jobId } = delivery.message;
  const key = `${tenant}.${jobId}`;
  const { meta } = ctx.platform;
  const events = new JobEvents(ctx.platform.events, key);

  const claimed = await updateWithRetry<JobRecord>(meta, "jobs", key, (job) => {
    if (FINAL.includes(job.status)) return null;
    if (job.cancel_requested) return { ...job, status: "cancelled", finished_at: now() };
    return {
      ...job,
      status: "running",
      started_at: job.started_at ?? now(),
      attempts: job.attempts + 1,
      backend: ctx.backend,
      error: null,
    };
  });
  if (!claimed || claimed.value.status !== "running") {
    if (claimed?.value.status === "cancelled") await events.status("cancelled");
    return { kind: "ack" };
  }
  const job = claimed.value;
  await events.status("running", { backend: ctx.backend, runner: ctx.runnerId, attempt: delivery.attempt });

  const watchAbort = new AbortController();
  let cancelRequested = false;
  const cancelWatch = watchCancellation(ctx.platform, key, watchAbort.signal, () => cancelRequested = true);
  const leaseTimer = setInterval(() => {
    delivery.extendLease().catch((error) => ctx.log(`lease extension failed for ${jobId}: ${error}`));
  }, ctx.leaseExtendMs);

  try {
    const inputs = await loadJobInputs(meta, ctx.platform.blobs, job);
    const config = parseBertConfig(JSON.parse(text(inputs.baseModelFiles.get("config.json"), "config.json")));
    const tokenizer = loadTokenizer(inputs.baseModelFiles);
    const weights = inputs.baseModelFiles.get("model.safetensors");
    if (!weights) {
      throw new ApiError(400, "invalid_file", `base model '${job.base_model}' has no model.safetensors`);
    }
    const { model, initialized } = loadBertForSequenceClassification(
      config,
      readSafetensors(weights),
      inputs.labels.length,
    );
    await events.log(
      `training on ${inputs.train.texts.length} rows, evaluating on ${
        inputs.validation?.texts.length ?? 0
      }; ` +
        `labels: ${inputs.labels.join(", ")}; newly initialised: ${initialized.length} tensors`,
    );
    let lastProgressWrite = 0;
    try {
      const result = await fineTuneSequenceClassifier({
        model,
        tokenizer,
        train: inputs.train,
        validation: inputs.validation,
        hyperparameters: job.hyperparameters,
        shouldStop: () => cancelRequested,
        onEvent: async (event: TrainEvent) => {
          await events.training(event);
          const due = event.type === "eval" || Date.now() - lastProgressWrite > 1000;
          if (due) {
            lastProgressWrite = Date.now();
            await recordProgress(ctx.platform, key, event);
          }
        },
      });
      if (result.status === "stopped") {
        await finish(ctx.platform, key, "cancelled", {});
        await events.status("cancelled");
        return { kind: "ack" };
      }
      const modelId = fineTunedModelId(jobId);
      const files = exportHfFolder(model, tokenizer, inputs.labels);
      files["metrics.json"] = new TextEncoder().encode(JSON.stringify(result.metrics, null, 2));
      const blobPrefix = `models/${tenant}/${modelId}/`;
      for (const [name, bytes] of Object.entries(files)) {
        await ctx.platform.blobs.put(blobPrefix + name, bytes);
      }
      const exportedConfig = JSON.parse(new TextDecoder().decode(files["config.json"]));
      const record: ModelRecord = {
        id: modelId,
        object: "model",
        tenant,
        name: job.suffix ? `${inputs.baseModel.name}:${job.suffix}` : `${inputs.baseModel.name}:ft-${jobId}`,
        source: "fine-tune",
        architecture: inputs.baseModel.architecture,
        task: "text-classification",
        labels: inputs.labels,
        parameters: model.parameterCount(),
        config: exportedConfig,
        files: Object.entries(files).map(([name, bytes]) => ({ name, size: bytes.length })),
        blob_prefix: blobPrefix,
        job_id: jobId,
        created_at: now(),
      };
      const existing = await meta.get<ModelRecord>("models", `${tenant}.${modelId}`);
      if (!existing) await meta.create("models", `${tenant}.${modelId}`, record);
      await finish(ctx.platform, key, "succeeded", { fine_tuned_model: modelId, metrics: result.metrics });
      await events.status("succeeded", { fine_tuned_model: modelId, metrics: result.metrics });
      return { kind: "ack" };
    } finally {
      model.dispose();
    }
  } catch (error) {
    if (error instanceof ApiError) {
      await finish(ctx.platform, key, "failed", { error: { code: error.code, message: error.message } });
      await events.status("failed", { error: { code: error.code, message: error.message } });
      return { kind: "give_up", reason: error.message };
    }
    const message = error instanceof Error ? error.message : String(error);
    ctx.log(
      `job ${jobId} attempt ${delivery.attempt} failed: ${error instanceof Error ? error.stack : error}`,
    );
    if (delivery.attempt >= ctx.maxAttempts) {
      const reason = `internal error after ${delivery.attempt} attempts: ${message}`;
      await finish(ctx.platform, key, "failed", { error: { code: "internal_error", message: reason } });
      await events.status("failed", { error: { code: "internal_error", message: reason } });
      return { kind: "give_up", reason };
    }
    await finish(ctx.platform, key, "queued", {});
    await events.status("queued", { retrying: true, reason: message, attempt: delivery.attempt });
    return { kind: "retry", delayMs: Math.min(60_000, 1000 * 2 ** delivery.attempt), reason: message };
  } finally {
    clearInterval(leaseTimer);
    watchAbort.abort();
    await cancelWatch;
  }
}

/** The fine-tuned model's id is a function of the job id, so reruns of one job name the same model. */
export function fineTunedModelId(jobId: string): string {
  return `mdl_${jobId.replace(/^job_/, "")}`;
}

function loadTokenizer(files: Map<string, Uint8Array>): TextTokenizer {
  const tokenizerConfig = files.has("tokenizer_config.json")
    ? JSON.parse(text(files.get("tokenizer_config.json"), "tokenizer_config.json"))
    : {};
  if (files.has("tokenizer.json")) {
    return TextTokenizer.fromTokenizerJson(
      text(files.get("tokenizer.json"), "tokenizer.json"),
      tokenizerConfig,
    );
  }
  if (files.has("vocab.txt")) {
    return TextTokenizer.fromVocabTxt(text(files.get("vocab.txt"), "vocab.txt"), {
      lowercase: tokenizerConfig.do_lower_case ?? true,
    });
  }
  throw new ApiError(400, "invalid_file", "base model has neither tokenizer.json nor vocab.txt");
}

function text(bytes: Uint8Array | undefined, name: string): string {
  if (!bytes) throw new ApiError(400, "invalid_file", `base model has no ${name}`);
  return new TextDecoder().decode(bytes);
}

async function watchCancellation(
  platform: Platform,
  key: string,
  signal: AbortSignal,
  onCancel: () => void,
): Promise<void> {
  try {
    for await (const change of platform.meta.watch<JobRecord>("jobs", key, { signal, initial: true })) {
      if (change.key !== key) continue;
      if (!change.value || change.value.cancel_requested || change.value.status === "cancelled") onCancel();
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}

async function recordProgress(platform: Platform, key: string, event: TrainEvent): Promise<void> {
  await updateWithRetry<JobRecord>(platform.meta, "jobs", key, (job) => {
    if (job.status !== "running") return null;
    if (event.type === "step") {
      return {
        ...job,
        progress: { step: event.step, total_steps: event.total_steps, epoch: event.epoch },
        metrics: { ...job.metrics, train_loss: event.loss, learning_rate: event.learning_rate },
      };
    }
    return { ...job, metrics: { ...job.metrics, ...event.metrics } };
  });
}

async function finish(
  platform: Platform,
  key: string,
  status: JobStatus,
  fields: Partial<JobRecord>,
): Promise<void> {
  await updateWithRetry<JobRecord>(platform.meta, "jobs", key, (job) => {
    if (job.status !== status && !jobTransitions[job.status].includes(status)) return null;
    return {
      ...job,
      ...fields,
      metrics: { ...job.metrics, ...(fields.metrics ?? {}) },
      status,
      finished_at: FINAL.includes(status) ? now() : null,
    };
  });
}

const now = () => new Date().toISOString();
