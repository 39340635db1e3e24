/**
 * Corpus BLEU exactly as sacreBLEU 2.x computes it (BLEU(tokenize="13a", smooth_method="exp")): each segment
 * is right-stripped, optionally lower-cased and tokenized with mteval-v13a's rules (tokenizer_13a.py +
 * tokenizer_re.py, ported regex for regex); n-grams of orders 1..4 are clipped by their maximum count in any
 * reference; the reference length is the closest one (ties → the shorter); statistics are summed over the
 * corpus; precisions without a match get the NIST "exp" smoothing (100 / (2^k · total)); the brevity penalty
 * is exp(1 − ref/sys). Scores are 0..100. References are one string per hypothesis, or a list per hypothesis
 * (any number ≥ 1; sacreBLEU's stream layout transposed).
 */
import { ApiError } from "../../schemas/errors.ts";
import { pythonSplit } from "./squad.ts";

export const MAX_NGRAM_ORDER = 4;

export interface BleuOptions {
  /** "13a" (sacreBLEU's default, mteval-v13a) or "none" (split on whitespace only). */
  tokenize?: "13a" | "none";
  lowercase?: boolean;
}

export interface BleuResult {
  /** 0..100. */
  score: number;
  /** Modified n-gram precisions (after smoothing), 0..100, orders 1..4. */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  sysLen: number;
  refLen: number;
}

/** Python's str.rstrip(): trailing characters that str.isspace() accepts. */
const PY_SPACE = new Set(
  Array.from("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000")
    .concat(["\x1c", "\x1d", "\x1e", "\x1f"])
    .concat(Array.from({ length: 11 }, (_, i) => String.fromCharCode(0x2000 + i))),
);

export function pythonRstrip(text: string): string {
  let end = text.length;
  while (end > 0 && PY_SPACE.has(text[end - 1])) end--;
  return text.slice(0, end);
}

/** TokenizerRegexp's rules: symbols, period/comma not next to digits, dash after a digit. */
const REGEXP_RULES: [RegExp, string][] = [
  // r'([\{-\~\[-\` -\&\(-\+\:-\@\/])' → r' \1 ' (the same ranges, as hex)
  [/([\x7b-\x7e\x5b-\x60\x20-\x26\x28-\x2b\x3a-\x40\x2f])/gu, " $1 "],
  [/([^0-9])([.,])/gu, "$1 $2 "],
  [/([.,])([^0-9])/gu, " $1 $2"],
  [/([0-9])(-)/gu, "$1 $2 "],
];

/** sacreBLEU's Tokenizer13a: returns the tokenized line (tokens separated by single spaces). */
export function tokenize13a(line: string): string {
  let text = line.replaceAll("<skipped>", "").replaceAll("-\n", "").replaceAll("\n", " ");
  if (text.includes("&")) {
    text = text.replaceAll("&quot;", '"').replaceAll("&amp;", "&").replaceAll("&lt;", "<").replaceAll(
      "&gt;",
      ">",
    );
  }
  text = ` ${text} `;
  for (const [pattern, replacement] of REGEXP_RULES) text = text.replace(pattern, replacement);
  return pythonSplit(text).join(" ");
}

/** references as one list of strings per hypothesis; 400 when the counts do not line up. */
export function referenceLists(hypotheses: string[], references: string[] | string[][]): string[][] {
  if (references.length !== hypotheses.length) {
    throw new ApiError(
      400,
      "invalid_request",
      `${hypotheses.length} hypotheses but ${references.length} reference entries (one per hypothesis expected)`,
    );
  }
  return references.map((refs, i) => {
    const list = typeof refs === "string" ? [refs] : refs;
    if (list.length === 0) throw new ApiError(400, "invalid_request", `hypothesis ${i} has no reference`);
    return list;
  });
}

/** Counts of all n-grams of orders 1..maxOrder (keys: tokens joined by spaces). */
function ngramCounts(tokens: string[], maxOrder: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join(" ");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** sacreBLEU's _get_closest_ref_len: the nearest reference length, the shorter one on a tie. */
function closestRefLength(hypLen: number, refLens: number[]): number {
  let closestDiff = -1;
  let closestLen = -1;
  for (const refLen of refLens) {
    const diff = Math.abs(hypLen - refLen);
    if (closestDiff === -1 || diff < closestDiff) {
      closestDiff = diff;
      closestLen = refLen;
    } else if (diff === closestDiff && refLen < closestLen) {
      closestLen = refLen;
    }
  }
  return closestLen;
}

/** sacreBLEU's my_log: log, with log(0) floored to −9999999999. */
const myLog = (x: number) => (x === 0 ? -9999999999 : Math.log(x));

/** BLEU from corpus sufficient statistics (sacreBLEU's compute_bleu with smooth_method "exp"). */
export function bleuFromStatistics(
  correct: number[],
  total: number[],
  sysLen: number,
  refLen: number,
): BleuResult {
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const precisions = new Array<number>(correct.length).fill(0);
  if (!correct.some((c) => c > 0)) return { score: 0, precisions, bp, sysLen, refLen };
  let smooth = 1;
  for (let n = 0; n < correct.length; n++) {
    if (total[n] === 0) break;
    if (correct[n] === 0) {
      smooth *= 2;
      precisions[n] = 100 / (smooth * total[n]);
    } else {
      precisions[n] = (100 * correct[n]) / total[n];
    }
  }
  const score = bp * Math.exp(precisions.reduce((sum, p) => sum + myLog(p), 0) / precisions.length);
  return { score, precisions, bp, sysLen, refLen };
}

/** sacreBLEU corpus_score(hypotheses, references) with BLEU's defaults (see module comment). */
export function corpusBleu(
  hypotheses: string[],
  references: string[] | string[][],
  options: BleuOptions = {},
): BleuResult {
  const refLists = referenceLists(hypotheses, references);
  const preprocess = (text: string): string[] => {
    let line = pythonRstrip(text);
    if (options.lowercase) line = line.toLowerCase();
    return pythonSplit((options.tokenize ?? "13a") === "13a" ? tokenize13a(line) : line);
  };
  const correct = new Array<number>(MAX_NGRAM_ORDER).fill(0);
  const total = new Array<number>(MAX_NGRAM_ORDER).fill(0);
  let sysLen = 0;
  let refLen = 0;
  hypotheses.forEach((hypothesis, i) => {
    const refNgrams = new Map<string, number>();
    const refLens: number[] = [];
    for (const ref of refLists[i]) {
      const tokens = preprocess(ref);
      refLens.push(tokens.length);
      for (const [ngram, count] of ngramCounts(tokens, MAX_NGRAM_ORDER)) {
        refNgrams.set(ngram, Math.max(refNgrams.get(ngram) ?? 0, count));
      }
    }
    const hypTokens = preprocess(hypothesis);
    sysLen += hypTokens.length;
    refLen += closestRefLength(hypTokens.length, refLens);
    for (const [ngram, count] of ngramCounts(hypTokens, MAX_NGRAM_ORDER)) {
      const n = ngram.split(" ").length - 1;
      total[n] += count;
      correct[n] += Math.min(count, refNgrams.get(ngram) ?? 0);
    }
  });
  return bleuFromStatistics(correct, total, sysLen, refLen);
}
