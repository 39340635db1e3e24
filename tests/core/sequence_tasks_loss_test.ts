/**
 * The sequence-task losses and metrics against hand computations (and torch 1.13's values for the same
 * inputs): BCE-with-logits on a 2×3 multi-label example (plain and per-label weighted), class-weighted
 * cross-entropy (plain and with label smoothing, torch's CrossEntropyLoss(weight, label_smoothing)), MSE; the
 * metric keys and report of each problem type; sentence pairs → BERT token_type_ids (RoBERTa and DistilBERT
 * inputs get zeros); and the 400s for data that does not fit the problem type.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import { crossEntropy } from "../../shared/core/eval/evaluate.ts";
import { tokenizeTexts } from "../../shared/core/infer.ts";
import { initSequenceClassifier } from "../../shared/core/model/load.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { fineTuneSequenceClassifier } from "../../shared/core/train/fine_tune.ts";
import {
  bceWithLogits,
  mseLoss,
  SEQUENCE_EVAL_METRICS,
  type SequenceExample,
  sequenceMetrics,
} from "../../shared/core/train/sequence_tasks.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import { hyperparametersSchema } from "../../shared/schemas/hyperparameters.ts";

await initBackend("wasm");

const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);
const scalar = (f: () => tf.Scalar) => tf.tidy(() => f().dataSync()[0]);
const logSoftmax = (row: number[]) => {
  const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
  return row.map((v) => v - lse);
};

Deno.test("multi-label BCE-with-logits equals the hand-computed mean over 2×3 cells (and torch)", () => {
  const logits = [[1.5, -0.5, 0.0], [-2.0, 1.0, 0.25]];
  const targets = [[1, 0, 1], [0, 0, 1]];
  const weights = [1, 2, 0.5];
  // y=1: −log σ(x) = log(1 + e^−x); y=0: −log(1 − σ(x)) = log(1 + e^x)
  const cell = (x: number, y: number) => (y ? Math.log(1 + Math.exp(-x)) : Math.log(1 + Math.exp(x)));
  let plain = 0;
  let weighted = 0;
  logits.forEach((row, i) =>
    row.forEach((x, k) => {
      plain += cell(x, targets[i][k]) / 6;
      weighted += (weights[k] * cell(x, targets[i][k])) / 6;
    })
  );
  const got = scalar(() => bceWithLogits(tf.tensor2d(logits), tf.tensor2d(targets)));
  const gotWeighted = scalar(() => bceWithLogits(tf.tensor2d(logits), tf.tensor2d(targets), weights));
  close(got, plain);
  close(gotWeighted, weighted);
  close(got, 0.5641277432441711); // torch.nn.BCEWithLogitsLoss()
  close(gotWeighted, 0.756260335445404); // BCEWithLogitsLoss(weight=[1, 2, 0.5])
});

Deno.test("class-weighted cross-entropy equals Σ w_y·nll / Σ w_y (and torch, also smoothed)", () => {
  const logits = [[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-1.0, 3.0, 0.0]];
  const labels = [0, 2, 1];
  const w = [1, 2, 0.5];
  const logp = logits.map(logSoftmax);
  const total = labels.reduce((s, y) => s + w[y], 0);
  const nll = labels.reduce((s, y, i) => s - w[y] * logp[i][y], 0) / total;
  const smooth = logp.reduce((s, row) => s - row.reduce((a, v, c) => a + w[c] * v, 0), 0) / total;
  const eps = 0.1;
  const run = (smoothing: number, weights?: number[]) =>
    scalar(() => crossEntropy(tf.tensor2d(logits), tf.tensor1d(labels, "int32"), smoothing, weights));
  close(run(0, w), nll);
  close(run(eps, w), (1 - eps) * nll + (eps / 3) * smooth);
  close(run(0, w), 0.249728724360466); // torch cross_entropy(weight=w)
  close(run(eps, w), 0.36744141578674316); // torch cross_entropy(weight=w, label_smoothing=0.1)
  close(run(eps, [1, 1, 1]), run(eps)); // unit weights = the unweighted LabelSmoother
});

Deno.test("MSE of a one-output head and the metric keys and reports of each problem type", () => {
  close(scalar(() => mseLoss(tf.tensor2d([[1], [3]]), tf.tensor1d([2, 2]))), 1);
  const ex = (label: number, multiHot?: number[], target?: number): SequenceExample => ({
    row: { ids: [], typeIds: [] },
    label,
    multiHot,
    target,
  });
  const single = sequenceMetrics(
    [[2, 0, 0], [0, 2, 0], [0, 2, 0], [0, 0, 2]],
    [ex(0), ex(1), ex(2), ex(2)],
    3,
    {
      problemType: "single_label_classification",
      labelSmoothing: 0,
    },
  );
  assert.deepEqual(
    Object.keys(single.metrics).sort(),
    [...SEQUENCE_EVAL_METRICS.single_label_classification].sort(),
  );
  close(single.metrics.accuracy, 3 / 4);
  close(single.metrics.micro_f1, 3 / 4);
  // class 0: F1 1 (1 gold); class 1: P 1/2 R 1 → 2/3 (1 gold); class 2: P 1 R 1/2 → 2/3 (2 gold)
  close(single.metrics.macro_f1, (1 + 2 / 3 + 2 / 3) / 3);
  close(single.metrics.weighted_f1, (1 + 2 / 3 + 2 * (2 / 3)) / 4);
  assert.ok(single.report && single.report.problemType === "single_label_classification");
  assert.deepEqual(single.report.confusionMatrix, [[1, 0, 0], [0, 1, 0], [0, 1, 1]]);
  assert.deepEqual(single.report.perClass.map((p) => p.support), [1, 1, 2]);

  const multi = sequenceMetrics(
    [[3, -3], [3, 3], [-3, -3]],
    [ex(0, [1, 0]), ex(0, [1, 0]), ex(0, [0, 1])],
    2,
    {
      problemType: "multi_label_classification",
      labelSmoothing: 0,
    },
  );
  assert.deepEqual(
    Object.keys(multi.metrics).sort(),
    [...SEQUENCE_EVAL_METRICS.multi_label_classification].sort(),
  );
  close(multi.metrics.subset_accuracy, 1 / 3);
  close(multi.metrics.hamming_loss, 2 / 6);
  // label 0: tp 2, predicted 2, gold 2 → F1 1; label 1: tp 0, predicted 1, gold 1 → 0.
  // micro: tp 2, predicted 3, gold 3 → 2/3
  close(multi.metrics.macro_f1, 0.5);
  close(multi.metrics.micro_f1, 2 / 3);
  assert.equal(multi.report?.problemType, "multi_label_classification");

  const regression = sequenceMetrics(
    [[1], [2], [4]],
    [ex(0, undefined, 1), ex(0, undefined, 3), ex(0, undefined, 3)],
    1,
    {
      problemType: "regression",
      labelSmoothing: 0,
    },
  );
  assert.deepEqual(Object.keys(regression.metrics).sort(), [...SEQUENCE_EVAL_METRICS.regression].sort());
  close(regression.metrics.mse, (0 + 1 + 1) / 3);
  close(regression.metrics.eval_loss, regression.metrics.mse);
  close(regression.metrics.mae, 2 / 3);
  assert.equal(regression.report, null);
});

const tokenizer = TextTokenizer.trainWordPiece(["a good film", "the bad film"], {
  vocabSize: 30,
  minFrequency: 1,
});
const ENCODER = {
  vocab_size: 40,
  hidden_size: 8,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 8,
};

Deno.test("sentence pairs give BERT token_type_ids 0…0 1…1; RoBERTa and DistilBERT inputs get zeros", () => {
  const bert = initSequenceClassifier({ model_type: "bert", ...ENCODER }, 2, 1);
  const [row] = tokenizeTexts(bert, tokenizer, ["a good film"], ["the bad film"], 32);
  const first = tokenizer.tokenize("a good film").length;
  const second = tokenizer.tokenize("the bad film").length;
  assert.deepEqual(row.typeIds, [...new Array(first + 2).fill(0), ...new Array(second + 1).fill(1)]);
  const { cls, sep } = tokenizer.specialIds;
  assert.equal(row.ids[0], cls);
  assert.equal(row.ids[first + 1], sep);
  assert.equal(row.ids.at(-1), sep);
  bert.dispose();
  const roberta = initSequenceClassifier({ model_type: "roberta", ...ENCODER, type_vocab_size: 1 }, 2, 1);
  const distil = initSequenceClassifier(
    { model_type: "distilbert", vocab_size: 40, dim: 8, n_layers: 1, n_heads: 2, hidden_dim: 8 },
    2,
    1,
  );
  for (const model of [roberta, distil]) {
    const [r] = tokenizeTexts(model, tokenizer, ["a good film"], ["the bad film"], 32);
    assert.equal(r.ids.length, row.ids.length);
    assert.ok(r.typeIds.every((t) => t === 0), model.family);
    model.dispose();
  }
});

Deno.test("data that does not fit the problem type is a 400", async () => {
  const hp = hyperparametersSchema.parse({ epochs: 1, batch_size: 2, max_seq_length: 8 });
  const base = {
    tokenizer,
    validation: null,
    hyperparameters: hp,
    onEvent: () => {},
    shouldStop: () => false,
  };
  const two = initSequenceClassifier({ model_type: "bert", ...ENCODER }, 2, 1);
  const one = initSequenceClassifier({ model_type: "bert", ...ENCODER }, 1, 1);
  const is400 = (pattern: RegExp) => (e: unknown) =>
    e instanceof ApiError && e.status === 400 && pattern.test(e.message);
  const texts = ["a", "b"];
  try {
    await assert.rejects(
      fineTuneSequenceClassifier({
        ...base,
        model: two,
        train: { texts, targets: [1, 2] },
        problemType: "regression",
      }),
      is400(/1 output/),
    );
    await assert.rejects(
      fineTuneSequenceClassifier({
        ...base,
        model: one,
        train: { texts, labels: [0, 0] },
        problemType: "regression",
      }),
      is400(/targets are required/),
    );
    await assert.rejects(
      fineTuneSequenceClassifier({
        ...base,
        model: two,
        train: { texts, multiLabels: [[0], [2]] },
        problemType: "multi_label_classification",
      }),
      is400(/example 1 has labels outside \[0, 2\)/),
    );
    await assert.rejects(
      fineTuneSequenceClassifier({
        ...base,
        model: two,
        train: { texts, labels: [0, 1] },
        classWeights: [1],
      }),
      is400(/classWeights must be 2/),
    );
    await assert.rejects(
      fineTuneSequenceClassifier({ ...base, model: two, train: { texts, labels: [0, 1], pairs: ["x"] } }),
      is400(/2 texts but 1 pairs/),
    );
  } finally {
    two.dispose();
    one.dispose();
  }
});
