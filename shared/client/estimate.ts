/**
 * The shape of a job plan (`POST /v1/jobs` with `"dry_run": true`): examples, steps, tokens, parameters,
 * memory, FLOPs and the expected time per measured backend. One zod schema shared by the edge route that
 * answers it (edge/routes/job_estimate.ts), the OpenAPI document and the typed client.
 */
import { z } from "zod";

export const jobEstimateSchema = z.object({
  object: z.literal("fine_tuning.job.estimate"),
  dry_run: z.literal(true),
  task: z.string(),
  base_model: z.string(),
  training_dataset: z.string(),
  examples: z.object({ train: z.number().int(), validation: z.number().int() }),
  epochs: z.number().int(),
  batch_size: z.number().int(),
  gradient_accumulation_steps: z.number().int(),
  steps_per_epoch: z.number().int(),
  total_steps: z.number().int(),
  evaluations: z.number().int(),
  tokens: z.object({
    max_seq_length: z.number().int(),
    per_example_p50: z.number().int(),
    per_example_p90: z.number().int(),
    /** Tokens the training passes process (all epochs), counted at the padded batch length. */
    train_total: z.number().int(),
  }),
  parameters: z.object({ total: z.number().int(), trainable: z.number().int(), frozen: z.number().int() }),
  memory: z.object({
    weights_bytes: z.number().int(),
    gradients_bytes: z.number().int(),
    optimizer_bytes: z.number().int(),
    activations_bytes: z.number().int(),
    peak_bytes: z.number().int(),
  }),
  flops: z.object({ train: z.number(), eval: z.number() }),
  /** Expected wall time per backend this installation measured (calibration of this process). */
  time: z.array(z.object({
    backend: z.string(),
    source: z.literal("calibration"),
    seconds: z.number(),
    train_flops_per_second: z.number(),
    step_overhead_seconds: z.number(),
  })),
  estimated_seconds: z.number(),
});
export type JobEstimate = z.infer<typeof jobEstimateSchema>;
