/**
 * Sampling: top-k and top-p filtering keep the hand-computed token sets (HF's TopK/TopPLogitsWarper rules,
 * ties at the k-th value kept, the most likely token always kept), temperature sharpens, draws follow the
 * distribution, and generate() with a seed is reproducible (and differs for another seed).
 */
import assert from "node:assert/strict";
import { generate } from "../../shared/core/generate/generate.ts";
import {
  applyTemperature,
  argmax,
  logSoftmax,
  sampleToken,
  topKFilter,
  topPFilter,
  warpLogits,
} from "../../shared/core/generate/sampling.ts";
import { createRng } from "../../shared/core/random.ts";
import { fakeCausalModel } from "./generate_fake_models.ts";

const kept = (filtered: Float32Array) => [...filtered].flatMap((v, i) => (v === -Infinity ? [] : [i]));
const ln = (probabilities: number[]) => Float32Array.from(probabilities, Math.log);

Deno.test("top-k keeps the k largest logits, ties at the k-th value included", () => {
  assert.deepEqual(kept(topKFilter([1, 3, 2, 3, 0], 2)), [1, 3]);
  assert.deepEqual(kept(topKFilter([1, 3, 2, 3, 0], 3)), [1, 2, 3]);
  assert.deepEqual(kept(topKFilter([1, 3, 3, 3, 0], 2)), [1, 2, 3]);
  assert.deepEqual(kept(topKFilter([1, 3, 2], 0)), [0, 1, 2], "k = 0 disables the filter");
  assert.deepEqual(kept(topKFilter([1, 3, 2], 5)), [0, 1, 2]);
  assert.deepEqual([...topKFilter([1, 3, 2], 1)], [-Infinity, 3, -Infinity]);
});

Deno.test("top-p keeps the smallest likeliest set whose mass exceeds p, never dropping the top token", () => {
  const probs = ln([0.5, 0.3, 0.15, 0.05]);
  assert.deepEqual(kept(topPFilter(probs, 0.9)), [0, 1, 2]); // drop 0.05 (cumulative 0.05 ≤ 0.1)
  assert.deepEqual(kept(topPFilter(probs, 0.75)), [0, 1]); // drop 0.05, 0.15 (cumulative 0.2 ≤ 0.25)
  assert.deepEqual(kept(topPFilter(probs, 0.1)), [0]);
  assert.deepEqual(kept(topPFilter(probs, 0.001)), [0]);
  assert.deepEqual(kept(topPFilter(probs, 1)), [0, 1, 2, 3]);
  // Order does not matter: the same set by value.
  assert.deepEqual(kept(topPFilter(ln([0.15, 0.05, 0.5, 0.3]), 0.75)), [2, 3]);
  // top-k before top-p (HF's order): k = 3 removes 0.05, then top-p renormalises over the rest.
  assert.deepEqual(kept(warpLogits(probs, { temperature: 1, topK: 3, topP: 0.8 })), [0, 1]);
});

Deno.test("temperature divides logits; log-softmax and argmax", () => {
  assert.deepEqual([...applyTemperature([2, -4, 1], 2)], [1, -2, 0.5]);
  const lp = logSoftmax([0, Math.log(3)]);
  assert.ok(Math.abs(Math.exp(lp[0]) - 0.25) < 1e-12 && Math.abs(Math.exp(lp[1]) - 0.75) < 1e-12);
  assert.equal(argmax([1, 5, 5, 2]), 1, "first maximum on ties");
});

Deno.test("draws follow the distribution; low temperature concentrates on the argmax", () => {
  const rng = createRng(3);
  const counts = [0, 0, 0];
  const n = 6000;
  for (let i = 0; i < n; i++) counts[sampleToken(ln([0.5, 0.3, 0.2]), rng)]++;
  [0.5, 0.3, 0.2].forEach((p, i) =>
    assert.ok(Math.abs(counts[i] / n - p) < 0.03, `token ${i}: ${counts[i] / n}`)
  );
  const sharp = [0, 0, 0];
  for (let i = 0; i < 500; i++) sharp[sampleToken(applyTemperature(ln([0.5, 0.3, 0.2]), 0.05), rng)]++;
  assert.ok(sharp[0] >= 495, `temperature 0.05 picks the argmax: ${sharp}`);
  // A filtered token is never drawn.
  for (let i = 0; i < 500; i++) assert.notEqual(sampleToken(topKFilter(ln([0.4, 0.2, 0.4]), 2), rng), 1);
});

Deno.test("seeded sampling is reproducible and differs across seeds", async () => {
  const model = fakeCausalModel(6, 1, () => [0.02, 0.2, 0.2, 0.2, 0.19, 0.19]);
  const options = { maxNewTokens: 20, doSample: true, topK: 0, numReturnSequences: 2 };
  const a = await generate(model, [1], { ...options, seed: 11 });
  const b = await generate(model, [1], { ...options, seed: 11 });
  const c = await generate(model, [1], { ...options, seed: 12 });
  assert.deepEqual(a.sequences, b.sequences);
  assert.notDeepEqual(a.sequences.map((s) => s.tokens), c.sequences.map((s) => s.tokens));
  assert.notDeepEqual(a.sequences[0].tokens, a.sequences[1].tokens, "independent samples per sequence");
  // top-k 1 is greedy (distinct probabilities: ties at the k-th value would all be kept).
  const peaked = fakeCausalModel(4, 1, (g) => (g.length % 2 ? [0.1, 0.4, 0.3, 0.2] : [0.1, 0.2, 0.3, 0.4]));
  const greedy = await generate(peaked, [1], { maxNewTokens: 5, eosTokenId: null });
  const topOne = await generate(peaked, [1], {
    maxNewTokens: 5,
    eosTokenId: null,
    doSample: true,
    topK: 1,
    seed: 5,
  });
  assert.deepEqual(topOne.sequences[0].tokens, greedy.sequences[0].tokens);
});
