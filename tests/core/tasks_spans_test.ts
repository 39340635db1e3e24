// Token-classification pipeline outputs: none / simple / first / average / max aggregation on hand-made scores.
import assert from "node:assert/strict";
import { aggregateTokenPredictions, softmax, type TokenInfo } from "../../shared/core/tasks/spans.ts";

const close = (actual: number, expected: number, tol = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

const labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"];
const text = "Wolfgang lives in Berlin";
// [CLS] wolf ##gang lives in ber ##lin [SEP]
const tokens: TokenInfo[] = [
  { start: 0, end: 0, special: true },
  { start: 0, end: 4, wordId: 0, token: "wolf" },
  { start: 4, end: 8, wordId: 0, token: "##gang" },
  { start: 9, end: 14, wordId: 1 },
  { start: 15, end: 17, wordId: 2 },
  { start: 18, end: 21, wordId: 3 },
  { start: 21, end: 24, wordId: 3 },
  { start: 0, end: 0, wordId: null },
];
const probs = [
  [1, 0, 0, 0, 0],
  [0.1, 0.7, 0.1, 0.05, 0.05], // B-PER 0.7
  [0.1, 0.1, 0.2, 0.5, 0.1], // B-LOC 0.5: the sub-token disagrees
  [0.9, 0.025, 0.025, 0.025, 0.025],
  [0.8, 0.05, 0.05, 0.05, 0.05],
  [0.2, 0.1, 0.1, 0.4, 0.2], // B-LOC 0.4
  [0.1, 0.05, 0.05, 0.1, 0.7], // I-LOC 0.7
  [1, 0, 0, 0, 0],
];
const run = (strategy: "simple" | "first" | "average" | "max") =>
  aggregateTokenPredictions(text, tokens, probs, labels, { strategy });

Deno.test("none: one entity per non-O token with its index; specials skipped", () => {
  const out = aggregateTokenPredictions(text, tokens, probs, labels, { strategy: "none" });
  assert.deepEqual(out.map((e) => [e.entity, e.index, e.word, e.start, e.end]), [
    ["B-PER", 1, "wolf", 0, 4],
    ["B-LOC", 2, "##gang", 4, 8],
    ["B-LOC", 5, "Ber", 18, 21],
    ["I-LOC", 6, "lin", 21, 24],
  ]);
  close(out[0].score, 0.7);
});

Deno.test("simple: adjacent same-type tokens group unless the next is B-; score is the mean", () => {
  const out = run("simple");
  assert.deepEqual(out.map((g) => [g.entity_group, g.word, g.start, g.end]), [
    ["PER", "Wolf", 0, 4],
    ["LOC", "gang", 4, 8],
    ["LOC", "Berlin", 18, 24],
  ]);
  close(out[2].score, (0.4 + 0.7) / 2);
});

Deno.test("first / max / average fuse sub-tokens into words before grouping", () => {
  const first = run("first");
  assert.deepEqual(first.map((g) => [g.entity_group, g.word, g.start, g.end]), [
    ["PER", "Wolfgang", 0, 8],
    ["LOC", "Berlin", 18, 24],
  ]);
  close(first[0].score, 0.7), close(first[1].score, 0.4);
  const max = run("max"); // Berlin: ##lin (0.7) beats ber (0.4) → I-LOC 0.7
  assert.deepEqual(max.map((g) => [g.entity_group, g.word]), [["PER", "Wolfgang"], ["LOC", "Berlin"]]);
  close(max[1].score, 0.7);
  const average = run("average"); // Wolfgang mean: B-PER 0.4; Berlin mean: I-LOC 0.45
  close(average[0].score, 0.4), close(average[1].score, 0.45);
  assert.deepEqual(average.map((g) => g.word), ["Wolfgang", "Berlin"]);
});

Deno.test("two adjacent B- words stay apart; B then I joins; ignoreLabels filters", () => {
  const t = "Ann Bob";
  const toks: TokenInfo[] = [{ start: 0, end: 3, wordId: 0 }, { start: 4, end: 7, wordId: 1 }];
  const bb = aggregateTokenPredictions(t, toks, [[0, 0.9, 0.1, 0, 0], [0, 0.8, 0.2, 0, 0]], labels);
  assert.deepEqual(bb.map((g) => g.word), ["Ann", "Bob"]);
  const bi = aggregateTokenPredictions(t, toks, [[0, 0.9, 0.1, 0, 0], [0, 0.2, 0.8, 0, 0]], labels);
  assert.deepEqual(bi.map((g) => [g.word, g.start, g.end]), [["Ann Bob", 0, 7]]);
  close(bi[0].score, 0.85);
  const kept = aggregateTokenPredictions(t, toks, [[1, 0, 0, 0, 0], [0, 0.2, 0.8, 0, 0]], labels, {
    ignoreLabels: [],
  });
  assert.deepEqual(kept.map((g) => g.entity_group), ["O", "PER"]);
});

Deno.test("without word ids, HF's heuristic: no space before a token makes it a sub-token", () => {
  const toks: TokenInfo[] = [{ start: 0, end: 4 }, { start: 4, end: 8 }, { start: 9, end: 14 }];
  const out = aggregateTokenPredictions("Wolfgang lives", toks, [probs[1], probs[2], probs[3]], labels, {
    strategy: "first",
  });
  assert.deepEqual(out.map((g) => [g.entity_group, g.word]), [["PER", "Wolfgang"]]);
});

Deno.test("plain labels (no B-/I-) group by label; softmax; length mismatch throws", () => {
  const out = aggregateTokenPredictions("a b c", [{ start: 0, end: 1 }, { start: 2, end: 3 }, {
    start: 4,
    end: 5,
  }], [
    [0.9, 0.1],
    [0.8, 0.2],
    [0.1, 0.9],
  ], ["NOUN", "VERB"]);
  assert.deepEqual(out.map((g) => [g.entity_group, g.word]), [["NOUN", "a b"], ["VERB", "c"]]);
  const p = softmax([1, 2, 3]);
  const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
  close(p[0], Math.exp(1) / z), close(p[2], Math.exp(3) / z);
  assert.throws(() => aggregateTokenPredictions("a", [{ start: 0, end: 1 }], [], labels), RangeError);
});
