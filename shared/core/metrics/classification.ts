/**
 * Classification metrics as pure functions over label arrays, with scikit-learn's semantics (sklearn 1.4
 * `sklearn.metrics`): accuracy_score, precision_recall_fscore_support (per class and macro / micro / weighted
 * averages, `zero_division=0`), confusion_matrix (rows = gold, columns = predicted) and matthews_corrcoef (the
 * multi-class Gorodkin R_K statistic computed from the confusion matrix exactly as sklearn does). The multi-label
 * variants take per-label scores and 0/1 gold rows, binarise the scores with `score >= threshold`, and give
 * per-label P/R/F1, micro / macro / weighted F1, subset accuracy (sklearn's accuracy_score on indicator rows) and
 * the Hamming loss. `classificationReport` bundles everything the job events and the eval step report.
 */

export type Label = string | number;

export interface PrfSupport {
  precision: number;
  recall: number;
  f1: number;
  /** Number of gold examples of the class (sklearn's `support`). */
  support: number;
}

export interface ClassificationReport<L extends Label = Label> {
  labels: L[];
  accuracy: number;
  perClass: PrfSupport[];
  macro: PrfSupport;
  micro: PrfSupport;
  weighted: PrfSupport;
  mcc: number;
  /** confusionMatrix[g][p] = count of examples with gold labels[g] predicted as labels[p]. */
  confusionMatrix: number[][];
}

function checkSameLength(a: ArrayLike<unknown>, b: ArrayLike<unknown>, what: string): void {
  if (a.length !== b.length) {
    throw new RangeError(`${what}: predictions (${a.length}) and gold (${b.length}) differ in length`);
  }
}

/** sklearn's unique_labels for single-label targets: sorted union of the values in both arrays. */
export function uniqueLabels<L extends Label>(pred: readonly L[], gold: readonly L[]): L[] {
  const all = [...new Set([...gold, ...pred])];
  return all.sort((a, b) =>
    typeof a === "number" && typeof b === "number"
      ? a - b
      : String(a) < String(b)
      ? -1
      : String(a) > String(b)
      ? 1
      : 0
  );
}

/** Fraction of positions where pred equals gold (sklearn accuracy_score). Empty input → NaN. */
export function accuracy<L extends Label>(pred: readonly L[], gold: readonly L[]): number {
  checkSameLength(pred, gold, "accuracy");
  let correct = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === gold[i]) correct++;
  return pred.length === 0 ? NaN : correct / pred.length;
}

/**
 * Confusion matrix with sklearn's orientation: row = gold label, column = predicted label, in `labels` order
 * (default: sorted union). Values outside `labels` are ignored, as in sklearn.
 */
export function confusionMatrix<L extends Label>(
  pred: readonly L[],
  gold: readonly L[],
  labels: readonly L[] = uniqueLabels(pred, gold),
): number[][] {
  checkSameLength(pred, gold, "confusionMatrix");
  const index = new Map<L, number>(labels.map((l, i) => [l, i]));
  const m = labels.map(() => labels.map(() => 0));
  for (let i = 0; i < pred.length; i++) {
    const g = index.get(gold[i]);
    const p = index.get(pred[i]);
    if (g !== undefined && p !== undefined) m[g][p]++;
  }
  return m;
}

const divide = (num: number, den: number): number => (den === 0 ? 0 : num / den);

/** P/R/F1 from counts, sklearn zero_division=0: any undefined ratio is 0, and F1 is 0 when P + R = 0. */
export function prfFromCounts(tp: number, predicted: number, support: number): PrfSupport {
  const precision = divide(tp, predicted);
  const recall = divide(tp, support);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1, support };
}

interface Averages {
  macro: PrfSupport;
  micro: PrfSupport;
  weighted: PrfSupport;
}

/** Averages over per-class counts the way sklearn's _precision_recall_fscore_support does. */
export function averagesFromCounts(tp: number[], predicted: number[], support: number[]): Averages {
  const per = tp.map((t, i) => prfFromCounts(t, predicted[i], support[i]));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const totalSupport = sum(support);
  const mean = (key: "precision" | "recall" | "f1") =>
    per.length === 0 ? 0 : sum(per.map((p) => p[key])) / per.length;
  // sklearn: weighted average with zero total weight → 0 (zero_division=0).
  const weightedMean = (key: "precision" | "recall" | "f1") =>
    totalSupport === 0 ? 0 : sum(per.map((p, i) => p[key] * support[i])) / totalSupport;
  return {
    macro: { precision: mean("precision"), recall: mean("recall"), f1: mean("f1"), support: totalSupport },
    micro: prfFromCounts(sum(tp), sum(predicted), totalSupport),
    weighted: {
      precision: weightedMean("precision"),
      recall: weightedMean("recall"),
      f1: weightedMean("f1"),
      support: totalSupport,
    },
  };
}

/** Per-class precision / recall / F1 / support in `labels` order (sklearn precision_recall_fscore_support). */
export function perClassPrf<L extends Label>(
  pred: readonly L[],
  gold: readonly L[],
  labels: readonly L[] = uniqueLabels(pred, gold),
): PrfSupport[] {
  const m = confusionMatrix(pred, gold, labels);
  return labels.map((_, k) =>
    prfFromCounts(m[k][k], m.reduce((s, row) => s + row[k], 0), m[k].reduce((s, v) => s + v, 0))
  );
}

function countsFromMatrix(m: number[][]): { tp: number[]; predicted: number[]; support: number[] } {
  return {
    tp: m.map((row, k) => row[k]),
    predicted: m.map((_, k) => m.reduce((s, row) => s + row[k], 0)),
    support: m.map((row) => row.reduce((s, v) => s + v, 0)),
  };
}

