/**
 * The seam between the runner's job lifecycle (execute_job.ts: claim, lease, cancellation, events, storing
 * the output model, final status) and what each task does with a job: load its inputs, build the model,
 * train with the shared core, and hand back the output as a Hugging Face folder. One TaskRunner per job
 * `task`, registered in tasks/mod.ts. Tasks spread `context.resume` into the generic trainer's input
 * (shared/core/train/trainer.ts), which makes them crash-safe: periodic checkpoints, resume after a
 * redelivery, and a checkpoint when the runner shuts down.
 */
import type { Platform } from "../../shared/platform/types.ts";
import type { JobRecord, ModelRecord, TaskName } from "../../shared/schemas/resources.ts";
import type { TrainEvent } from "../../shared/core/mod.ts";
import type { TrainerInput } from "../../shared/core/train/trainer.ts";

/** Checkpoint/resume options for train(): spread them into its input as they are. */
export type ResumeOptions = Pick<
  TrainerInput<unknown>,
  "resumeFrom" | "onCheckpoint" | "checkpointEvery" | "checkpointOnStop"
>;

export interface TaskContext {
  job: JobRecord;
  platform: Platform;
  /** True once the job was cancelled or the runner is shutting down: stop at the next step. */
  shouldStop(): boolean;
  /** Resume point and checkpoint hooks of this delivery (pass to train() with `...context.resume`). */
  resume: ResumeOptions;
  /** Report a training step or evaluation (events + job progress). */
  onTrainEvent(event: TrainEvent): Promise<void>;
  /** A human-readable line in the job's event stream. */
  log(message: string): Promise<void>;
}

export interface TaskOutput {
  status: "completed" | "stopped";
  /** The output model as an HF folder: file name → bytes. */
  files: Record<string, Uint8Array>;
  /** What the output model can serve (null: a base model for further fine-tuning, e.g. after masked-lm). */
  task: TaskName | null;
  labels: string[] | null;
  /** What serving needs beyond labels (e.g. multi_label + threshold, tag_scheme); stored on the model. */
  taskOptions?: Record<string, unknown>;
  parameters: number;
  architecture: string;
  /** Name of the model the job started from, for the output model's name. */
  baseModelName: string;
  metrics: Record<string, number>;
}

export interface TaskRunner {
  run(context: TaskContext): Promise<TaskOutput>;
}

export type TaskRegistry = Partial<Record<TaskName, TaskRunner>>;
export type { ModelRecord };
