/**
 * Fine-tuning for extractive question answering, as run_qa.py: examples become doc-stride windows
 * (tasks/qa_features.ts) labelled with the answer's start/end token or [CLS]; the model's span head gives
 * [B*S, 2] logits (start, end) and the loss is (CE(start) + CE(end)) / 2 as BertForQuestionAnswering
 * computes it — over the real tokens of each row (padding is masked out, so the loss does not depend on how
 * a batch was padded) and without label smoothing (HF's Trainer never smooths QA's start/end positions).
 * Evaluation reports eval_loss and SQuAD exact_match / f1 (0–100): for each held-out example the n-best
 * search runs over every window (spans start ≤ end over context tokens, at most maxAnswerLength tokens,
 * ranked by start + end logit, run_qa's postprocess_qa_predictions) and the best span's text is scored
 * against all gold answers with the official v1.1 metric. The generic trainer does everything else.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import type { Hyperparameters } from "../../schemas/hyperparameters.ts";
import { batchTensors } from "../infer.ts";
import { squadEvaluate } from "../metrics/squad.ts";
import type { DropoutRates, SequenceClassifier } from "../model/classifier.ts";
import { prepareQaFeatures, type QaFeature } from "../tasks/qa_features.ts";
import { bestSpans, type SpanCandidate } from "../tasks/qa_spans.ts";
import type { QaExample } from "../tasks/squad.ts";
import type { EncodedBatch, TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import type { FineTuneResult } from "./fine_tune.ts";
import type { TrainingTask } from "./task.ts";
import { train, type TrainerInput, type TrainEvent } from "./trainer.ts";

/** One training/evaluation item: a window and the example it came from (its gold answers and context). */
export interface QaTrainingExample {
  feature: QaFeature;
  example: QaExample;
}

/** The metrics evaluate() reports. */
export const QA_METRICS = ["eval_loss", "exact_match", "f1"] as const;

const PAD_LOGIT = -1e4;

/** Mean of (CE(start) + CE(end)) / 2 over the batch; logits [B*S, 2], padding positions masked. */
export function spanLoss(
  logits: tf.Tensor2D,
  encoded: EncodedBatch,
  starts: number[],
  ends: number[],
): tf.Scalar {
  return tf.tidy(() => {
    const { batchSize: b, seqLength: s } = encoded;
    const mask = tf.tensor2d(encoded.attentionMask, [b, s], "int32").toFloat();
    const padding = tf.mul(tf.sub(1, mask), PAD_LOGIT);
    const ce = (column: number, labels: number[]) => {
      const x = tf.add(tf.reshape(tf.slice(logits, [0, column], [b * s, 1]), [b, s]), padding);
      const picked = tf.sum(tf.mul(tf.logSoftmax(x, -1), tf.oneHot(tf.tensor1d(labels, "int32"), s)), -1);
      return tf.neg(tf.mean(picked));
    };
    return tf.div(tf.add(ce(0, starts), ce(1, ends)), 2) as tf.Scalar;
  });
}

/** The [B*S, 2] rows of batch row `r` (its `n` real tokens) as interleaved start/end logits. */
function rowLogits(all: Float32Array, r: number, seqLength: number, n: number): Float32Array {
  return all.slice(r * seqLength * 2, (r * seqLength + n) * 2);
}

/** The best span of one example over its windows' logits (run_qa: highest start + end logit). */
export function bestAnswer(
  windows: { feature: QaFeature; logits: Float32Array }[],
  maxAnswerLength: number,
): SpanCandidate | null {
  let best: SpanCandidate | null = null;
  for (const { feature, logits } of windows) {
    const n = feature.ids.length;
    const start = Array.from({ length: n }, (_, i) => logits[2 * i]);
    const end = Array.from({ length: n }, (_, i) => logits[2 * i + 1]);
    const [top] = bestSpans(start, end, feature.offsets, { maxAnswerLength, nBest: 1 });
    if (top && (!best || top.logit > best.logit)) best = top;
  }
  return best;
}

