/**
 * Classification metrics over predicted and gold label indices, computed as scikit-learn does: accuracy is
 * the fraction of exact matches; macro-F1 is the unweighted mean over all `numLabels` classes of per-class F1
 * (a class with no predictions and no gold examples, or zero precision and recall, counts as F1 = 0).
 */

function checkSameLength(pred: number[], gold: number[]): void {
  if (pred.length !== gold.length) {
    throw new Error(`metrics: ${pred.length} predictions for ${gold.length} gold labels`);
  }
}

export function accuracy(pred: number[], gold: number[]): number {
  checkSameLength(pred, gold);
  if (gold.length === 0) return 0;
  let correct = 0;
  for (let i = 0; i < gold.length; i++) if (pred[i] === gold[i]) correct++;
  return correct / gold.length;
}

export function macroF1(pred: number[], gold: number[], numLabels: number): number {
  checkSameLength(pred, gold);
  if (numLabels <= 0) return 0;
  const truePositive = new Array<number>(numLabels).fill(0);
  const predicted = new Array<number>(numLabels).fill(0);
  const actual = new Array<number>(numLabels).fill(0);
  for (let i = 0; i < gold.length; i++) {
    if (pred[i] >= 0 && pred[i] < numLabels) predicted[pred[i]]++;
    if (gold[i] >= 0 && gold[i] < numLabels) actual[gold[i]]++;
    if (pred[i] === gold[i] && gold[i] >= 0 && gold[i] < numLabels) truePositive[gold[i]]++;
  }
  let sum = 0;
  for (let c = 0; c < numLabels; c++) {
    const denominator = predicted[c] + actual[c];
    sum += denominator === 0 ? 0 : (2 * truePositive[c]) / denominator;
  }
  return sum / numLabels;
}

/** Index of the largest value in each row. */
export function argmaxRows(rows: ArrayLike<number>[]): number[] {
  return rows.map((row) => {
    let best = 0;
    for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
    return best;
  });
}
