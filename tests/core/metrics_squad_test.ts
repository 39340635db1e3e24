// SQuAD v1.1 normalisation, exact match and F1 against hand-worked cases of the official script's rules.
import assert from "node:assert/strict";
import {
  exactMatch,
  maxOverGroundTruths,
  normalizeAnswer,
  squadEvaluate,
  tokenF1,
} from "../../shared/core/metrics/squad.ts";

const close = (actual: number, expected: number, tol = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

Deno.test("normalize_answer: lower, punctuation, articles, whitespace", () => {
  assert.equal(normalizeAnswer("The  Quick, brown fox!"), "quick brown fox");
  assert.equal(normalizeAnswer("an apple a day"), "apple day");
  assert.equal(normalizeAnswer("theatre anthem"), "theatre anthem"); // articles only as whole words
  assert.equal(normalizeAnswer("(A) test"), "test"); // punctuation goes first, then "a" is a word
  assert.equal(normalizeAnswer("the-end"), "theend");
  assert.equal(normalizeAnswer("A.B.C."), "abc");
  assert.equal(normalizeAnswer("  "), "");
});

Deno.test("normalize_answer uses Python's Unicode rules: word boundaries and whitespace", () => {
  assert.equal(normalizeAnswer("ñan"), "ñan"); // ñ is a word character, so "an" is not a word here
  assert.equal(normalizeAnswer("café the"), "café");
  assert.equal(normalizeAnswer("x\u0085y\u00a0z"), "x y z"); // NEL and NBSP split in Python
  assert.equal(normalizeAnswer("x\ufeffy"), "x\ufeffy"); // BOM is not whitespace to Python
  assert.equal(normalizeAnswer("“quoted”"), "“quoted”"); // only ASCII punctuation is removed
});

Deno.test("exact match and token F1", () => {
  assert.equal(exactMatch("The Eiffel Tower", "eiffel tower."), 1);
  assert.equal(exactMatch("Eiffel", "Eiffel Tower"), 0);
  close(tokenF1("the big red dog", "red dog barked"), 2 / 3); // 2 shared of 3 and 3
  close(tokenF1("dog dog", "dog"), 2 / 3); // P 1/2, R 1 (multiset overlap)
  assert.equal(tokenF1("cat", "dog"), 0);
  assert.equal(tokenF1("the", "a"), 0); // both normalise to nothing
  close(maxOverGroundTruths(tokenF1, "Santa Clara", ["Levi's Stadium", "Santa Clara, California"]), 0.8);
});

Deno.test("evaluate: means × 100, unanswered questions count as 0", () => {
  const gold = { q1: ["Denver Broncos"], q2: ["Santa Clara"], q3: ["x"] };
  const preds = { q1: "the Denver Broncos", q2: "Santa Clara, California", extra: "ignored" };
  const s = squadEvaluate(gold, preds);
  close(s.exactMatch, 100 / 3);
  close(s.f1, (100 * (1 + 0.8)) / 3); // q2: P 2/3, R 1 → 0.8
  assert.equal(s.total, 3);
  assert.equal(s.unanswered, 1);
  const fromMaps = squadEvaluate(new Map(Object.entries(gold)), new Map(Object.entries(preds)));
  assert.deepEqual(fromMaps, s);
});
