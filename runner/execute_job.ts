/**
 * Runs one delivered job from start to end: claims it (queued → running, compare-and-set), extends the queue
 * lease while it works, watches for cancellation (honoured within one training step), hands the job to its
 * task's runner (tasks/), streams training events, then stores the output model as a Hugging Face folder
 * plus metrics.json, registers it and finishes the job. The outcome tells the worker loop what to do with the
 * delivery: ack, retry later, or give up. A duplicate delivery of a finished job is a no-op, and the output
 * model id is derived from the job id, so a second run cannot double the model. Crash safety
 * (checkpoints.ts): the trainer's state is stored every N steps / M seconds; a redelivered job resumes from
 * it; when the runner shuts down the job checkpoints at once, goes back to `queued` and is released for
 * immediate redelivery; a runner that lost its lease (the job was redelivered elsewhere) stops training and
 * leaves the job to the new holder; the checkpoint is deleted once the job is final.
 */
import type { Delivery, Platform } from "../shared/platform/types.ts";
import type { JobRecord, JobStatus, ModelRecord } from "../shared/schemas/resources.ts";
import { jobTransitions } from "../shared/schemas/resources.ts";
import { ApiError, ConflictError } from "../shared/schemas/errors.ts";
import { updateWithRetry } from "../shared/platform/meta_helpers.ts";
import { LeaseLostError } from "../shared/platform/queue_extras.ts";
import type { TrainEvent } from "../shared/core/mod.ts";
import { TrainerStateMismatchError } from "../shared/core/train/trainer.ts";
import { type CheckpointPolicy, JobCheckpoints } from "./checkpoints.ts";
import { JobEvents } from "./job_events.ts";
import { taskRunners } from "./tasks/mod.ts";
import type { TaskOutput } from "./tasks/types.ts";

export type JobOutcome =
  | { kind: "ack" }
  /** The lease was lost (the job went to another runner): touch neither the job nor the delivery. */
  | { kind: "lease_lost" }
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
  /** When to checkpoint the training state (default: never periodically; always on shutdown). */
  checkpoints?: CheckpointPolicy;
  /** True once the runner is shutting down: checkpoint, release the job, stop. */
  shuttingDown?: () => boolean;
}

/** Why a job released at shutdown goes back to the queue (event `status queued {reason}`). */
export const SHUTDOWN_REASON = "runner shutting down";

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
  let leaseLost = false;
  const leaseTimer = setInterval(() => {
    delivery.extendLease().catch((error) => {
      ctx.log(`lease extension failed for ${jobId}: ${error}`);
      if (error instanceof LeaseLostError) leaseLost = true; // another runner has (or will have) the job
    });
  }, ctx.leaseExtendMs);

  const shuttingDown = ctx.shuttingDown ?? (() => false);
  const checkpoints = new JobCheckpoints(ctx.platform, tenant, jobId, ctx.checkpoints ?? {});
  try {
    const runner = taskRunners[job.task];
    if (!runner) throw new ApiError(400, "invalid_request", `this runner cannot run '${job.task}' jobs`);
    const resumeFrom = await checkpoints.load();
    if (resumeFrom) await events.log(`resumed from step ${resumeFrom.step}`);
    let lastProgressWrite = 0;
    let lastStep: TrainEvent | null = null;
    const output = await runner.run({
      job,
      platform: ctx.platform,
      shouldStop: () => cancelRequested || shuttingDown() || leaseLost,
      resume: {
        resumeFrom: resumeFrom ?? undefined,
        onCheckpoint: (state) => checkpoints.save(state),
        checkpointEvery: checkpoints.every,
        checkpointOnStop: () => shuttingDown() && !cancelRequested,
      },
      log: (message) => events.log(message),
      onTrainEvent: async (event: TrainEvent) => {
        await events.training(event);
        if (event.type === "step") lastStep = event;
        if (event.type === "eval" || Date.now() - lastProgressWrite > 1000) {
          lastProgressWrite = Date.now();
          await recordProgress(ctx.platform, key, event);
        }
      },
    });
    // Progress writes are throttled; the job record ends with the last step the run made.
    if (lastStep) await recordProgress(ctx.platform, key, lastStep);
    if (output.status === "stopped" && leaseLost && !cancelRequested) {
      await events.log(`runner ${ctx.runnerId} lost the lease and stopped; the job is delivered again`);
      return { kind: "lease_lost" };
    }
    if (output.status === "stopped" && !cancelRequested && shuttingDown()) {
      await finish(ctx.platform, key, "queued", {});
      await events.status("queued", { reason: SHUTDOWN_REASON, attempt: delivery.attempt });
      return { kind: "retry", delayMs: 0, reason: SHUTDOWN_REASON };
    }
    if (output.status === "stopped") {
      await finish(ctx.platform, key, "cancelled", {});
      await events.status("cancelled");
      await checkpoints.clear();
      return { kind: "ack" };
    }
    const modelId = await storeOutputModel(ctx.platform, job, output);
    await finish(ctx.platform, key, "succeeded", { fine_tuned_model: modelId, metrics: output.metrics });
    await events.status("succeeded", { fine_tuned_model: modelId, metrics: output.metrics });
    await checkpoints.clear();
    return { kind: "ack" };
  } catch (error) {
    if (error instanceof TrainerStateMismatchError) {
      // Saved for other data or settings (e.g. an older state): start over rather than fail the job.
      await checkpoints.clear();
      await events.log(`discarded the checkpoint: ${error.message}`);
      await finish(ctx.platform, key, "queued", {});
      return { kind: "retry", delayMs: 0, reason: error.message };
    }
    if (error instanceof ApiError) {
      await checkpoints.clear().catch(() => {});
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
      await checkpoints.clear().catch(() => {});
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

/** The output model's id is a function of the job id, so reruns of one job name the same model. */
export function fineTunedModelId(jobId: string): string {
  return `mdl_${jobId.replace(/^job_/, "")}`;
}

/** Writes the output folder and metrics.json, then registers the model (once, whatever the deliveries). */
async function storeOutputModel(platform: Platform, job: JobRecord, output: TaskOutput): Promise<string> {
  const modelId = fineTunedModelId(job.id);
  const files = { ...output.files };
  files["metrics.json"] = new TextEncoder().encode(JSON.stringify(output.metrics, null, 2));
  const blobPrefix = `models/${job.tenant}/${modelId}/`;
  for (const [name, bytes] of Object.entries(files)) await platform.blobs.put(blobPrefix + name, bytes);
  const record: ModelRecord = {
    id: modelId,
    object: "model",
    tenant: job.tenant,
    name: `${output.baseModelName}:${job.suffix ?? `ft-${job.id}`}`,
    source: job.task === "masked-lm" ? "pre-train" : "fine-tune",
    architecture: output.architecture,
    task: output.task,
    labels: output.labels,
    task_options: output.taskOptions ?? {},
    parameters: output.parameters,
    config: JSON.parse(new TextDecoder().decode(files["config.json"])),
    files: Object.entries(files).map(([name, bytes]) => ({ name, size: bytes.length })),
    blob_prefix: blobPrefix,
    job_id: job.id,
    created_at: now(),
  };
  const recordKey = `${job.tenant}.${modelId}`;
  if (!(await platform.meta.get<ModelRecord>("models", recordKey))) {
    try {
      await platform.meta.create("models", recordKey, record);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error; // a duplicate delivery registered it first
    }
  }
  return modelId;
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