/** The span model (head "span": forward → [B*S, 2]) as a TrainingTask. */
export function questionAnsweringTask(
  model: SequenceClassifier,
  tokenizer: TextTokenizer,
  dropout: DropoutRates,
  options: { maxAnswerLength?: number } = {},
): TrainingTask<QaTrainingExample> {
  const maxAnswerLength = options.maxAnswerLength ?? 30;
  return {
    params: new Map([...model.params].filter(([name]) => !model.fixedParams.has(name))),
    numLayers: model.numLayers,
    metricNames: QA_METRICS,
    loss(examples, { training, seed }) {
      const encoded = tokenizer.collate(examples.map((e) => e.feature));
      return tf.tidy(() => {
        const logits = model.forward(batchTensors(encoded), { training, seed, dropout });
        const starts = examples.map((e) => e.feature.startPosition);
        const ends = examples.map((e) => e.feature.endPosition);
        return spanLoss(logits, encoded, starts, ends);
      });
    },
    async evaluate(examples, { batchSize }) {
      const order = examples.map((_, i) => i)
        .sort((a, b) => examples[a].feature.ids.length - examples[b].feature.ids.length);
      const byExample = new Map<QaExample, { feature: QaFeature; logits: Float32Array }[]>();
      for (const e of examples) byExample.set(e.example, []);
      let lossSum = 0;
      for (let at = 0; at < order.length; at += batchSize) {
        const batch = order.slice(at, at + batchSize).map((i) => examples[i]);
        const encoded = tokenizer.collate(batch.map((e) => e.feature));
        const [logits, loss] = tf.tidy(() => {
          const out = model.forward(batchTensors(encoded), { training: false });
          const starts = batch.map((e) => e.feature.startPosition);
          const ends = batch.map((e) => e.feature.endPosition);
          return [out, tf.mul(spanLoss(out, encoded, starts, ends), batch.length)];
        });
        const values = await logits.data() as Float32Array;
        lossSum += (await loss.data())[0];
        logits.dispose();
        loss.dispose();
        batch.forEach((e, r) => {
          const n = e.feature.ids.length;
          byExample.get(e.example)!.push({
            feature: e.feature,
            logits: rowLogits(values, r, encoded.seqLength, n),
          });
        });
      }
      const gold = new Map<string, string[]>();
      const predictions = new Map<string, string>();
      let k = 0;
      for (const [example, windows] of byExample) {
        const key = String(k++);
        gold.set(key, example.answers.text);
        const best = bestAnswer(windows, maxAnswerLength);
        predictions.set(key, best ? example.context.slice(best.start, best.end) : "");
      }
      const score = squadEvaluate(gold, predictions);
      return {
        eval_loss: lossSum / Math.max(1, examples.length),
        exact_match: score.exactMatch,
        f1: score.f1,
      };
    },
  };
}

export interface FineTuneQaInput {
  /** A span model: initSequenceClassifier / loadSequenceClassifier with head "span". */
  model: SequenceClassifier;
  tokenizer: TextTokenizer;
  train: QaExample[];
  validation: QaExample[] | null;
  hyperparameters: Hyperparameters;
  /** Context tokens shared by consecutive windows (default 128, capped to fit). */
  docStride?: number;
  /** Longest answer in tokens for the evaluation's n-best search (default 30). */
  maxAnswerLength?: number;
  onEvent: (e: TrainEvent) => void | Promise<void>;
  shouldStop: () => boolean | Promise<boolean>;
  resumable?: Pick<
    TrainerInput<QaTrainingExample>,
    "resumeFrom" | "onCheckpoint" | "checkpointEvery" | "checkpointOnStop" | "loadBestModelAtEnd"
  >;
}

/** Windows of `examples` paired with their example. */
export function qaTrainingExamples(
  tokenizer: TextTokenizer,
  examples: readonly QaExample[],
  options: { maxLength: number; docStride: number },
): QaTrainingExample[] {
  return prepareQaFeatures(tokenizer, examples, options).map((feature) => ({
    feature,
    example: examples[feature.exampleIndex],
  }));
}

export async function fineTuneQuestionAnswering(input: FineTuneQaInput): Promise<FineTuneResult> {
  const { model, tokenizer, hyperparameters: hp } = input;
  if (input.train.length === 0) throw new ApiError(400, "invalid_request", "the training set is empty");
  if (tokenizer.vocabSize > model.config.vocab_size) {
    throw new ApiError(
      400,
      "invalid_request",
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${model.config.vocab_size}`,
    );
  }
  const windows = {
    maxLength: Math.min(hp.max_seq_length, model.maxSequenceLength),
    docStride: input.docStride ?? 128,
  };
  const validation = input.validation && input.validation.length > 0
    ? qaTrainingExamples(tokenizer, input.validation, windows)
    : null;
  const dropout = {
    hidden: hp.hidden_dropout,
    attention: hp.attention_dropout,
    classifier: hp.classifier_dropout,
  };
  return await train({
    task: questionAnsweringTask(model, tokenizer, dropout, { maxAnswerLength: input.maxAnswerLength ?? 30 }),
    train: qaTrainingExamples(tokenizer, input.train, windows),
    validation,
    hyperparameters: hp,
    onEvent: input.onEvent,
    shouldStop: input.shouldStop,
    ...input.resumable,
  });
}
