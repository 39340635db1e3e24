/**
 * The seam between the runner's job lifecycle (execute_job.ts: claim, lease, cancellation, events, storing
 * the output model, final status) and what each task does with a job: load its inputs, build the model,
 * train with the shared core, and hand back the output as a Hugging Face folder. One TaskRunner per job
 * `task`, registered in tasks/mod.ts.
 */
import type { Platform } from "../../shared/platform/types.ts";
import type { JobRecord, ModelRecord, TaskName } from "../../shared/schemas/resources.ts";
import type { TrainEvent } from "../../shared/core/mod.ts";

export interface TaskContext {
  job: JobRecord;
  platform: Platform;
  /** True once the job was cancelled: stop at the next step. */
  shouldStop(): boolean;
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
