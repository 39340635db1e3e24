/**
 * Corpus chrF exactly as sacreBLEU 2.x computes it (CHRF() defaults: character n-grams of orders 1..6, no
 * word n-grams, beta 2, whitespace removed, no eps smoothing): per segment, the character n-gram counts of the
 * hypothesis are matched against each reference (clipped counts; a reference without n-grams of an order
 * makes that order's hypothesis count 0) and the statistics of the reference with the best segment F-score
 * are kept; statistics are summed over the corpus, precision and recall are averaged over the orders where
 * both hypothesis and reference have n-grams, and F-beta of the averages is the score (0..100). Characters
 * are Unicode code points, as in Python.
 */
import { referenceLists } from "./bleu.ts";
import { pythonSplit } from "./squad.ts";

export interface ChrfOptions {
  lowercase?: boolean;
  /** Character n-gram order (sacreBLEU: 6). */
  charOrder?: number;
  /** Recall weight (sacreBLEU: 2). */
  beta?: number;
}

/** Counts of character n-grams of orders 1..maxOrder, whitespace removed; one map per order. */
function charNgrams(line: string, maxOrder: number): Map<string, number>[] {
  const chars = Array.from(pythonSplit(line).join(""));
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= maxOrder; n++) {
    const counts = new Map<string, number>();
    for (let i = 0; i + n <= chars.length; i++) {
      const key = chars.slice(i, i + n).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    out.push(counts);
  }
  return out;
}

/** [hyp, ref, match] per order, flattened (sacreBLEU's _get_match_statistics). */
function matchStatistics(hyp: Map<string, number>[], ref: Map<string, number>[]): number[] {
  const stats: number[] = [];
  hyp.forEach((hypCounts, order) => {
    const refCounts = ref[order];
    let hypCount = 0;
    let matches = 0;
    for (const [ngram, count] of hypCounts) {
      hypCount += count;
      matches += Math.min(count, refCounts.get(ngram) ?? 0);
    }
    let refCount = 0;
    for (const count of refCounts.values()) refCount += count;
    stats.push(refCounts.size > 0 ? hypCount : 0, refCount, matches);
  });
  return stats;
}

/** sacreBLEU's _compute_f_score without eps smoothing: F-beta of the order-averaged precision and recall. */
export function chrfFromStatistics(stats: number[], beta = 2): number {
  const factor = beta * beta;
  let precision = 0;
  let recall = 0;
  let orders = 0;
  for (let i = 0; i + 2 < stats.length; i += 3) {
    const [hyp, ref, match] = [stats[i], stats[i + 1], stats[i + 2]];
    if (hyp > 0 && ref > 0) {
      precision += match / hyp;
      recall += match / ref;
      orders++;
    }
  }
  if (orders === 0) return 0;
  precision /= orders;
  recall /= orders;
  if (precision + recall === 0) return 0;
  return (100 * (1 + factor) * precision * recall) / (factor * precision + recall);
}

/** sacreBLEU corpus chrF (see module comment); references: one string or a list per hypothesis. */
export function corpusChrf(
  hypotheses: string[],
  references: string[] | string[][],
  options: ChrfOptions = {},
): { score: number } {
  const refLists = referenceLists(hypotheses, references);
  const order = options.charOrder ?? 6;
  const beta = options.beta ?? 2;
  const prepare = (text: string) => charNgrams(options.lowercase ? text.toLowerCase() : text, order);
  const totals = new Array<number>(3 * order).fill(0);
  hypotheses.forEach((hypothesis, i) => {
    const hyp = prepare(hypothesis);
    let best: number[] = [];
    let bestScore = -1;
    for (const ref of refLists[i]) {
      const stats = matchStatistics(hyp, prepare(ref));
      const score = chrfFromStatistics(stats, beta);
      if (score > bestScore) {
        bestScore = score;
        best = stats;
      }
    }
    best.forEach((value, k) => (totals[k] += value));
  });
  return { score: chrfFromStatistics(totals, beta) };
}
