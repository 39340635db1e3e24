/**
 * Extractive-QA metrics exactly as the official SQuAD v1.1 script (evaluate-v1.1.py): normalize_answer
 * lower-cases, drops every character of Python's string.punctuation, replaces the articles a / an / the
 * (whole words, regex `\b(a|an|the)\b` with Python's Unicode word boundaries) by a space and collapses
 * whitespace (str.split semantics); exact match compares normalised strings; F1 is the bag-of-tokens F1 of
 * the normalised answers; each prediction takes the max over its gold answers; the dataset scores are means
 * scaled to 0–100, and a question with no prediction scores 0 (it still counts in the total).
 */

const PUNCTUATION = new Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
/** Characters Python's str.split() treats as whitespace (str.isspace), which differ from JS's \s. */
// deno-lint-ignore no-control-regex -- \x1c–\x1f are whitespace to Python's str.split
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;
/** `\b(a|an|the)\b` where a word character is a Unicode letter, number or "_" (Python 3 re semantics). */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

/** Python's `' '.join(text.split())` and `text.split()`. */
export function pythonSplit(text: string): string[] {
  return text.split(PY_WHITESPACE).filter((t) => t.length > 0);
}

/** SQuAD's normalize_answer: lower → remove punctuation → remove articles → fix whitespace. */
export function normalizeAnswer(s: string): string {
  const lowered = s.toLowerCase();
  let noPunct = "";
  for (const ch of lowered) if (!PUNCTUATION.has(ch)) noPunct += ch;
  return pythonSplit(noPunct.replace(ARTICLES, " ")).join(" ");
}

/** 1 when the normalised strings are equal, else 0. */
export function exactMatch(prediction: string, groundTruth: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(groundTruth) ? 1 : 0;
}

/** Token-overlap F1 of the normalised answers (multiset intersection, as collections.Counter &). */
export function tokenF1(prediction: string, groundTruth: string): number {
  const predTokens = pythonSplit(normalizeAnswer(prediction));
  const goldTokens = pythonSplit(normalizeAnswer(groundTruth));
  const goldCounts = new Map<string, number>();
  for (const t of goldTokens) goldCounts.set(t, (goldCounts.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of predTokens) {
    const left = goldCounts.get(t) ?? 0;
    if (left > 0) {
      same++;
      goldCounts.set(t, left - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / predTokens.length;
  const recall = same / goldTokens.length;
  return (2 * precision * recall) / (precision + recall);
}

/** metric_max_over_ground_truths. No gold answers → 0 (the official script would fail on max([])). */
export function maxOverGroundTruths(
  metric: (prediction: string, groundTruth: string) => number,
  prediction: string,
  groundTruths: readonly string[],
): number {
  return groundTruths.reduce((best, g) => Math.max(best, metric(prediction, g)), 0);
}

export interface SquadScore {
  /** Mean exact match × 100. */
  exactMatch: number;
  /** Mean token F1 × 100. */
  f1: number;
  /** Questions scored (all gold questions, answered or not). */
  total: number;
  /** Gold questions with no entry in `predictions`. */
  unanswered: number;
}

/**
 * The official evaluate(): `gold` maps question id → gold answer texts, `predictions` maps question id →
 * predicted text. Predictions for ids not in `gold` are ignored.
 */
export function squadEvaluate(
  gold: ReadonlyMap<string, readonly string[]> | Record<string, readonly string[]>,
  predictions: ReadonlyMap<string, string> | Record<string, string>,
): SquadScore {
  const goldEntries = gold instanceof Map ? [...gold.entries()] : Object.entries(gold);
  const lookup = (id: string): string | undefined =>
    predictions instanceof Map
      ? predictions.get(id)
      : Object.hasOwn(predictions, id)
      ? (predictions as Record<string, string>)[id]
      : undefined;
  let em = 0;
  let f1 = 0;
  let unanswered = 0;
  for (const [id, answers] of goldEntries) {
    const prediction = lookup(id);
    if (prediction === undefined) {
      unanswered++;
      continue;
    }
    em += maxOverGroundTruths(exactMatch, prediction, answers);
    f1 += maxOverGroundTruths(tokenF1, prediction, answers);
  }
  const total = goldEntries.length;
  return {
    exactMatch: total ? (100 * em) / total : 0,
    f1: total ? (100 * f1) / total : 0,
    total,
    unanswered,
  };
}
