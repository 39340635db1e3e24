/**
 * Held-out evaluation of a sequence-head model on already-tokenized rows, in eval mode (no dropout), in
 * length-sorted batches with every tensor disposed: `sequenceLogits` collects each row's logits in row order
 * and `evaluateSingleLabel` turns them into the single-label numbers HF's Trainer reports with an
 * sklearn-style compute_metrics (eval_loss = the training loss, class weights and label smoothing included;
 * accuracy; macro / micro / weighted F1; MCC) plus the non-scalar report (per-class P/R/F1/support and the
 * confusion matrix). Also the softmax cross-entropy loss itself, with transformers' label smoothing and
 * torch's CrossEntropyLoss(weight=…) class weighting.
 */
import * as tf from "@tensorflow/tfjs";
import { batchTensors } from "../infer.ts";
import { classificationReport, type PrfSupport } from "../metrics/classification.ts";
import type { SequenceClassifier } from "../model/classifier.ts";
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import { accuracy, argmaxRows, macroF1 } from "./metrics.ts";

export interface TokenizedRow {
  ids: number[];
  typeIds: number[];
}

/**
 * Mean softmax cross-entropy of logits [B, C] against integer labels [B]. With label smoothing ε it is
 * transformers' LabelSmoother: (1 − ε)·NLL + ε·mean over classes of −log p. With `classWeights` w it is
 * torch's CrossEntropyLoss(weight=w, label_smoothing=ε): (1 − ε)·Σᵢ w_yᵢ·nllᵢ / Σᵢ w_yᵢ +
 * (ε / C)·Σᵢ Σ_c w_c·(−log pᵢc) / Σᵢ w_yᵢ.
 */
export function crossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  labelSmoothing = 0,
  classWeights?: readonly number[],
): tf.Scalar {
  return tf.tidy(() => {
    const numClasses = logits.shape[1];
    const logProbs = tf.logSoftmax(logits, -1);
    const nllRows = tf.neg(tf.sum(tf.mul(logProbs, tf.oneHot(labels, numClasses)), -1));
    if (classWeights === undefined) {
      const nll = tf.mean(nllRows);
      if (labelSmoothing <= 0) return nll as tf.Scalar;
      const smoothed = tf.neg(tf.mean(tf.mean(logProbs, -1)));
      return tf.add(tf.mul(nll, 1 - labelSmoothing), tf.mul(smoothed, labelSmoothing)) as tf.Scalar;
    }
    const weights = tf.tensor1d([...classWeights]);
    const rowWeights = tf.gather(weights, labels);
    const total = tf.sum(rowWeights);
    const nll = tf.div(tf.sum(tf.mul(rowWeights, nllRows)), total);
    if (labelSmoothing <= 0) return nll as tf.Scalar;
    const smoothed = tf.div(tf.neg(tf.sum(tf.mul(logProbs, weights))), total);
    return tf.add(
      tf.mul(nll, 1 - labelSmoothing),
      tf.mul(smoothed, labelSmoothing / numClasses),
    ) as tf.Scalar;
  });
}

/** Each row's sequence-head logits (eval mode), in row order; batches of similar length pad less. */
export async function sequenceLogits(
  model: SequenceClassifier,
  tokenizer: TextTokenizer,
  rows: TokenizedRow[],
  batchSize: number,
): Promise<number[][]> {
  const order = rows.map((_, i) => i).sort((a, b) => rows[a].ids.length - rows[b].ids.length);
  const out = new Array<number[]>(rows.length);
  const width = model.numLabels;
  for (let start = 0; start < order.length; start += batchSize) {
    const indices = order.slice(start, start + batchSize);
    const encoded = tokenizer.collate(indices.map((i) => rows[i]));
    const logits = tf.tidy(() => model.forward(batchTensors(encoded), { training: false }));
    const values = await logits.data();
    logits.dispose();
    indices.forEach((row, j) => (out[row] = Array.from(values.subarray(j * width, (j + 1) * width))));
  }
  return out;
}

/** The non-scalar part of a single-label evaluation (labels are class indices 0..numLabels-1). */
export interface SingleLabelReport {
  problemType: "single_label_classification";
  labels: number[];
  perClass: PrfSupport[];
  /** confusionMatrix[gold][predicted]. */
  confusionMatrix: number[][];
}

export interface SingleLabelMetrics {
  eval_loss: number;
  accuracy: number;
  macro_f1: number;
  micro_f1: number;
  weighted_f1: number;
  mcc: number;
}

/** Loss of collected logits against labels (computed once over the whole set, so weighting is exact). */
function lossOf(
  logits: number[][],
  labels: number[],
  numLabels: number,
  labelSmoothing: number,
  classWeights?: readonly number[],
): number {
  if (logits.length === 0) return 0;
  return tf.tidy(() =>
    crossEntropy(
      tf.tensor2d(logits, [logits.length, numLabels]),
      tf.tensor1d(labels, "int32"),
      labelSmoothing,
      classWeights,
    ).dataSync()[0]
  );
}

/** Single-label metrics (see module comment) and the per-class report. */
export function singleLabelMetrics(
  logits: number[][],
  labels: number[],
  numLabels: number,
  options: { labelSmoothing?: number; classWeights?: readonly number[] } = {},
): { metrics: SingleLabelMetrics; report: SingleLabelReport } {
  const predictions = argmaxRows(logits);
  const classes = Array.from({ length: numLabels }, (_, i) => i);
  const report = classificationReport(predictions, labels, classes);
  return {
    metrics: {
      eval_loss: lossOf(logits, labels, numLabels, options.labelSmoothing ?? 0, options.classWeights),
      accuracy: accuracy(predictions, labels),
      macro_f1: macroF1(predictions, labels, numLabels),
      micro_f1: report.micro.f1,
      weighted_f1: report.weighted.f1,
      mcc: report.mcc,
    },
    report: {
      problemType: "single_label_classification",
      labels: classes,
      perClass: report.perClass,
      confusionMatrix: report.confusionMatrix,
    },
  };
}

export async function evaluateSingleLabel(
  model: SequenceClassifier,
  tokenizer: TextTokenizer,
  rows: TokenizedRow[],
  labels: number[],
  batchSize: number,
  options: { labelSmoothing?: number; classWeights?: readonly number[] } = {},
): Promise<{ metrics: SingleLabelMetrics; report: SingleLabelReport }> {
  const logits = await sequenceLogits(model, tokenizer, rows, batchSize);
  return singleLabelMetrics(logits, labels, model.numLabels, options);
}

/** The scalar single-label metrics (eval_loss, accuracy, macro_f1, micro_f1, weighted_f1, mcc). */
export async function evaluateClassifier(
  model: SequenceClassifier,
  tokenizer: TextTokenizer,
  rows: TokenizedRow[],
  labels: number[],
  batchSize: number,
  labelSmoothing = 0,
): Promise<SingleLabelMetrics> {
  return (await evaluateSingleLabel(model, tokenizer, rows, labels, batchSize, { labelSmoothing })).metrics;
}
