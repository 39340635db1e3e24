/**
 * Held-out evaluation of a sequence classifier on already-tokenized rows: mean cross-entropy (eval_loss),
 * accuracy and macro-F1, in eval mode (no dropout), in length-sorted batches with every tensor disposed.
 * The training loop calls it at each epoch end and every `eval_steps`; the numbers are the ones HF's Trainer
 * reports.
 */
import * as tf from "@tensorflow/tfjs";
import { batchTensors } from "../infer.ts";
import type { SequenceClassifier } from "../model/classifier.ts";
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import { accuracy, macroF1 } from "./metrics.ts";

export interface TokenizedRow {
  ids: number[];
  typeIds: number[];
}

/**
 * Mean softmax cross-entropy of logits [B, C] against integer labels [B]. With label smoothing ε it is
 * transformers' LabelSmoother: (1 − ε)·NLL + ε·mean over classes of −log p.
 */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, labelSmoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const logProbs = tf.logSoftmax(logits, -1);
    const nll = tf.neg(tf.mean(tf.sum(tf.mul(logProbs, tf.oneHot(labels, logits.shape[1])), -1)));
    if (labelSmoothing <= 0) return nll as tf.Scalar;
    const smoothed = tf.neg(tf.mean(tf.mean(logProbs, -1)));
    return tf.add(tf.mul(nll, 1 - labelSmoothing), tf.mul(smoothed, labelSmoothing)) as tf.Scalar;
  });
}

export async function evaluateClassifier(
  model: SequenceClassifier,
  tokenizer: TextTokenizer,
  rows: TokenizedRow[],
  labels: number[],
  batchSize: number,
  labelSmoothing = 0,
): Promise<{ eval_loss: number; accuracy: number; macro_f1: number }> {
  // Batches of similar length pad less; metrics do not depend on the order.
  const order = rows.map((_, i) => i).sort((a, b) => rows[a].ids.length - rows[b].ids.length);
  const predictions = new Array<number>(rows.length);
  let lossSum = 0;
  for (let start = 0; start < order.length; start += batchSize) {
    const indices = order.slice(start, start + batchSize);
    const encoded = tokenizer.collate(indices.map((i) => rows[i]));
    const gold = indices.map((i) => labels[i]);
    const [lossTensor, predTensor] = tf.tidy(() => {
      const logits = model.forward(batchTensors(encoded), { training: false });
      const loss = tf.mul(crossEntropy(logits, tf.tensor1d(gold, "int32"), labelSmoothing), gold.length);
      return [loss, tf.argMax(logits, -1)];
    });
    lossSum += (await lossTensor.data())[0];
    const predicted = await predTensor.data();
    indices.forEach((row, j) => (predictions[row] = predicted[j]));
    lossTensor.dispose();
    predTensor.dispose();
  }
  const n = Math.max(1, rows.length);
  return {
    eval_loss: lossSum / n,
    accuracy: accuracy(predictions, labels),
    macro_f1: macroF1(predictions, labels, model.numLabels),
  };
}
