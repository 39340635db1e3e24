// Regression metrics against hand-computed cases (sklearn / scipy semantics; arithmetic in the comments).
import assert from "node:assert/strict";
import {
  averageRanks,
  meanAbsoluteError,
  meanSquaredError,
  pearson,
  r2Score,
  regressionReport,
  spearman,
} from "../../shared/core/metrics/regression.ts";

const close = (actual: number, expected: number, tol = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

Deno.test("MSE, MAE, R² and Pearson on a small case", () => {
  const pred = [1, 2, 3, 4];
  const gold = [1, 3, 2, 6];
  close(meanSquaredError(pred, gold), (0 + 1 + 1 + 4) / 4); // differences 0, −1, 1, −2
  close(meanAbsoluteError(pred, gold), (0 + 1 + 1 + 2) / 4);
  close(r2Score(pred, gold), 1 - 6 / 14); // SS_res 6, SS_tot of gold around 3 is 4+0+1+9
  close(pearson(pred, gold), 7 / Math.sqrt(5 * 14)); // Σdxdy 7, Σdx² 5, Σdy² 14
  const report = regressionReport(pred, gold);
  close(report.pearson, 7 / Math.sqrt(70));
});

Deno.test("average ranks for ties, as scipy rankdata", () => {
  assert.deepEqual(averageRanks([3, 1, 3, 3, 2]), [4, 1, 4, 4, 2]);
  assert.deepEqual(averageRanks([0.5, 0.5]), [1.5, 1.5]);
});

Deno.test("Spearman is Pearson of the average ranks", () => {
  // ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]: Σdxdy 4.5, Σdx² 4.5, Σdy² 5
  close(spearman([10, 20, 20, 30], [1, 3, 2, 4]), 4.5 / Math.sqrt(4.5 * 5));
  close(spearman([1, 2, 3, 4], [1, 4, 9, 16]), 1); // monotone, non-linear
  close(spearman([1, 2, 3], [3, 2, 1]), -1);
});

Deno.test("degenerate inputs: constant → NaN correlation, R² force_finite, length checks", () => {
  assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
  assert.ok(Number.isNaN(spearman([1, 2, 3], [5, 5, 5])));
  assert.equal(r2Score([2, 2], [2, 2]), 1);
  assert.equal(r2Score([1, 3], [2, 2]), 0);
  assert.throws(() => meanSquaredError([1], [1, 2]), RangeError);
  assert.throws(() => pearson([], []), /empty/);
});
