/**
 * The job spec's `hyperparameters`: every training setting a user can give, with its default and its valid
 * range, validated by zod at job creation (a 400 names the field) and again by the runner. The core settings
 * are here; the optimisation settings (optimizer, schedule, layer-wise LR, freezing, gradual unfreezing,
 * plateau, early stopping, clipping by value, label smoothing, accumulation) are defined beside the code that
 * uses them (shared/core/train/hyperparameter_fields.ts) and spread in, so a default lives in one place.
 */
import { z } from "zod";
import { optimizationFields, optimizationIssues } from "../core/train/hyperparameter_fields.ts";

export const hyperparametersSchema = z.object({
  learning_rate: z.number().positive().max(1).default(5e-5),
  epochs: z.number().int().min(1).max(1000).default(3),
  batch_size: z.number().int().min(1).max(4096).default(8),
  max_seq_length: z.number().int().min(8).max(4096).default(128),
  warmup_ratio: z.number().min(0).max(1).default(0.1),
  weight_decay: z.number().min(0).max(1).default(0.01),
  max_grad_norm: z.number().positive().nullable().default(1.0),
  seed: z.number().int().min(0).max(2 ** 31 - 1).default(42),
  hidden_dropout: z.number().min(0).max(0.95).optional(),
  attention_dropout: z.number().min(0).max(0.95).optional(),
  classifier_dropout: z.number().min(0).max(0.95).optional(),
  /** Evaluate on the held-out set every N optimizer steps (in addition to every epoch end); null = epochs only. */
  eval_steps: z.number().int().positive().nullable().default(null),
  /** masked-lm: share of tokens selected for prediction (of those 80% [MASK], 10% random, 10% unchanged). */
  mlm_probability: z.number().gt(0).lt(1).default(0.15),
  ...optimizationFields,
}).strict().superRefine((h, ctx) => {
  for (const issue of optimizationIssues(h)) {
    ctx.addIssue({ code: "custom", path: [issue.path], message: issue.message });
  }
});

export type Hyperparameters = z.infer<typeof hyperparametersSchema>;
