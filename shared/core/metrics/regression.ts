/**
 * Regression metrics as pure functions over number arrays, for text-regression jobs such as STS-B: mean
 * squared / absolute error and R² with scikit-learn's semantics (mean_squared_error, mean_absolute_error,
 * r2_score with force_finite=True), Pearson's r as scipy.stats.pearsonr, and Spearman's ρ as
 * scipy.stats.spearmanr — Pearson's r of the ranks, where tied values share the average of the ranks they span
 * (scipy.stats.rankdata(method="average")). A constant input has no correlation: Pearson and Spearman are NaN
 * then, as scipy returns (with a warning).
 */

function check(pred: readonly number[], gold: readonly number[], what: string): void {
  if (pred.length !== gold.length) {
    throw new RangeError(`${what}: predictions (${pred.length}) and gold (${gold.length}) differ in length`);
  }
  if (pred.length === 0) throw new RangeError(`${what}: empty input`);
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Mean of (pred − gold)². */
export function meanSquaredError(pred: readonly number[], gold: readonly number[]): number {
  check(pred, gold, "meanSquaredError");
  return mean(pred.map((p, i) => (p - gold[i]) ** 2));
}

/** Mean of |pred − gold|. */
export function meanAbsoluteError(pred: readonly number[], gold: readonly number[]): number {
  check(pred, gold, "meanAbsoluteError");
  return mean(pred.map((p, i) => Math.abs(p - gold[i])));
}

/** 1 − SS_res / SS_tot; a constant gold gives 1 for a perfect fit and 0 otherwise (sklearn force_finite). */
export function r2Score(pred: readonly number[], gold: readonly number[]): number {
  check(pred, gold, "r2Score");
  const m = mean(gold);
  const ssRes = pred.reduce((s, p, i) => s + (gold[i] - p) ** 2, 0);
  const ssTot = gold.reduce((s, g) => s + (g - m) ** 2, 0);
  if (ssTot === 0) return ssRes === 0 ? 1 : 0;
  return 1 - ssRes / ssTot;
}

/** Pearson's correlation coefficient (two-pass, centred sums). NaN if either input is constant. */
export function pearson(x: readonly number[], y: readonly number[]): number {
  check(x, y, "pearson");
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  const r = sxy / Math.sqrt(sxx * syy);
  return Math.max(-1, Math.min(1, r)); // scipy clips tiny rounding excursions past ±1
}

/** 1-based ranks, ties get the mean of the ranks they occupy (scipy.stats.rankdata, method="average"). */
export function averageRanks(xs: readonly number[]): number[] {
  const order = xs.map((_, i) => i).sort((a, b) => xs[a] - xs[b]);
  const ranks = new Array<number>(xs.length);
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && xs[order[j + 1]] === xs[order[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

/** Spearman's rank correlation: Pearson's r of the average ranks. */
export function spearman(x: readonly number[], y: readonly number[]): number {
  check(x, y, "spearman");
  return pearson(averageRanks(x), averageRanks(y));
}

export interface RegressionReport {
  mse: number;
  mae: number;
  r2: number;
  pearson: number;
  spearman: number;
}

/** All regression metrics at once. */
export function regressionReport(pred: readonly number[], gold: readonly number[]): RegressionReport {
  return {
    mse: meanSquaredError(pred, gold),
    mae: meanAbsoluteError(pred, gold),
    r2: r2Score(pred, gold),
    pearson: pearson(pred, gold),
    spearman: spearman(pred, gold),
  };
}
