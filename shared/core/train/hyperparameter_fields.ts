/**
 * The optimization settings a job may give, as zod fields ready to spread into hyperparametersSchema
 * (`z.object({ ...existing, ...optimizationFields }).strict()`), named after transformers' TrainingArguments
 * where one exists, with defaults and ranges; `optimizationIssues` lists cross-field problems for a
 * superRefine (so they become a 400 naming the field). The converters turn the parsed settings into the
 * specs of optimizers.ts, schedules.ts and param_groups.ts, so the fine-tune loop never re-derives defaults.
 * learning_rate, warmup_ratio, weight_decay and max_grad_norm stay in the lead's schema and are only read here.
 */
import { z } from "zod";
import type { OptimizerSpec } from "./optimizers.ts";
import type { GradualUnfreezePlan, ParamGroupOptions } from "./param_groups.ts";
import { type ReduceOnPlateauOptions, resolveWarmupSteps, type ScheduleSpec } from "./schedules.ts";

/** Group keys for lr_multipliers / lr_overrides: "embeddings", "encoder", "layer.N", "head". */
const groupKey = z.string().regex(/^(embeddings|encoder|head|layer\.(0|[1-9]\d{0,2}))$/, {
  message: 'group must be "embeddings", "encoder", "layer.N" or "head"',
});

export const lrSchedulerTypes = [
  "linear",
  "cosine",
  "cosine_with_restarts",
  "cosine_with_min_lr",
  "polynomial",
  "constant",
  "constant_with_warmup",
  "inverse_sqrt",
  "exponential",
  "cyclic",
  "reduce_lr_on_plateau",
] as const;

export const optimizationFields = {
  optimizer: z.enum(["adamw", "lamb", "sgd"]).default("adamw"),
  adam_beta1: z.number().min(0).lt(1).default(0.9),
  adam_beta2: z.number().min(0).lt(1).default(0.999),
  /** Also LAMB's epsilon. */
  adam_epsilon: z.number().min(0).max(1).default(1e-8),
  sgd_momentum: z.number().min(0).lt(1).default(0.9),
  sgd_nesterov: z.boolean().default(false),
  sgd_dampening: z.number().min(0).max(1).default(0),

  lr_scheduler_type: z.enum(lrSchedulerTypes).default("linear"),
  /** Warm-up in optimizer steps; when > 0 it wins over warmup_ratio (as transformers). */
  warmup_steps: z.number().int().min(0).max(10_000_000).default(0),
  /** Cosine cycles: null = 0.5 (half cosine) for cosine, 1 for cosine_with_restarts. */
  num_cycles: z.number().positive().max(1000).nullable().default(null),
  /** cosine/cosine_with_min_lr/cosine_with_restarts: the LR never goes below learning_rate · min_lr_ratio. */
  min_lr_ratio: z.number().min(0).max(1).default(0),
  /** polynomial: decay power and final LR (transformers' defaults). */
  power: z.number().positive().max(100).default(1),
  lr_end: z.number().min(0).max(1).default(1e-7),
  /** exponential: LR factor per optimizer step after warm-up; cyclic exp_range: per-step amplitude factor. */
  gamma: z.number().gt(0).max(1).default(0.999),
  /** cyclic (torch CyclicLR): LR cycles between cyclic_min_lr (null = learning_rate / 10) and learning_rate. */
  cyclic_min_lr: z.number().min(0).max(1).nullable().default(null),
  cyclic_step_size_up: z.number().int().min(1).max(10_000_000).default(2000),
  cyclic_step_size_down: z.number().int().min(1).max(10_000_000).nullable().default(null),
  cyclic_mode: z.enum(["triangular", "triangular2", "exp_range"]).default("triangular"),
  /** inverse_sqrt: null = warm-up steps, or 10 000 without warm-up. */
  inverse_sqrt_timescale: z.number().int().min(1).nullable().default(null),

  /** Eval metric that drives reduce_lr_on_plateau, early stopping and the best checkpoint. */
  metric_for_best_model: z.string().min(1).max(64).default("loss"),
  /** null = false for metrics containing "loss", true otherwise (as transformers). */
  greater_is_better: z.boolean().nullable().default(null),
  /** reduce_lr_on_plateau (torch ReduceLROnPlateau, counted in evaluations). */
  plateau_factor: z.number().gt(0).lt(1).default(0.1),
  plateau_patience: z.number().int().min(0).max(10_000).default(10),
  plateau_threshold: z.number().min(0).default(1e-4),
  plateau_threshold_mode: z.enum(["rel", "abs"]).default("rel"),
  plateau_cooldown: z.number().int().min(0).max(10_000).default(0),
  plateau_min_lr: z.number().min(0).max(1).default(0),
  /** Stop after this many evaluations without improvement; null = never stop early. */
  early_stopping_patience: z.number().int().min(1).max(10_000).nullable().default(null),
  early_stopping_threshold: z.number().min(0).default(0),
  /** Keep the weights of the best evaluation (by metric_for_best_model) as the fine-tuned model (as HF). */
  load_best_model_at_end: z.boolean().default(false),

  /** Layer-wise LR decay: top encoder layer and head at learning_rate, each layer below × this. 1 = off. */
  layer_lr_decay: z.number().gt(0).max(1).default(1),
  /** Group → LR multiplier (replaces the layer decay of that group). */
  lr_multipliers: z.record(groupKey, z.number().min(0).max(1000)).nullable().default(null),
  /** Group → absolute peak LR (follows the schedule's shape). A group may not be in both maps. */
  lr_overrides: z.record(groupKey, z.number().min(0).max(1)).nullable().default(null),
  freeze_embeddings: z.boolean().default(false),
  /** Freeze the first N encoder layers. */
  freeze_layers: z.number().int().min(0).max(1000).default(0),
  /** Freeze embeddings and all encoder layers (train the head only). */
  freeze_encoder: z.boolean().default(false),
  /** ULMFiT gradual unfreezing: head first, one more layer group from the top every `interval` units. */
  gradual_unfreezing: z.object({
    interval: z.number().int().min(1).max(10_000_000).default(1),
    unit: z.enum(["epoch", "steps"]).default("epoch"),
    initial_groups: z.number().int().min(1).max(1000).default(1),
  }).strict().nullable().default(null),

  /** Clip every gradient element to [-v, v] (after max_grad_norm clipping); null = off. */
  max_grad_value: z.number().positive().nullable().default(null),
  label_smoothing: z.number().min(0).lt(1).default(0),
  gradient_accumulation_steps: z.number().int().min(1).max(1024).default(1),
};

