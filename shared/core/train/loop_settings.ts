/**
 * Turns a job's hyperparameters into what the fine-tuning loop runs with: the optimizer and schedule specs,
 * the parameter groups (weight decay, layer-wise LR, freezing), gradual unfreezing, ReduceLROnPlateau and
 * early stopping on the chosen eval metric, value clipping, label smoothing and gradient accumulation. The
 * optimisation fields and their defaults live in hyperparameter_fields.ts; hyperparameters that lack them
 * (the base schema) get those defaults, which is plain AdamW with linear warm-up/decay, as transformers.
 * Inconsistent settings are an ApiError 400 naming the field, raised before the first step.
 */
import { z } from "zod";
import { ApiError } from "../../schemas/errors.ts";
import type { Hyperparameters } from "../../schemas/hyperparameters.ts";
import {
  greaterIsBetter,
  layerIssues,
  optimizationFields,
  optimizationIssues,
  type OptimizationSettings,
  optimizerSpecFrom,
  paramGroupOptionsFrom,
  plateauOptionsFrom,
  scheduleSpecFrom,
  unfreezePlanFrom,
} from "./hyperparameter_fields.ts";
import type { OptimizerSpec } from "./optimizers.ts";
import { buildParamGroups, type GradualUnfreezePlan, type ParamGroup } from "./param_groups.ts";
import type { ReduceOnPlateauOptions, ScheduleSpec } from "./schedules.ts";

export interface LoopSettings {
  optimizer: OptimizerSpec;
  schedule: ScheduleSpec;
  /** Trainable parameters (frozen ones are absent) with their LR scale and weight decay. */
  groups: Map<string, ParamGroup>;
  /** Gradual unfreezing in optimizer steps; null = everything in `groups` trains from the start. */
  unfreeze: GradualUnfreezePlan | null;
  plateau: ReduceOnPlateauOptions | null;
  earlyStopping: { patience: number; threshold: number } | null;
  /** The eval metric plateau/early stopping watch, and its direction. */
  bestMetric: { name: string; greaterIsBetter: boolean };
  maxGradValue: number | null;
  labelSmoothing: number;
  /** Micro-batches per optimizer step. */
  accumulation: number;
  /** Optimizer steps per epoch and in all. */
  stepsPerEpoch: number;
  totalSteps: number;
}

const optimizationSchema = z.object(optimizationFields);

/** Eval metric names the loop produces, HF style ("loss" means eval_loss; "eval_" prefixes are optional). */
/** Classification reports eval_loss, accuracy, macro_f1; masked-lm reports eval_loss, accuracy, perplexity. */
/** Metrics of tasks that do not declare their own (`TrainingTask.metricNames`). */
const EVAL_METRICS = [
  "eval_loss",
  "accuracy",
  "macro_f1",
  "micro_f1",
  "weighted_f1",
  "mcc",
  "subset_accuracy",
  "hamming_loss",
  "perplexity",
];

export function evalMetricValue(metrics: Record<string, number>, name: string): number | undefined {
  const bare = name.startsWith("eval_") ? name.slice("eval_".length) : name;
  return metrics[name] ?? metrics[bare] ?? metrics[`eval_${bare}`];
}

function invalid(message: string, details?: unknown): ApiError {
  return new ApiError(400, "invalid_request", message, details);
}

export function resolveLoopSettings(
  hp: Hyperparameters,
  paramNames: string[],
  numLayers: number,
  batchesPerEpoch: number,
  hasValidation: boolean,
  taskInfo: { layerOf?: (name: string) => number; metricNames?: readonly string[] } = {},
): LoopSettings {
  const parsed = optimizationSchema.safeParse(hp);
  if (!parsed.success) {
    throw invalid("invalid optimisation hyperparameters", {
      issues: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
    });
  }
  const settings: OptimizationSettings = {
    ...parsed.data,
    learning_rate: hp.learning_rate,
    warmup_ratio: hp.warmup_ratio,
    weight_decay: hp.weight_decay,
  };
  const issues = [...optimizationIssues(settings), ...layerIssues(settings, numLayers)];
  if (issues.length > 0) {
    throw invalid(`hyperparameters: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, { issues });
  }
  const accumulation = settings.gradient_accumulation_steps;
  const stepsPerEpoch = Math.max(1, Math.ceil(batchesPerEpoch / accumulation));
  const totalSteps = stepsPerEpoch * hp.epochs;
  const plateau = plateauOptionsFrom(settings);
  const earlyStopping = settings.early_stopping_patience === null
    ? null
    : { patience: settings.early_stopping_patience, threshold: settings.early_stopping_threshold };
  const metricName = settings.metric_for_best_model === "loss" ? "eval_loss" : settings.metric_for_best_model;
  if (plateau || earlyStopping) {
    const what = plateau ? "lr_scheduler_type reduce_lr_on_plateau" : "early_stopping_patience";
    if (!hasValidation) throw invalid(`${what} needs a validation set to evaluate on`);
    const reported = taskInfo.metricNames ?? EVAL_METRICS;
    const known = reported.some((m) => evalMetricValue({ [m]: 0 }, metricName) !== undefined);
    if (!known) {
      throw invalid(
        `metric_for_best_model '${settings.metric_for_best_model}' is not reported for this task ` +
          `(available: ${reported.map((m) => m.replace(/^eval_/, "")).join(", ")})`,
        { path: "metric_for_best_model" },
      );
    }
  }
  let groups: Map<string, ParamGroup>;
  try {
    groups = buildParamGroups(paramNames, {
      ...paramGroupOptionsFrom(settings, numLayers),
      layerOf: taskInfo.layerOf,
    });
  } catch (error) {
    throw invalid(`hyperparameters: ${(error as Error).message}`);
  }
  if (groups.size === 0) throw invalid("hyperparameters freeze every parameter: nothing would train");
  return {
    optimizer: optimizerSpecFrom(settings),
    schedule: scheduleSpecFrom(settings, totalSteps),
    groups,
    unfreeze: unfreezePlanFrom(settings, numLayers, stepsPerEpoch),
    plateau,
    earlyStopping,
    bestMetric: { name: metricName, greaterIsBetter: greaterIsBetter(settings) },
    maxGradValue: settings.max_grad_value,
    labelSmoothing: settings.label_smoothing,
    accumulation,
    stepsPerEpoch,
    totalSteps,
  };
}

/** transformers' EarlyStoppingCallback: stop after `patience` evaluations without a big enough improvement. */
export class EarlyStopping {
  #best: number | null = null;
  #badEvals = 0;

  constructor(
    private readonly patience: number,
    private readonly threshold: number,
    private readonly greaterIsBetter: boolean,
  ) {}

  /** Records one eval value; true when training should stop. */
  update(value: number): boolean {
    const better = this.#best === null ||
      ((this.greaterIsBetter ? value > this.#best : value < this.#best) &&
        Math.abs(value - this.#best) > this.threshold);
    if (better) {
      this.#best = value;
      this.#badEvals = 0;
    } else {
      this.#badEvals++;
    }
    return this.#badEvals >= this.patience;
  }
}
