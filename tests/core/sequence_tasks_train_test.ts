/**
 * Training sequence tasks end to end on tiny models: regression on 200 real STS-B sentence pairs lowers the
 * validation MSE below the untrained model's, reporting mse/mae/pearson/spearman/r2; a multi-label run
 * reports micro/macro F1 and subset accuracy with a per-label report; a class-weighted single-label run
 * reports micro/weighted F1 and MCC with a confusion matrix over the validation rows, and accepts the new
 * metric names as metric_for_best_model.
 */
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/backend.ts";
import { sequenceLogits } from "../../shared/core/eval/evaluate.ts";
import { tokenizeTexts } from "../../shared/core/infer.ts";
import { initSequenceClassifier } from "../../shared/core/model/load.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { fineTuneSequenceClassifier } from "../../shared/core/train/fine_tune.ts";
import { SEQUENCE_EVAL_METRICS, sequenceMetrics } from "../../shared/core/train/sequence_tasks.ts";
import { hyperparametersSchema } from "../../shared/schemas/hyperparameters.ts";

await initBackend("wasm");

const lines = Deno.readTextFileSync(new URL("../../../shared/data/stsb_train.tsv", import.meta.url))
  .split("\n").filter((l) => l.length > 0);
const header = lines[0].split("\t");
const col = (name: string) => header.indexOf(name);
const rows = lines.slice(1, 261).map((l) => l.split("\t")).map((c) => ({
  a: c[col("sentence1")],
  b: c[col("sentence2")],
  score: Number(c[col("score")]),
}));
const trainRows = rows.slice(0, 200);
const validRows = rows.slice(200);
const tokenizer = TextTokenizer.trainWordPiece(rows.flatMap((r) => [r.a, r.b]), { vocabSize: 400 });
const ENCODER = {
  model_type: "bert",
  vocab_size: tokenizer.vocabSize,
  hidden_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 64,
};
const pairs = (rs: typeof rows) => ({
  texts: rs.map((r) => r.a),
  pairs: rs.map((r) => r.b),
  targets: rs.map((r) => r.score),
});

Deno.test("regression on 200 STS-B pairs lowers the validation MSE of the untrained model", async () => {
  const model = initSequenceClassifier(ENCODER, 1, 3);
  const hp = hyperparametersSchema.parse({
    learning_rate: 2e-3,
    epochs: 4,
    batch_size: 16,
    max_seq_length: 48,
    warmup_ratio: 0.1,
    seed: 1,
  });
  try {
    assert.ok(validRows.every((r) => Number.isFinite(r.score)) && validRows.length === 60);
    const examples = tokenizeTexts(model, tokenizer, validRows.map((r) => r.a), validRows.map((r) => r.b), 48)
      .map((row, i) => ({ row, label: 0, target: validRows[i].score }));
    const before = sequenceMetrics(
      await sequenceLogits(
        model,
        tokenizer,
        examples.map((e) => e.row),
        32,
      ),
      examples,
      1,
      {
        problemType: "regression",
        labelSmoothing: 0,
      },
    ).metrics;
    const result = await fineTuneSequenceClassifier({
      model,
      tokenizer,
      train: pairs(trainRows),
      validation: pairs(validRows),
      hyperparameters: hp,
      problemType: "regression",
      onEvent: () => {},
      shouldStop: () => false,
    });
    assert.equal(result.status, "completed");
    for (const key of SEQUENCE_EVAL_METRICS.regression) assert.ok(Number.isFinite(result.metrics[key]), key);
    assert.ok(result.metrics.mse < before.mse / 2, `mse ${result.metrics.mse} vs untrained ${before.mse}`);
    // eval_loss is the float32 loss, mse the float64 metric
    assert.ok(Math.abs(result.metrics.eval_loss - result.metrics.mse) < 1e-5);
    assert.equal(result.report, null);
  } finally {
    model.dispose();
  }
});

const words = ["sun", "rain", "goal", "vote"];
const multiData = (n: number) => {
  const texts: string[] = [];
  const multiLabels: number[][] = [];
  for (let i = 0; i < n; i++) {
    const set = [0, 1, 2, 3].filter((k) => ((i * 7 + k * 3) % 5) < 2);
    texts.push(["the", ...set.map((k) => words[k]), "today"].join(" "));
    multiLabels.push(set);
  }
  return { texts, multiLabels };
};
const small = TextTokenizer.trainWordPiece(["the today", ...words], { vocabSize: 40, minFrequency: 1 });
const SMALL = { ...ENCODER, vocab_size: Math.max(small.vocabSize, 40), hidden_size: 16 };
const quickHp = (extra: Record<string, unknown> = {}) =>
  hyperparametersSchema.parse({
    learning_rate: 5e-3,
    epochs: 3,
    batch_size: 8,
    max_seq_length: 12,
    seed: 2,
    ...extra,
  });

Deno.test("multi-label training reports micro/macro F1, subset accuracy and a per-label report", async () => {
  const model = initSequenceClassifier(SMALL, 4, 1);
  try {
    const result = await fineTuneSequenceClassifier({
      model,
      tokenizer: small,
      train: multiData(40),
      validation: multiData(12),
      hyperparameters: quickHp(),
      problemType: "multi_label_classification",
      classWeights: [1, 1, 2, 0.5],
      threshold: 0.4,
      onEvent: () => {},
      shouldStop: () => false,
    });
    for (const key of SEQUENCE_EVAL_METRICS.multi_label_classification) {
      assert.ok(Number.isFinite(result.metrics[key]), key);
    }
    assert.ok(result.report && result.report.problemType === "multi_label_classification");
    assert.equal(result.report.threshold, 0.4);
    const gold = multiData(12).multiLabels;
    assert.deepEqual(
      result.report.perLabel.map((p) => p.support),
      [0, 1, 2, 3].map((k) => gold.filter((s) => s.includes(k)).length),
    );
  } finally {
    model.dispose();
  }
});

Deno.test("class-weighted training reports micro/weighted F1, MCC, confusion matrix", async () => {
  const model = initSequenceClassifier(SMALL, 3, 1);
  const data = (n: number) => ({
    texts: Array.from({ length: n }, (_, i) => `the ${words[i % 3]} today`),
    labels: Array.from({ length: n }, (_, i) => i % 3),
  });
  try {
    const result = await fineTuneSequenceClassifier({
      model,
      tokenizer: small,
      train: data(30),
      validation: data(9),
      hyperparameters: quickHp({ metric_for_best_model: "mcc", early_stopping_patience: 5 }),
      classWeights: [1, 2, 3],
      onEvent: () => {},
      shouldStop: () => false,
    });
    for (const key of SEQUENCE_EVAL_METRICS.single_label_classification) {
      assert.ok(Number.isFinite(result.metrics[key]), key);
    }
    assert.ok(result.report && result.report.problemType === "single_label_classification");
    assert.equal(result.report.confusionMatrix.flat().reduce((a, b) => a + b, 0), 9);
    assert.deepEqual(result.report.confusionMatrix.map((row) => row.reduce((a, b) => a + b, 0)), [3, 3, 3]);
    assert.ok(result.best && Number.isFinite(result.best.metrics.mcc));
  } finally {
    model.dispose();
  }
});
