/**
 * The records the platform stores and the API returns: datasets, models, jobs. These zod schemas are the one
 * source of truth for both the metadata store and the HTTP responses; ids are prefixed by kind
 * (`ds_`, `mdl_`, `job_`) and every record carries the tenant that owns it.
 */
import { z } from "zod";
import { hyperparametersSchema } from "./hyperparameters.ts";
import { taskOptions } from "./task_options.ts";

export const idPattern = /^[A-Za-z0-9_-]{1,64}$/;
export const resourceId = z.string().regex(idPattern, "ids are 1-64 characters of A-Z a-z 0-9 _ -");

/**
 * Upload formats: tables (csv, tsv, jsonl), CoNLL columns (→ rows {tokens, tags}), SQuAD v1.1 JSON (→ rows
 * {id, title, context, question, answers}) and plain text (→ one row {text} per line).
 */
export const datasetFormat = z.enum(["csv", "tsv", "jsonl", "conll", "squad", "text"]);
export type DatasetFormat = z.infer<typeof datasetFormat>;

export const datasetRecord = z.object({
  id: z.string(),
  object: z.literal("dataset"),
  tenant: z.string(),
  name: z.string(),
  format: datasetFormat,
  rows: z.number().int(),
  columns: z.array(z.string()),
  bytes: z.number().int(),
  /** Per-column summary: label counts for low-cardinality columns, character-length percentiles for text. */
  stats: z.record(z.string(), z.unknown()),
  blob_key: z.string(),
  created_at: z.string(),
});
export type DatasetRecord = z.infer<typeof datasetRecord>;

/**
 * What a job trains and what a model serves: encoder tasks (classification incl. pairs and multi-label,
 * regression, token classification, extractive QA), masked-lm pre-training, and the generative tasks
 * (causal-lm, translation).
 */
export const taskName = z.enum([
  "text-classification",
  "text-regression",
  "token-classification",
  "question-answering",
  "masked-lm",
  "causal-lm",
  "translation",
]);
export type TaskName = z.infer<typeof taskName>;

export const modelRecord = z.object({
  id: z.string(),
  object: z.literal("model"),
  tenant: z.string(),
  name: z.string(),
  /** How the model came to be: uploaded HF folder, random init, a fine-tuning job, or a masked-lm job. */
  source: z.enum(["import", "random", "fine-tune", "pre-train"]),
  architecture: z.string(),
  /** Set when the model has a task head (e.g. id2label in config) and can serve predictions. */
  task: taskName.nullable(),
  labels: z.array(z.string()).nullable(),
  /** Serving details of the head: multi-label sigmoid scores, the tag scheme, QA/translation defaults. */
  task_options: z.record(z.string(), z.unknown()).default({}),
  parameters: z.number().int(),
  config: z.record(z.string(), z.unknown()),
  files: z.array(z.object({ name: z.string(), size: z.number().int() })),
  /** Blob key prefix under which the HF folder's files live (`<prefix><file name>`). */
  blob_prefix: z.string(),
  job_id: z.string().nullable(),
  created_at: z.string(),
});
export type ModelRecord = z.infer<typeof modelRecord>;

export const jobStatus = z.enum(["queued", "running", "succeeded", "failed", "cancelled"]);
export type JobStatus = z.infer<typeof jobStatus>;

const columnName = z.string().min(1).max(200);
/**
 * Which dataset columns a task reads. `text`/`label` default to "text"/"label"; the others default per task
 * (see shared/data/task_columns.ts): text_pair (sentence pairs), tokens/tags (token classification),
 * question/context/answers (QA), prompt/completion (causal-lm), source/target (translation).
 */
export const columnsSpec = z.object({
  text: columnName.default("text"),
  label: columnName.default("label"),
  text_pair: columnName.optional(),
  tokens: columnName.optional(),
  tags: columnName.optional(),
  question: columnName.optional(),
  context: columnName.optional(),
  answers: columnName.optional(),
  prompt: columnName.optional(),
  completion: columnName.optional(),
  source: columnName.optional(),
  target: columnName.optional(),
}).strict();
export type ColumnsSpec = z.infer<typeof columnsSpec>;

export const createJobRequest = z.object({
  task: taskName,
  base_model: resourceId,
  training_dataset: resourceId,
  validation_dataset: resourceId.optional(),
  /** Translation from two aligned text datasets: the target side (training_dataset holds the sources). */
  training_target_dataset: resourceId.optional(),
  validation_target_dataset: resourceId.optional(),
  /** Fraction of the training rows held out for evaluation when no validation dataset is given. */
  validation_split: z.number().gt(0).lt(1).optional(),
  columns: columnsSpec.default({ text: "text", label: "label" }),
  hyperparameters: hyperparametersSchema.default(hyperparametersSchema.parse({})),
  /** Task-specific data/output options (multi-label, tag scheme, QA windows, block size, translation). */
  task_options: taskOptions.default({}),
  /** Free-form suffix for the fine-tuned model's name. */
  suffix: z.string().max(64).optional(),
  /** Capabilities a runner must advertise to take this job (e.g. ["gpu"]). */
  requires: z.array(z.string().regex(/^[A-Za-z0-9-]{1,32}$/, "capabilities are 1-32 of A-Z a-z 0-9 -"))
    .max(8).optional(),
}).strict();
export type CreateJobRequest = z.infer<typeof createJobRequest>;

export const jobRecord = z.object({
  id: z.string(),
  object: z.literal("fine_tuning.job"),
  tenant: z.string(),
  task: taskName,
  status: jobStatus,
  base_model: z.string(),
  training_dataset: z.string(),
  validation_dataset: z.string().nullable(),
  training_target_dataset: z.string().nullable().default(null),
  validation_target_dataset: z.string().nullable().default(null),
  validation_split: z.number().nullable(),
  columns: columnsSpec,
  hyperparameters: hyperparametersSchema,
  task_options: taskOptions.default({}),
  suffix: z.string().nullable(),
  requires: z.array(z.string()).default([]),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  progress: z.object({
    step: z.number().int(),
    total_steps: z.number().int(),
    epoch: z.number(),
  }),
  /** Latest evaluation metrics (and `train_loss`), filled while and after training. */
  metrics: z.record(z.string(), z.number()),
  /** Which tfjs backend ran the job (reported by the runner). */
  backend: z.string().nullable(),
  fine_tuned_model: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  cancel_requested: z.boolean(),
  attempts: z.number().int(),
});
export type JobRecord = z.infer<typeof jobRecord>;

/** Legal status transitions; anything else is refused by compare-and-set helpers. */
export const jobTransitions: Record<JobStatus, JobStatus[]> = {
  queued: ["running", "cancelled", "failed"],
  running: ["succeeded", "failed", "cancelled", "queued"],
  succeeded: [],
  failed: [],
  cancelled: [],
};