const optimizationSchema = z.object(optimizationFields);

/** The parsed settings the converters read: these fields plus the lead's LR, warm-up ratio and weight decay. */
export type OptimizationSettings = z.infer<typeof optimizationSchema> & {
  learning_rate: number;
  warmup_ratio: number;
  weight_decay: number;
};

/** Cross-field problems as { path, message } for a superRefine; empty when the settings are consistent. */
export function optimizationIssues(h: OptimizationSettings): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  if (h.optimizer === "sgd" && h.sgd_nesterov && (h.sgd_momentum <= 0 || h.sgd_dampening !== 0)) {
    issues.push({
      path: "sgd_nesterov",
      message: "Nesterov momentum needs sgd_momentum > 0 and sgd_dampening 0",
    });
  }
  if (h.lr_scheduler_type === "polynomial" && h.lr_end >= h.learning_rate) {
    issues.push({ path: "lr_end", message: `lr_end must be below learning_rate (${h.learning_rate})` });
  }
  if (h.lr_scheduler_type === "cyclic" && h.cyclic_min_lr !== null && h.cyclic_min_lr > h.learning_rate) {
    issues.push({ path: "cyclic_min_lr", message: "cyclic_min_lr must not exceed learning_rate" });
  }
  for (const key of Object.keys(h.lr_overrides ?? {})) {
    if (h.lr_multipliers && key in h.lr_multipliers) {
      issues.push({ path: "lr_overrides", message: `group "${key}" is also in lr_multipliers` });
    }
  }
  return issues;
}

/** The problems that need the model's encoder layer count (known once the base model's config is read). */
export function layerIssues(h: OptimizationSettings, numLayers: number): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  if (h.freeze_layers > numLayers) {
    issues.push({ path: "freeze_layers", message: `the model has ${numLayers} encoder layers` });
  }
  for (const field of ["lr_multipliers", "lr_overrides"] as const) {
    for (const key of Object.keys(h[field] ?? {})) {
      const m = /^layer\.(\d+)$/.exec(key);
      if (m && Number(m[1]) >= numLayers) {
        issues.push({
          path: field,
          message: `"${key}": the model has layers layer.0..layer.${numLayers - 1}`,
        });
      }
    }
  }
  return issues;
}

