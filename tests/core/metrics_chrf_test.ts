/**
 * sacreBLEU-compatible corpus chrF (char order 6, beta 2, whitespace removed): hand-computed scores with the
 * arithmetic in the comments, the example from sacreBLEU's README (chrF2 = 59.73), best-reference selection
 * and corpus-level summing of statistics (which differs from averaging sentence scores).
 */
import assert from "node:assert/strict";
import { corpusChrf } from "../../shared/core/metrics/chrf.ts";

const close = (actual: number, expected: number, tolerance = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} ≠ ${expected}`);

Deno.test("chrf: a perfect match scores 100, an empty hypothesis 0", () => {
  close(corpusChrf(["The cat sat on the mat."], ["The cat sat on the mat."]).score, 100);
  assert.equal(corpusChrf([""], ["abc"]).score, 0);
  assert.equal(corpusChrf(["xyz"], ["abc"]).score, 0);
});

Deno.test("chrf: 'ab' against 'abc' is F2 of P = 1, R = 7/12 = 7/11", () => {
  // order 1: 2/2 precision, 2/3 recall; order 2: 1/1, 1/2; order 3: the hypothesis has no trigram → skipped
  // P = 1, R = (2/3 + 1/2)/2 = 7/12, F2 = 5PR/(4P + R) = (35/12)/(55/12) = 7/11
  close(corpusChrf(["ab"], ["abc"]).score, 700 / 11);
});

Deno.test("chrf: whitespace is removed before counting", () => {
  close(corpusChrf(["a b"], ["ab"]).score, 100);
  close(corpusChrf([" a\tb \n"], ["ab"]).score, 100);
});

Deno.test("chrf: the best reference per segment wins; statistics are summed over the corpus", () => {
  close(corpusChrf(["ab"], [["xyz", "abc"]]).score, 700 / 11);
  // corpus: ("ab" | "abc") + ("abc" | "abc"): order 1 5/5 and 5/6, order 2 3/3 and 3/4, order 3 1/1 and 1/2
  // P = 1, R = (5/6 + 3/4 + 1/2)/3 = 25/36, F2 = 5R/(4 + R) = 125/169 (not the mean of 63.6 and 100)
  close(corpusChrf(["ab", "abc"], ["abc", "abc"]).score, 12500 / 169);
});

Deno.test("chrf: sacreBLEU's README example scores 59.73", () => {
  const hypotheses = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."];
  const references = [
    ["The dog bit the man.", "The dog had bit the man."],
    ["It was not unexpected.", "No one was surprised."],
    ["The man bit him first.", "The man had bitten the dog."],
  ];
  assert.equal(corpusChrf(hypotheses, references).score.toFixed(2), "59.73");
});

Deno.test("chrf: lowercase option and code-point characters", () => {
  assert.ok(corpusChrf(["Über Größe"], ["über größe"]).score < 100);
  close(corpusChrf(["Über Größe"], ["über größe"], { lowercase: true }).score, 100);
  // an astral character is one character: "😀a" vs "😀b" shares exactly the unigram 😀
  // P = R = (1/2 + 0/1)/2 = 1/4 → F2 = 25
  close(corpusChrf(["😀a"], ["😀b"]).score, 25);
});
