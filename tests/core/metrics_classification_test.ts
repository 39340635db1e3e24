// Classification metrics against hand-computed cases (sklearn semantics; arithmetic in the comments).
import assert from "node:assert/strict";
import {
  accuracy,
  binarize,
  classificationReport,
  confusionMatrix,
  f1Score,
  matthewsCorrcoef,
  multiLabelReport,
  perClassPrf,
  uniqueLabels,
} from "../../shared/core/metrics/classification.ts";

const close = (actual: number, expected: number, tol = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

// gold 0,0,1,1,2,2,2 / pred 0,1,1,1,2,0,2 → confusion rows [1,1,0] [0,2,0] [1,0,2].
const gold = [0, 0, 1, 1, 2, 2, 2];
const pred = [0, 1, 1, 1, 2, 0, 2];

Deno.test("confusion matrix has gold rows and predicted columns", () => {
  assert.deepEqual(confusionMatrix(pred, gold), [[1, 1, 0], [0, 2, 0], [1, 0, 2]]);
  assert.deepEqual(confusionMatrix(pred, gold, [2, 0]), [[2, 1], [0, 1]]);
});

Deno.test("accuracy, per-class P/R/F1 and the three averages", () => {
  close(accuracy(pred, gold), 5 / 7);
  const per = perClassPrf(pred, gold);
  // class 0: tp 1, predicted 2, support 2; class 1: tp 2, predicted 3, support 2; class 2: tp 2, predicted 2, support 3
  close(per[0].precision, 0.5), close(per[0].recall, 0.5), close(per[0].f1, 0.5);
  close(per[1].precision, 2 / 3), close(per[1].recall, 1), close(per[1].f1, 0.8);
  close(per[2].precision, 1), close(per[2].recall, 2 / 3), close(per[2].f1, 0.8);
  assert.deepEqual(per.map((p) => p.support), [2, 2, 3]);
  close(f1Score(pred, gold, "macro"), 0.7);
  close(f1Score(pred, gold, "micro"), 5 / 7); // single-label micro F1 equals accuracy
  close(f1Score(pred, gold, "weighted"), (2 * 0.5 + 2 * 0.8 + 3 * 0.8) / 7);
  const report = classificationReport(pred, gold);
  close(report.macro.precision, (0.5 + 2 / 3 + 1) / 3);
  close(report.weighted.precision, (2 * 0.5 + 2 * (2 / 3) + 3 * 1) / 7);
  assert.equal(report.macro.support, 7);
});

Deno.test("MCC: multi-class R_K and the binary formula", () => {
  // s=7, c=5, t=[2,2,3], p=[2,3,2]: (35−16) / sqrt((49−17)·(49−17)) = 19/32
  close(matthewsCorrcoef(pred, gold), 19 / 32);
  // binary tp=1 tn=2 fp=0 fn=1: (1·2 − 0·1)/sqrt(1·2·2·3)
  close(matthewsCorrcoef([1, 0, 0, 0], [1, 1, 0, 0]), 2 / Math.sqrt(12));
  assert.equal(matthewsCorrcoef([0, 0, 0, 0], [1, 1, 0, 0]), 0); // constant prediction → 0
  close(matthewsCorrcoef([1, 1, 0, 0], [0, 0, 1, 1]), -1);
});

Deno.test("zero division gives 0 and a class only predicted has support 0", () => {
  const report = classificationReport(["a", "a", "b"], ["a", "a", "a"]);
  assert.deepEqual(report.labels, ["a", "b"]);
  close(report.perClass[0].precision, 1), close(report.perClass[0].recall, 2 / 3);
  assert.deepEqual(report.perClass[1], { precision: 0, recall: 0, f1: 0, support: 0 });
  close(report.macro.f1, 0.8 / 2);
  close(report.weighted.f1, 0.8); // class b has no weight
});

Deno.test("string labels sort; explicit labels fix order and reject strays", () => {
  assert.deepEqual(uniqueLabels(["spam", "ham"], ["ham", "ham"]), ["ham", "spam"]);
  assert.deepEqual(uniqueLabels([10, 9], [2]), [2, 9, 10]);
  const report = classificationReport(["spam", "ham"], ["ham", "ham"], ["spam", "ham"]);
  assert.deepEqual(report.confusionMatrix, [[0, 0], [1, 1]]);
  assert.throws(() => classificationReport(["x"], ["ham"], ["spam", "ham"]), /'x' is not in labels/);
  assert.throws(() => accuracy([1], [1, 2]), RangeError);
});

Deno.test("multi-label: per label, micro/macro/weighted, subset accuracy, threshold inclusive", () => {
  const scores = [[0.9, 0.2, 0.6], [0.4, 0.7, 0.1], [0.5, 0.5, 0.5]];
  const goldRows = [[1, 0, 1], [0, 1, 1], [1, 0, 0]];
  assert.deepEqual(binarize(scores, 0.5), [[1, 0, 1], [0, 1, 0], [1, 1, 1]]);
  const r = multiLabelReport(scores, goldRows, 0.5);
  assert.deepEqual(r.perLabel[0], { precision: 1, recall: 1, f1: 1, support: 2 });
  close(r.perLabel[1].precision, 0.5), close(r.perLabel[1].recall, 1), close(r.perLabel[1].f1, 2 / 3);
  close(r.perLabel[2].f1, 0.5);
  close(r.micro.precision, 4 / 6), close(r.micro.recall, 4 / 5), close(r.micro.f1, 8 / 11);
  close(r.macro.f1, 13 / 18);
  close(r.weighted.f1, 11 / 15);
  close(r.subsetAccuracy, 1 / 3);
  close(r.hammingLoss, 3 / 9);
  const strict = multiLabelReport(scores, goldRows, 0.55); // row 2 predicts nothing now
  close(strict.subsetAccuracy, 1 / 3);
  assert.equal(strict.perLabel[0].precision, 1);
  close(strict.perLabel[0].recall, 0.5);
  assert.throws(() => multiLabelReport([[0.1, 0.2]], [[1, 0, 0]]), /row 0/);
});