export function optimizerSpecFrom(h: OptimizationSettings): OptimizerSpec {
  switch (h.optimizer) {
    case "adamw":
    case "lamb":
      return { name: h.optimizer, beta1: h.adam_beta1, beta2: h.adam_beta2, epsilon: h.adam_epsilon };
    case "sgd":
      return { name: "sgd", momentum: h.sgd_momentum, nesterov: h.sgd_nesterov, dampening: h.sgd_dampening };
  }
}

/** The schedule for a run of totalSteps optimizer steps (warm-up resolved from warmup_steps/warmup_ratio). */
export function scheduleSpecFrom(h: OptimizationSettings, totalSteps: number): ScheduleSpec {
  const warmupSteps = resolveWarmupSteps(totalSteps, h);
  const cycles = h.num_cycles ?? undefined;
  switch (h.lr_scheduler_type) {
    case "linear":
    case "constant_with_warmup":
      return { name: h.lr_scheduler_type, warmupSteps };
    case "constant": // as transformers: no warm-up even when warmup_ratio is set
      return { name: "constant" };
    case "reduce_lr_on_plateau":
      return { name: "constant_with_warmup", warmupSteps };
    case "cosine":
    case "cosine_with_min_lr":
      return { name: "cosine", warmupSteps, numCycles: cycles, minLrRatio: h.min_lr_ratio };
    case "cosine_with_restarts":
      return {
        name: "cosine",
        warmupSteps,
        numCycles: cycles,
        hardRestarts: true,
        minLrRatio: h.min_lr_ratio,
      };
    case "polynomial":
      return { name: "polynomial", warmupSteps, power: h.power, lrEnd: h.lr_end };
    case "inverse_sqrt":
      return { name: "inverse_sqrt", warmupSteps, timescale: h.inverse_sqrt_timescale ?? undefined };
    case "exponential":
      return { name: "exponential", warmupSteps, gamma: h.gamma };
    case "cyclic":
      return {
        name: "cyclic",
        minLr: h.cyclic_min_lr ?? h.learning_rate / 10,
        stepSizeUp: h.cyclic_step_size_up,
        stepSizeDown: h.cyclic_step_size_down ?? undefined,
        mode: h.cyclic_mode,
        gamma: h.gamma,
      };
  }
}

/**
 * Whether greater metric values are better: transformers' rule when greater_is_better is null (losses are
 * lower-is-better), extended to the other lower-is-better metrics the tasks report (perplexity, mse, mae).
 */
export function greaterIsBetter(h: OptimizationSettings): boolean {
  return h.greater_is_better ?? !/loss|perplexity|mse|mae/.test(h.metric_for_best_model);
}

/** ReduceOnPlateau options when lr_scheduler_type is reduce_lr_on_plateau, else null. */
export function plateauOptionsFrom(h: OptimizationSettings): ReduceOnPlateauOptions | null {
  if (h.lr_scheduler_type !== "reduce_lr_on_plateau") return null;
  return {
    mode: greaterIsBetter(h) ? "max" : "min",
    factor: h.plateau_factor,
    patience: h.plateau_patience,
    threshold: h.plateau_threshold,
    thresholdMode: h.plateau_threshold_mode,
    cooldown: h.plateau_cooldown,
    minLr: h.plateau_min_lr,
  };
}

export function paramGroupOptionsFrom(h: OptimizationSettings, numLayers: number): ParamGroupOptions {
  return {
    weightDecay: h.weight_decay,
    layerLrDecay: h.layer_lr_decay,
    numLayers,
    lrMultipliers: h.lr_multipliers ?? undefined,
    lrOverrides: h.lr_overrides ?? undefined,
    baseLr: h.learning_rate,
    freezeEmbeddings: h.freeze_embeddings,
    freezeLayers: h.freeze_layers,
    freezeEncoder: h.freeze_encoder,
  };
}

/**
 * The gradual-unfreezing plan with its interval in optimizer steps (epochs × stepsPerEpoch), so the loop
 * always passes its optimizer step as the clock; null when gradual unfreezing is off.
 */
export function unfreezePlanFrom(
  h: OptimizationSettings,
  numLayers: number,
  stepsPerEpoch: number,
): GradualUnfreezePlan | null {
  const g = h.gradual_unfreezing;
  if (g === null) return null;
  const interval = g.unit === "epoch" ? g.interval * stepsPerEpoch : g.interval;
  return { numLayers, interval, initialGroups: g.initial_groups };
}
