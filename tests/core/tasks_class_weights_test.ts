// Class-imbalance weights against hand-computed values (sklearn "balanced", BCE pos_weight).
import assert from "node:assert/strict";
import { balancedClassWeights, positiveWeights } from "../../shared/core/tasks/class_weights.ts";

Deno.test("balanced class weights: n / (k · count)", () => {
  // 6 labels, 3 classes: ham ×4 → 6/12, spam ×2 → 6/6, unseen → 1
  assert.deepEqual(balancedClassWeights(["ham", "ham", "spam", "ham", "spam", "ham"], ["ham", "spam", "x"]), [
    0.5,
    1,
    1,
  ]);
  assert.deepEqual(balancedClassWeights([0, 1, 1, 1], [0, 1]), [2, 4 / 6]);
  assert.throws(() => balancedClassWeights(["eggs"], ["ham"]), /not one of the classes/);
});

Deno.test("multi-label pos_weight: negatives / positives per column", () => {
  assert.deepEqual(positiveWeights([[1, 0, 0], [0, 0, 1], [1, 0, 1], [0, 0, 1]]), [1, 1, 1 / 3]);
  assert.deepEqual(positiveWeights([]), []);
});
