/**
 * Job plans and ETAs. `POST /v1/jobs` with `"dry_run": true` runs every check a real create runs and then
 * answers this plan instead of queueing: examples, epochs, optimizer steps, tokens (from the dataset's
 * character-length percentiles), total and trainable parameters (after freezing, with the loop's own
 * parameter-group rules), a peak-memory estimate (weights, gradients, optimizer moments, activations) and the
 * expected training time on this installation's backend, from the training FLOPs (6 × params × tokens plus
 * attention) and a throughput model measured once per process (job_estimate_calibration.ts). `withEta`
 * adds `eta_seconds` to a running job from its progress and its measured step rate.
 */
import { z } from "zod";

import { resolveLoopSettings } from "../../shared/core/train/loop_settings.ts";
import type { Platform } from "../../shared/platform/types.ts";
import { invalidRequest } from "../../shared/schemas/errors.ts";
import {
  type CreateJobRequest,
  createJobRequest,
  type DatasetRecord,
  type JobRecord,
  type ModelRecord,
} from "../../shared/schemas/resources.ts";
import { getOwned } from "../http.ts";
import { type EncoderDims, type EstimateModel, estimateModel } from "./job_estimate_model.ts";
import { type TaskColumns, taskColumns } from "../../shared/data/task_columns.ts";
import { readTable } from "../../shared/data/mod.ts";
import { parseTokenRow } from "../../shared/data/tasks/token_classification_rows.ts";
import { calibrate, type Throughput, trainStepSeconds } from "./job_estimate_calibration.ts";
import { type JobEstimate, jobEstimateSchema } from "../../shared/client/estimate.ts";

export { type EncoderDims, type JobEstimate, jobEstimateSchema };

/** Metrics each task reports (metric_for_best_model is checked against them, as the runner does). */
const METRICS_BY_TASK: Partial<Record<CreateJobRequest["task"], string[]>> = {
  "text-regression": ["eval_loss", "mse", "mae", "pearson", "spearman", "r2"],
  "token-classification": ["eval_loss", "precision", "recall", "f1", "accuracy"],
  "question-answering": ["eval_loss", "exact_match", "f1"],
  "masked-lm": ["eval_loss", "perplexity", "accuracy"],
  "causal-lm": ["eval_loss", "perplexity"],
  translation: ["eval_loss", "perplexity", "bleu", "chrf"],
};

/** The body of `POST /v1/jobs`: a job spec, plus `dry_run` to get the plan without creating anything. */
export const createJobBody = createJobRequest.extend({
  dry_run: z.boolean().optional().describe("validate and answer the plan (JobEstimate) without queueing"),
});

/** Characters per WordPiece token for English-like text (a BERT vocabulary averages about 4). */
const CHARS_PER_TOKEN = 4;
const BYTES_PER_FLOAT = 4;
/** Same rules as runner/job_inputs.ts: 10% held out by default once there are at least 50 rows. */
const DEFAULT_VALIDATION_SPLIT = 0.1;
const MIN_ROWS_FOR_DEFAULT_SPLIT = 50;

/** Training FLOPs of one example of `seq` tokens: forward 2 × matmul params × tokens + attention, × 3. */
export function trainFlopsPerExample(config: EncoderDims, seq: number): number {
  return 3 * forwardFlopsPerExample(config, seq);
}

export function forwardFlopsPerExample(config: EncoderDims, seq: number): number {
  const h = config.hidden_size, i = config.intermediate_size;
  const perLayer = seq * (2 * (4 * h * h + 2 * h * i) + 4 * seq * h);
  return config.num_hidden_layers * perLayer + 2 * seq * h * h;
}

/** Tokens of an example whose text has `chars` characters, with [CLS]/[SEP], capped at `maxLength`. */
export const tokensForChars = (chars: number, maxLength: number): number =>
  Math.max(3, Math.min(maxLength, Math.ceil(chars / CHARS_PER_TOKEN) + 2));

interface TextLengths {
  p50: number;
  p90: number;
}

function textLengths(dataset: DatasetRecord, column: string): TextLengths {
  const stats = dataset.stats[column] as { chars?: { p50?: number; p90?: number } } | undefined;
  return { p50: stats?.chars?.p50 ?? 0, p90: stats?.chars?.p90 ?? stats?.chars?.p50 ?? 0 };
}

function labelCount(dataset: DatasetRecord, column: string): number {
  const stats = dataset.stats[column] as { kind?: string; distinct?: number } | undefined;
  return stats?.kind === "label" && stats.distinct && stats.distinct >= 2 ? stats.distinct : 2;
}

/**
 * Labels of a token-classification head: O plus B-/I- per entity type of the tags seen (IOB2, as the runner
 * trains), or the plain tag set (POS); read from the rows, since the tags are lists.
 */