export type Average = "macro" | "micro" | "weighted";

/** F1 averaged over `labels` (sklearn f1_score with average=macro|micro|weighted). */
export function f1Score<L extends Label>(
  pred: readonly L[],
  gold: readonly L[],
  average: Average,
  labels: readonly L[] = uniqueLabels(pred, gold),
): number {
  const c = countsFromMatrix(confusionMatrix(pred, gold, labels));
  return averagesFromCounts(c.tp, c.predicted, c.support)[average].f1;
}

/**
 * Matthews correlation coefficient, multi-class (Gorodkin 2004 R_K), exactly sklearn's matthews_corrcoef:
 * cov(y,ŷ) = c·s − Σ_k p_k t_k, cov(ŷ,ŷ) = s² − Σ p_k², cov(y,y) = s² − Σ t_k²; 0 when either variance is 0.
 */
export function matthewsCorrcoef<L extends Label>(pred: readonly L[], gold: readonly L[]): number {
  const m = confusionMatrix(pred, gold);
  const { tp, predicted, support } = countsFromMatrix(m);
  const s = predicted.reduce((a, b) => a + b, 0);
  const c = tp.reduce((a, b) => a + b, 0);
  const dot = (a: number[], b: number[]) => a.reduce((acc, v, i) => acc + v * b[i], 0);
  const covYtYp = c * s - dot(support, predicted);
  const covYpYp = s * s - dot(predicted, predicted);
  const covYtYt = s * s - dot(support, support);
  if (covYpYp * covYtYt === 0) return 0;
  return covYtYp / Math.sqrt(covYtYt * covYpYp);
}

/**
 * All single-label metrics at once. `labels` fixes the order of perClass / confusion matrix rows (default:
 * sorted union of gold and predicted values); every value must be one of them.
 */
export function classificationReport<L extends Label>(
  pred: readonly L[],
  gold: readonly L[],
  labels?: readonly L[],
): ClassificationReport<L> {
  checkSameLength(pred, gold, "classificationReport");
  const order = labels ? [...labels] : uniqueLabels(pred, gold);
  if (labels) {
    const known = new Set<L>(labels);
    const stray = [...pred, ...gold].find((v) => !known.has(v));
    if (stray !== undefined) throw new RangeError(`classificationReport: value '${stray}' is not in labels`);
  }
  const m = confusionMatrix(pred, gold, order);
  const { tp, predicted, support } = countsFromMatrix(m);
  const perClass = tp.map((t, k) => prfFromCounts(t, predicted[k], support[k]));
  return {
    labels: order,
    accuracy: accuracy(pred, gold),
    perClass,
    ...averagesFromCounts(tp, predicted, support),
    mcc: matthewsCorrcoef(pred, gold),
    confusionMatrix: m,
  };
}

// ---------------------------------------------------------------------------------------------- multi-label

export interface MultiLabelReport {
  /** One entry per label column. */
  perLabel: PrfSupport[];
  macro: PrfSupport;
  micro: PrfSupport;
  weighted: PrfSupport;
  /** Fraction of rows whose predicted label set equals the gold set exactly (sklearn accuracy_score). */
  subsetAccuracy: number;
  /** Fraction of (row, label) cells predicted wrongly (sklearn hamming_loss). */
  hammingLoss: number;
}

/** Binarises scores (probabilities, or logits with threshold 0) with `score >= threshold`. */
export function binarize(scores: readonly (readonly number[])[], threshold: number): number[][] {
  return scores.map((row) => row.map((s) => (s >= threshold ? 1 : 0)));
}

/**
 * Multi-label metrics. `scores[i][k]` is the score of label k for example i, `gold[i][k]` is 0 or 1. Each
 * label column is a binary problem; micro pools the counts of all columns, macro/weighted average the
 * per-column scores (sklearn's behaviour on label-indicator matrices).
 */
export function multiLabelReport(
  scores: readonly (readonly number[])[],
  gold: readonly (readonly number[])[],
  threshold = 0.5,
): MultiLabelReport {
  checkSameLength(scores, gold, "multiLabelReport");
  const pred = binarize(scores, threshold);
  const numLabels = gold.length > 0 ? gold[0].length : 0;
  const tp = new Array<number>(numLabels).fill(0);
  const predicted = new Array<number>(numLabels).fill(0);
  const support = new Array<number>(numLabels).fill(0);
  let exactRows = 0;
  let wrongCells = 0;
  for (let i = 0; i < gold.length; i++) {
    if (gold[i].length !== numLabels || pred[i].length !== numLabels) {
      throw new RangeError(`multiLabelReport: row ${i} does not have ${numLabels} label columns`);
    }
    let rowExact = true;
    for (let k = 0; k < numLabels; k++) {
      const g = gold[i][k] ? 1 : 0;
      const p = pred[i][k];
      tp[k] += g & p;
      predicted[k] += p;
      support[k] += g;
      if (g !== p) {
        rowExact = false;
        wrongCells++;
      }
    }
    if (rowExact) exactRows++;
  }
  const cells = gold.length * numLabels;
  return {
    perLabel: tp.map((t, k) => prfFromCounts(t, predicted[k], support[k])),
    ...averagesFromCounts(tp, predicted, support),
    subsetAccuracy: gold.length === 0 ? NaN : exactRows / gold.length,
    hammingLoss: cells === 0 ? NaN : wrongCells / cells,
  };
}
