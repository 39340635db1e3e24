/**
 * The sequence-level tasks of a sequence-head model, as transformers' *ForSequenceClassification runs them by
 * `problem_type`: single-label classification (softmax cross-entropy, optional torch-style class weights and
 * label smoothing), multi-label classification (sigmoid + BCE-with-logits, mean over labels and rows; class
 * weights multiply each label column's loss, torch's BCEWithLogitsLoss(weight=…) — no pos_weight; labels
 * predicted at `score ≥ threshold`), and regression (one output, MSE). Label smoothing applies to
 * single-label only (transformers' LabelSmoother assumes softmax). Builds the TrainingTask for trainer.ts,
 * whose evaluation returns the scalar metrics and keeps each evaluation's non-scalar report.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import {
  crossEntropy,
  sequenceLogits,
  singleLabelMetrics,
  type SingleLabelReport,
  type TokenizedRow,
} from "../eval/evaluate.ts";
import { batchTensors } from "../infer.ts";
export { tokenizeTexts, usesTokenTypes } from "../infer.ts";
import { multiLabelReport, type PrfSupport } from "../metrics/classification.ts";
import { regressionReport } from "../metrics/regression.ts";
import type { DropoutRates, SequenceClassifier } from "../model/classifier.ts";
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import type { TrainingTask } from "./task.ts";

export type ProblemType = "single_label_classification" | "multi_label_classification" | "regression";
export const PROBLEM_TYPES: readonly ProblemType[] = [
  "single_label_classification",
  "multi_label_classification",
  "regression",
];

/** Metric names each problem type's evaluation reports (for metric_for_best_model). */
export const SEQUENCE_EVAL_METRICS: Record<ProblemType, readonly string[]> = {
  single_label_classification: ["eval_loss", "accuracy", "macro_f1", "micro_f1", "weighted_f1", "mcc"],
  multi_label_classification: [
    "eval_loss",
    "micro_f1",
    "macro_f1",
    "weighted_f1",
    "subset_accuracy",
    "hamming_loss",
  ],
  regression: ["eval_loss", "mse", "mae", "pearson", "spearman", "r2"],
};

/** One tokenized example: `label` (single-label), `multiHot` (multi-label, 0/1 per label) or `target`. */
export interface SequenceExample {
  row: TokenizedRow;
  label: number;
  multiHot?: number[];
  target?: number;
}

export interface MultiLabelEvalReport {
  problemType: "multi_label_classification";
  threshold: number;
  perLabel: PrfSupport[];
}

/** The non-scalar part of an evaluation (null for regression: all its metrics are scalars). */
export type SequenceReport = SingleLabelReport | MultiLabelEvalReport | null;

export interface SequenceTaskOptions {
  problemType: ProblemType;
  dropout: DropoutRates;
  /** Per class (single-label) or per label column (multi-label). */
  classWeights?: readonly number[];
  /** Multi-label decision threshold on sigmoid probabilities (default 0.5). */
  threshold?: number;
}

/**
 * Mean BCE-with-logits over all cells of logits [B, K] and 0/1 targets [B, K] (torch's numerically stable
 * max(x, 0) − x·y + log(1 + e^−|x|)); `labelWeights` [K] multiplies each column before the mean.
 */
export function bceWithLogits(
  logits: tf.Tensor2D,
  targets: tf.Tensor2D,
  labelWeights?: readonly number[],
): tf.Scalar {
  return tf.tidy(() => {
    const cells = tf.add(
      tf.sub(tf.relu(logits), tf.mul(logits, targets)),
      tf.log1p(tf.exp(tf.neg(tf.abs(logits)))),
    );
    const weighted = labelWeights ? tf.mul(cells, tf.tensor2d([[...labelWeights]])) : cells;
    return tf.mean(weighted) as tf.Scalar;
  });
}

/** Mean squared error of a one-output head [B, 1] against targets [B] (HF: MSELoss on squeezed logits). */
export function mseLoss(predictions: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.square(tf.sub(tf.reshape(predictions, [-1]), targets))) as tf.Scalar);
}