async function tagLabelCount(
  platform: Platform,
  dataset: DatasetRecord,
  columns: TaskColumns,
): Promise<number> {
  const stream = await platform.blobs.get(dataset.blob_key);
  if (!stream) return 2;
  const tags = new Set<string>();
  for await (const { row } of readTable(stream, dataset.format)) {
    const parsed = parseTokenRow(row, { tokens: columns.tokens, tags: columns.tags }, { plainTags: true });
    if (!("problem" in parsed)) { for (const tag of parsed.tags) tags.add(tag); }
  }
  const types = new Set([...tags].filter((t) => /^[BIESL]-/.test(t)).map((t) => t.slice(2)));
  return Math.max(2, types.size > 0 ? 1 + 2 * types.size : tags.size);
}

/** The plan of a validated job spec (references already checked by the caller). */
export async function estimateJob(
  platform: Platform,
  tenant: string,
  spec: CreateJobRequest,
  throughput?: Throughput,
): Promise<JobEstimate> {
  const { meta } = platform;
  const model = (await getOwned<ModelRecord>(meta, "models", tenant, spec.base_model, "base_model")).value;
  const train =
    (await getOwned<DatasetRecord>(meta, "datasets", tenant, spec.training_dataset, "training_dataset"))
      .value;
  const validationSet = spec.validation_dataset
    ? (await getOwned<DatasetRecord>(meta, "datasets", tenant, spec.validation_dataset, "validation_dataset"))
      .value
    : null;
  const columns = taskColumns(spec.task, spec.columns, spec.training_target_dataset !== undefined);
  const numLabels = spec.task === "token-classification"
    ? await tagLabelCount(platform, train, columns)
    : labelCount(train, columns.label ?? spec.columns.label);
  let estimated: EstimateModel;
  try {
    estimated = estimateModel(model.config, spec.task, numLabels);
  } catch (error) {
    throw invalidRequest(`base model '${model.id}' has a config this estimate cannot read: ${error}`);
  }
  const hp = spec.hyperparameters;
  let trainRows = train.rows, validationRows = validationSet?.rows ?? 0;
  if (!validationSet) {
    const split = spec.validation_split ??
      (train.rows >= MIN_ROWS_FOR_DEFAULT_SPLIT ? DEFAULT_VALIDATION_SPLIT : 0);
    validationRows = split > 0 ? Math.max(1, Math.round(train.rows * split)) : 0;
    trainRows = train.rows - validationRows;
  }
  const config = estimated.dims;
  const shapes = estimated.shapes;
  const sizes = new Map([...shapes].map(([name, shape]) => [name, shape.reduce((a, b) => a * b, 1)]));
  const settings = resolveLoopSettings(
    hp,
    [...shapes.keys()],
    config.num_hidden_layers,
    Math.ceil(Math.max(1, trainRows) / hp.batch_size),
    validationRows > 0,
    { layerOf: estimated.layerOf, metricNames: METRICS_BY_TASK[spec.task] },
  );
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  const trainable = [...settings.groups.keys()].reduce((sum, name) => sum + (sizes.get(name) ?? 0), 0);

  const maxLength = Math.min(hp.max_seq_length, config.max_position_embeddings);
  // The longest-text column of the task stands for the example length (QA: the context).
  const lengths = textLengths(train, columns.context ?? columns.text ?? columns.source ?? columns.tokens);
  const p50 = tokensForChars(lengths.p50, maxLength), p90 = tokensForChars(lengths.p90, maxLength);
  // A shuffled batch is padded to its longest row (about the p90 length); eval batches are sorted by length.
  const trainSeq = hp.batch_size > 1 ? p90 : p50;
  const evaluations = validationRows > 0
    ? hp.epochs + (hp.eval_steps ? Math.floor(settings.totalSteps / hp.eval_steps) : 0)
    : 0;
  const examplesPerStep = hp.batch_size * settings.accumulation;
  const trainFlops = trainFlopsPerExample(config, trainSeq) * trainRows * hp.epochs;
  const evalFlops = forwardFlopsPerExample(config, p50) * validationRows * evaluations;

  const optimizer = String((hp as Record<string, unknown>).optimizer ?? "adamw");
  const momentum = Number((hp as Record<string, unknown>).sgd_momentum ?? 0);
  const moments = optimizer === "sgd" ? (momentum > 0 ? 1 : 0) : 2;
  const h = config.hidden_size, heads = config.num_attention_heads;
  const perLayerActivations = hp.batch_size * trainSeq *
    (10 * h + 2 * config.intermediate_size + 2 * heads * trainSeq);
  const memory = {
    weights_bytes: total * BYTES_PER_FLOAT,
    gradients_bytes: trainable * BYTES_PER_FLOAT,
    optimizer_bytes: moments * trainable * BYTES_PER_FLOAT,
    activations_bytes: (config.num_hidden_layers * perLayerActivations + 4 * hp.batch_size * trainSeq * h) *
      BYTES_PER_FLOAT,
    peak_bytes: 0,
  };
  memory.peak_bytes = memory.weights_bytes + memory.gradients_bytes + memory.optimizer_bytes +
    memory.activations_bytes;

  const measured = throughput ?? await calibrate();
  const microBatches = Math.ceil(Math.max(1, trainRows) / hp.batch_size) * hp.epochs;
  const evalBatches = Math.ceil(validationRows / Math.max(hp.batch_size, 32)) * evaluations;
  const seconds = microBatches * trainStepSeconds(measured, config.num_hidden_layers, 0) +
    evalBatches * trainStepSeconds(measured, config.num_hidden_layers, 0) / 3 +
    (trainFlops + 3 * evalFlops) / measured.flopsPerSecond;
  const rounded = Math.round(seconds * 10) / 10;
  return {
    object: "fine_tuning.job.estimate",
    dry_run: true,
    task: spec.task,
    base_model: spec.base_model,
    training_dataset: spec.training_dataset,
    examples: { train: trainRows, validation: validationRows },
    epochs: hp.epochs,
    batch_size: hp.batch_size,
    gradient_accumulation_steps: settings.accumulation,
    steps_per_epoch: settings.stepsPerEpoch,
    total_steps: settings.totalSteps,
    evaluations,
    tokens: {
      max_seq_length: maxLength,
      per_example_p50: p50,
      per_example_p90: p90,
      train_total: Math.min(trainRows, Math.ceil(trainRows / examplesPerStep) * examplesPerStep) * trainSeq *
        hp.epochs,
    },
    parameters: { total, trainable, frozen: total - trainable },
    memory,
    flops: { train: trainFlops, eval: evalFlops },
    time: [{
      backend: measured.backend,
      source: "calibration",
      seconds: rounded,
      train_flops_per_second: Math.round(measured.flopsPerSecond),
      step_overhead_seconds: trainStepSeconds(measured, config.num_hidden_layers, 0),
    }],
    estimated_seconds: rounded,
  };
}

