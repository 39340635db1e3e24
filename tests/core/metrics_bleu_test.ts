/**
 * sacreBLEU-compatible corpus BLEU: hand-computed scores (the arithmetic is in each test's comment), the
 * example from sacreBLEU's README (BLEU = 48.53 82.4/50.0/45.5/37.5, BP = 0.943, hyp_len 17, ref_len 18),
 * mteval-v13a tokenization against sacreBLEU 2.6.0's Tokenizer13a output, "exp" smoothing, the brevity
 * penalty, the closest-reference-length rule, multiple references and the options.
 */
import assert from "node:assert/strict";
import { corpusBleu, tokenize13a } from "../../shared/core/metrics/bleu.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

const close = (actual: number, expected: number, tolerance = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} ≠ ${expected}`);

Deno.test("bleu: a perfect match scores 100", () => {
  const result = corpusBleu(["the cat sat on the mat .", "a b c d e"], [
    "the cat sat on the mat.",
    "a b c d e",
  ]);
  close(result.score, 100);
  assert.deepEqual(result.precisions, [100, 100, 100, 100]);
  assert.equal(result.bp, 1);
  assert.equal(result.sysLen, 12);
  assert.equal(result.refLen, 12);
});

Deno.test("bleu: an empty hypothesis scores 0 with brevity penalty 0", () => {
  const result = corpusBleu([""], ["the cat"]);
  assert.equal(result.score, 0);
  assert.equal(result.bp, 0);
  assert.equal(result.sysLen, 0);
  assert.equal(result.refLen, 2);
});

Deno.test("bleu: clipped n-gram precisions 5/6, 3/5, 2/4, 1/3 give 100·(1/12)^(1/4)", () => {
  // hyp "the cat sat on the mat" vs ref "the cat sat on a mat": "the" appears twice but once in the ref
  const result = corpusBleu(["the cat sat on the mat"], ["the cat sat on a mat"]);
  close(result.precisions[0], 500 / 6);
  close(result.precisions[1], 60);
  close(result.precisions[2], 50);
  close(result.precisions[3], 100 / 3);
  close(result.score, 100 * Math.pow(1 / 12, 0.25)); // 53.728…
});

Deno.test("bleu: exp smoothing halves again for each order without a match", () => {
  // "a b c d e" vs "a b x d e": p1 = 4/5, p2 = 2/4, p3 = 0/3 → 100/(2·3), p4 = 0/2 → 100/(4·2)
  const result = corpusBleu(["a b c d e"], ["a b x d e"]);
  close(result.precisions[2], 100 / 6);
  close(result.precisions[3], 12.5);
  close(result.score, 100 * Math.pow(0.8 * 0.5 * (1 / 6) * (1 / 8), 0.25)); // 30.21…
});

Deno.test("bleu: brevity penalty exp(1 − ref/sys) and 0 when an order has no n-grams at all", () => {
  // 4 tokens against 6, every n-gram matches: 100·exp(1 − 6/4)
  const short = corpusBleu(["a b c d"], ["a b c d e f"]);
  close(short.bp, Math.exp(-0.5));
  close(short.score, 100 * Math.exp(-0.5));
  // 2 tokens: no 3-grams → sacreBLEU stops and log(0) floors the score to 0
  const tiny = corpusBleu(["the cat"], ["the cat is here"]);
  assert.deepEqual(tiny.precisions, [100, 100, 0, 0]);
  assert.equal(tiny.score, 0);
});

Deno.test("bleu: multiple references clip by the max count and use the closest length (ties → shorter)", () => {
  // with both refs: p = 4/4, 3/3, 1/2, smoothed 100/(2·1) → 100·(1/4)^(1/4); with ref 1 only: 3/4, 2/3, 1/2, 50
  const both = corpusBleu(["the cat sat down"], [["a cat sat down", "the cat is down"]]);
  close(both.score, 100 / Math.SQRT2);
  const one = corpusBleu(["the cat sat down"], [["a cat sat down"]]);
  close(one.score, 100 * Math.pow(1 / 8, 0.25));
  // hyp of 3 tokens, refs of 2 and 4: both at distance 1 → the shorter, 2
  assert.equal(corpusBleu(["a b c"], [["a b", "a b c d"]]).refLen, 2);
  assert.equal(corpusBleu(["a b c"], [["a b c d", "a b"]]).refLen, 2);
});

Deno.test("bleu: sacreBLEU's README example", () => {
  const hypotheses = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."];
  const references = [
    ["The dog bit the man.", "The dog had bit the man."],
    ["It was not unexpected.", "No one was surprised."],
    ["The man bit him first.", "The man had bitten the dog."],
  ];
  const result = corpusBleu(hypotheses, references);
  assert.equal(result.score.toFixed(2), "48.53");
  assert.deepEqual(result.precisions.map((p) => p.toFixed(1)), ["82.4", "50.0", "45.5", "37.5"]);
  assert.equal(result.bp.toFixed(3), "0.943");
  assert.equal(result.sysLen, 17);
  assert.equal(result.refLen, 18);
});

Deno.test("bleu: 13a tokenization matches sacreBLEU's Tokenizer13a", () => {
  assert.equal(
    tokenize13a("Hello, world! It's 3.14 and 1,000 -- a-b 5-6."),
    "Hello , world ! It's 3.14 and 1,000 -- a-b 5 - 6 .",
  );
  assert.equal(
    tokenize13a("Tom &amp; Jerry said &quot;hi&quot; (twice) at 10:30/11:00; e-mail: a@b.c {x} [y] ~z"),
    'Tom & Jerry said " hi " ( twice ) at 10 : 30 / 11 : 00 ; e-mail : a @ b . c { x } [ y ] ~ z',
  );
  assert.equal(tokenize13a("line-\nbreak<skipped> end"), "linebreak end");
});

Deno.test("bleu: lowercase and tokenize options", () => {
  const hyp = ["The Cat sat on the Mat."];
  const ref = ["the cat sat on the mat."];
  close(corpusBleu(hyp, ref, { lowercase: true }).score, 100);
  assert.ok(corpusBleu(hyp, ref).score < 50);
  // without tokenization "hello," ≠ "hello": 4 tokens vs 5, p = 3/4, 2/3, 1/2, 0/1 → 100/(2·1),
  // BP = exp(1 − 5/4) → exp(−1/4)·100·(1/8)^(1/4) = 46.31 (sacreBLEU: 46.30777…)
  const none = corpusBleu(["hello, world and more"], ["hello , world and more"], { tokenize: "none" });
  close(none.score, Math.exp(-0.25) * 100 * Math.pow(1 / 8, 0.25));
  close(corpusBleu(["hello, world and more"], ["hello , world and more"]).score, 100);
});

Deno.test("bleu: mismatched counts and missing references are 400", () => {
  assert.throws(() => corpusBleu(["a", "b"], ["a"]), (e) => e instanceof ApiError && e.status === 400);
  assert.throws(() => corpusBleu(["a"], [[]]), (e) => e instanceof ApiError && e.status === 400);
});