/** The loss of logits [B, numLabels] for `examples` under the task's problem type. */
export function sequenceLoss(
  logits: tf.Tensor2D,
  examples: readonly SequenceExample[],
  options: { problemType: ProblemType; labelSmoothing: number; classWeights?: readonly number[] },
): tf.Scalar {
  return tf.tidy(() => {
    switch (options.problemType) {
      case "single_label_classification":
        return crossEntropy(
          logits,
          tf.tensor1d(examples.map((e) => e.label), "int32"),
          options.labelSmoothing,
          options.classWeights,
        );
      case "multi_label_classification":
        return bceWithLogits(
          logits,
          tf.tensor2d(examples.map((e) => e.multiHot!), [examples.length, logits.shape[1]]),
          options.classWeights,
        );
      case "regression":
        return mseLoss(logits, tf.tensor1d(examples.map((e) => e.target!)));
    }
  });
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** scipy's NaN (constant input) is reported as 0 so the metric stays a finite number for events and JSON. */
const finite = (x: number) => (Number.isFinite(x) ? x : 0);

/** Scalar metrics (SEQUENCE_EVAL_METRICS) and report of collected logits. */
export function sequenceMetrics(
  logits: number[][],
  examples: readonly SequenceExample[],
  numLabels: number,
  options: {
    problemType: ProblemType;
    labelSmoothing: number;
    classWeights?: readonly number[];
    threshold?: number;
  },
): { metrics: Record<string, number>; report: SequenceReport } {
  if (options.problemType === "single_label_classification") {
    const { metrics, report } = singleLabelMetrics(logits, examples.map((e) => e.label), numLabels, options);
    return { metrics: { ...metrics }, report };
  }
  const evalLoss = examples.length === 0
    ? 0
    : tf.tidy(() =>
      sequenceLoss(tf.tensor2d(logits, [logits.length, numLabels]), examples, options).dataSync()[0]
    );
  if (options.problemType === "multi_label_classification") {
    const threshold = options.threshold ?? 0.5;
    const r = multiLabelReport(
      logits.map((row) => row.map(sigmoid)),
      examples.map((e) => e.multiHot!),
      threshold,
    );
    return {
      metrics: {
        eval_loss: evalLoss,
        micro_f1: r.micro.f1,
        macro_f1: r.macro.f1,
        weighted_f1: r.weighted.f1,
        subset_accuracy: finite(r.subsetAccuracy),
        hamming_loss: finite(r.hammingLoss),
      },
      report: { problemType: "multi_label_classification", threshold, perLabel: r.perLabel },
    };
  }
  const predictions = logits.map((row) => row[0]);
  const targets = examples.map((e) => e.target!);
  const r = examples.length === 0 ? null : regressionReport(predictions, targets);
  return {
    metrics: {
      eval_loss: evalLoss,
      mse: r?.mse ?? 0,
      mae: r?.mae ?? 0,
      pearson: finite(r?.pearson ?? 0),
      spearman: finite(r?.spearman ?? 0),
      r2: finite(r?.r2 ?? 0),
    },
    report: null,
  };
}

/** A sequence-head model and a problem type as a TrainingTask; `reports` collects each evaluation. */
export function sequenceTask(
  model: SequenceClassifier,
  tokenizer: TextTokenizer,
  options: SequenceTaskOptions,
): TrainingTask<SequenceExample> & {
  reports: { metrics: Record<string, number>; report: SequenceReport }[];
} {
  if (model.head !== "sequence") {
    throw new ApiError(400, "invalid_request", `a ${model.head} head cannot be trained on sequence labels`);
  }
  const reports: { metrics: Record<string, number>; report: SequenceReport }[] = [];
  return {
    // Fixed tensors (DistilBERT's sinusoidal positions) are parameters of the checkpoint, never trained.
    params: new Map([...model.params].filter(([name]) => !model.fixedParams.has(name))),
    numLayers: model.numLayers,
    metricNames: SEQUENCE_EVAL_METRICS[options.problemType],
    reports,
    loss(examples, { training, seed, labelSmoothing }) {
      const encoded = tokenizer.collate(examples.map((e) => e.row));
      return tf.tidy(() => {
        const logits = model.forward(batchTensors(encoded), { training, seed, dropout: options.dropout });
        return sequenceLoss(logits, examples, { ...options, labelSmoothing });
      });
    },
    async evaluate(examples, { batchSize, labelSmoothing }) {
      const logits = await sequenceLogits(model, tokenizer, examples.map((e) => e.row), batchSize);
      const result = sequenceMetrics(logits, examples, model.numLabels, { ...options, labelSmoothing });
      reports.push(result);
      return result.metrics;
    },
  };
}