/** A running job's remaining seconds at its own average pace so far (elapsed since it started / steps done). */
export function etaSeconds(job: JobRecord, now = Date.now()): number | null {
  const { step, total_steps: totalSteps } = job.progress;
  if (job.status !== "running" || job.started_at === null || step <= 0 || totalSteps <= 0) return null;
  const elapsed = Math.max(0, (now - Date.parse(job.started_at)) / 1000);
  return Math.round((elapsed / step) * Math.max(0, totalSteps - step) * 10) / 10;
}

/** Step events kept per job for the recent step rate (the window spans evaluations between steps too). */
const RATE_WINDOW = 30;
const TRACKED_JOBS = 200;

interface StepTrack {
  afterSeq: number;
  steps: { step: number; total: number; time: number }[];
}

const tracks = new WeakMap<Platform["events"], Map<string, StepTrack>>();

/**
 * The ETA of a running job from its recent step throughput: new step events are read incrementally (only
 * those since the last call), the seconds per step over the last RATE_WINDOW steps times the steps left,
 * minus the time since the last step. Falls back to `etaSeconds` before two steps are known.
 */
export async function jobEta(platform: Platform, job: JobRecord, now = Date.now()): Promise<number | null> {
  let perJob = tracks.get(platform.events);
  if (!perJob) tracks.set(platform.events, perJob = new Map());
  const stream = `${job.tenant}.${job.id}`;
  if (job.status !== "running") {
    perJob.delete(stream);
    return null;
  }
  const track = perJob.get(stream) ?? { afterSeq: 0, steps: [] };
  perJob.delete(stream); // re-inserted last: the map's order is least recently used first
  perJob.set(stream, track);
  if (perJob.size > TRACKED_JOBS) perJob.delete(perJob.keys().next().value!);
  for await (const event of platform.events.read(stream, { afterSeq: track.afterSeq })) {
    track.afterSeq = event.seq;
    if (event.type === "status" && event.data.status === "running") track.steps = []; // a new attempt
    if (event.type !== "step") continue;
    const { step, total_steps: total } = event.data as { step: number; total_steps: number };
    track.steps.push({ step, total, time: Date.parse(event.time) });
    if (track.steps.length > RATE_WINDOW) track.steps.shift();
  }
  const first = track.steps[0], last = track.steps.at(-1);
  if (!first || !last || last.step <= first.step) return etaSeconds(job, now);
  const perStep = (last.time - first.time) / 1000 / (last.step - first.step);
  const left = perStep * Math.max(0, last.total - last.step) - Math.max(0, (now - last.time) / 1000);
  return Math.round(Math.max(0, left) * 10) / 10;
}
