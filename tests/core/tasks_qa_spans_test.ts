// QA spans: doc-stride windows, answer → token labels, n-best search and window merging, by hand.
import assert from "node:assert/strict";
import {
  answerTokenSpan,
  bestSpans,
  maxContextFlags,
  mergeWindowAnswers,
  planWindows,
  type TokenOffset,
} from "../../shared/core/tasks/qa_spans.ts";

const close = (actual: number, expected: number, tol = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);
const w = (pairs: number[][]) => pairs.map(([start, end]) => ({ start, end }));

Deno.test("planWindows overlaps consecutive windows by docStride tokens (HF stride)", () => {
  assert.deepEqual(planWindows(10, 4, 2), w([[0, 4], [2, 6], [4, 8], [6, 10]]));
  assert.deepEqual(planWindows(11, 4, 1), w([[0, 4], [3, 7], [6, 10], [9, 11]]));
  assert.deepEqual(planWindows(3, 4, 1), w([[0, 3]]));
  assert.deepEqual(planWindows(5, 4, 0), w([[0, 4], [4, 5]]));
  assert.deepEqual(planWindows(0, 4, 1), w([[0, 0]]));
  assert.throws(() => planWindows(10, 4, 4), /docStride/);
  assert.throws(() => planWindows(10, 0, 0), /maxContextTokens/);
});

// [CLS] q q [SEP] New York is big [SEP]   context "New York is big"
const offsets: TokenOffset[] = [
  null,
  null,
  null,
  null,
  { start: 0, end: 3 },
  { start: 4, end: 8 },
  { start: 9, end: 11 },
  { start: 12, end: 15 },
  null,
];

Deno.test("answerTokenSpan labels the tokens covering the answer, or null when it is outside", () => {
  assert.deepEqual(answerTokenSpan(offsets, 4, 11), { startToken: 5, endToken: 6 }); // "York is"
  assert.deepEqual(answerTokenSpan(offsets, 5, 8), { startToken: 5, endToken: 5 }); // inside "York"
  assert.deepEqual(answerTokenSpan(offsets, 0, 15), { startToken: 4, endToken: 7 });
  assert.equal(answerTokenSpan(offsets, 12, 20), null);
  const window = offsets.map((o, i) => (i === 4 ? null : o)); // a window that starts at "York"
  assert.equal(answerTokenSpan(window, 0, 8), null);
  assert.equal(answerTokenSpan([null, null], 0, 1), null);
});

Deno.test("bestSpans: exhaustive n-best over valid spans, ranked by logit sum, scored by probabilities", () => {
  const start = [5, 0, 0, 0, 2, 1, 0, 0.5, 9];
  const end = [5, 0, 0, 0, 0, 3, 0, 1, 9];
  const spans = bestSpans(start, end, offsets, { maxAnswerLength: 2, nBest: 10 });
  // (4,5) 5; (5,5) 4; (4,4) 2; (7,7) 1.5; (5,6) 1; (6,7) 1; (6,6) 0 — (4,6) is 3 tokens, too long
  assert.deepEqual(spans.map((s) => [s.startToken, s.endToken, s.logit]), [
    [4, 5, 5],
    [5, 5, 4],
    [4, 4, 2],
    [7, 7, 1.5],
    [5, 6, 1],
    [6, 7, 1],
    [6, 6, 0],
  ]);
  assert.deepEqual([spans[0].start, spans[0].end], [0, 8]); // "New York"
  const zs = Math.exp(2) + Math.exp(1) + Math.exp(0) + Math.exp(0.5);
  const ze = Math.exp(0) + Math.exp(3) + Math.exp(0) + Math.exp(1);
  close(spans[0].score, (Math.exp(2) / zs) * (Math.exp(3) / ze));
  const withCls = bestSpans(start, end, offsets, { maxAnswerLength: 2, clsIndex: 0 });
  close(withCls[0].score, (Math.exp(2) / (zs + Math.exp(5))) * (Math.exp(3) / (ze + Math.exp(5))));
  assert.equal(bestSpans(start, end, offsets, { maxAnswerLength: 2, nBest: 3 }).length, 3);
  assert.equal(bestSpans(start, end, offsets, { maxAnswerLength: 30 })[0].endToken, 5);
  const masked = bestSpans(start, end, offsets, { isMaxContext: [0, 0, 0, 0, 0, 1, 1, 1, 0].map(Boolean) });
  assert.deepEqual([masked[0].startToken, masked[0].endToken], [5, 5]);
  assert.deepEqual(bestSpans([0, 0], [0, 0], [null, null]), []);
  assert.throws(() => bestSpans([0], [0, 0], [null, null]), RangeError);
});

Deno.test("mergeWindowAnswers keeps the best score per character span", () => {
  const a = { startToken: 1, endToken: 2, start: 0, end: 8, score: 0.5, logit: 3 };
  const b = { startToken: 0, endToken: 1, start: 0, end: 8, score: 0.7, logit: 2 };
  const c = { startToken: 3, endToken: 3, start: 9, end: 11, score: 0.6, logit: 4 };
  assert.deepEqual(mergeWindowAnswers([[a, c], [b]], 3), [b, c]);
  assert.deepEqual(mergeWindowAnswers([[a, c], [b]]), [b]);
});

Deno.test("maxContextFlags: a token belongs to the window where it has most context on both sides", () => {
  const windows = planWindows(6, 4, 2); // [0,4) [2,6)
  // position 2: window 0 has min(2,1)=1, window 1 min(0,3)=0 → window 0; position 3: 0 vs min(1,2)=1 → window 1
  assert.deepEqual(maxContextFlags(windows, 0), [true, true, true, false]);
  assert.deepEqual(maxContextFlags(windows, 1), [false, true, true, true]);
  assert.deepEqual(maxContextFlags([{ start: 0, end: 3 }], 0), [true, true, true]);
});
