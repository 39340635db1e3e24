/**
 * Loss weights against class imbalance, as pure functions of the training labels. `balancedClassWeights` is
 * scikit-learn's compute_class_weight("balanced"): n_samples / (n_classes · count_c), the weighting
 * transformers users pass to CrossEntropyLoss(weight=…). `positiveWeights` is the per-label pos_weight for
 * BCEWithLogitsLoss in multi-label jobs: negatives / positives of each label column, as the PyTorch docs
 * suggest. A class or label that never occurs gets weight 1 (it cannot affect the loss anyway).
 */

/** weight[c] = n / (k · count[c]) for each class c of `classes` (k = classes.length). */
export function balancedClassWeights<L extends string | number>(
  labels: readonly L[],
  classes: readonly L[],
): number[] {
  const counts = new Map<L, number>(classes.map((c) => [c, 0]));
  for (const l of labels) {
    const n = counts.get(l);
    if (n === undefined) throw new RangeError(`balancedClassWeights: label '${l}' is not one of the classes`);
    counts.set(l, n + 1);
  }
  return classes.map((c) => {
    const n = counts.get(c)!;
    return n === 0 ? 1 : labels.length / (classes.length * n);
  });
}

/** pos_weight[k] = (#rows with label k off) / (#rows with label k on), from 0/1 indicator rows. */
export function positiveWeights(rows: readonly (readonly number[])[]): number[] {
  const numLabels = rows[0]?.length ?? 0;
  return Array.from({ length: numLabels }, (_, k) => {
    const positives = rows.reduce((s, r) => s + (r[k] ? 1 : 0), 0);
    return positives === 0 ? 1 : (rows.length - positives) / positives;
  });
}
