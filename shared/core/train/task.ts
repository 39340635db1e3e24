/**
 * What the generic training loop needs from a task (sequence classification, masked LM, and later regression,
 * token classification, QA, causal LM): the model's parameters by Hugging Face name, how many encoder layers
 * it has (for layer-wise LR, freezing and gradual unfreezing), the loss of one micro-batch of examples, and a
 * held-out evaluation. Examples are whatever the task prepared (token ids, labels, masks); the loop only
 * shuffles and slices them. Everything here is pure tfjs: no I/O.
 */
import type * as tf from "@tensorflow/tfjs";

export interface TrainingTask<Example> {
  /** Every parameter by its HF checkpoint name (frozen ones included: the loop decides what trains). */
  readonly params: Map<string, tf.Variable>;
  /** Encoder layers, for layer-wise LR decay, freezing and gradual unfreezing. */
  readonly numLayers: number;
  /**
   * The layer index of a parameter (0 = embeddings, 1..numLayers = layers, numLayers + 1 = head) for models
   * whose names the encoder patterns do not cover (GPT-2 `transformer.h.N`, T5 `encoder.block.N`, ...).
   */
  layerOf?(name: string): number;
  /** Evaluation metrics this task reports (for metric_for_best_model checks); default eval_loss/accuracy/macro_f1. */
  readonly metricNames?: readonly string[];
  /**
   * Mean loss of one micro-batch as a scalar, built inside the caller's gradient tape. `seed` seeds this
   * micro-batch's dropout masks and any random choice the task makes per batch (e.g. MLM masking), so a
   * resumed run draws exactly what an uninterrupted one would.
   */
  loss(examples: Example[], options: { training: boolean; seed: number; labelSmoothing: number }): tf.Scalar;
  /** Metrics on held-out examples (always including `eval_loss`). */
  evaluate(
    examples: Example[],
    options: { batchSize: number; labelSmoothing: number },
  ): Promise<Record<string, number>>;
}
