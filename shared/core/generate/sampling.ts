/**
 * Per-token choice from one row's logits, as transformers' logits warpers and samplers do it: log-softmax,
 * greedy argmax (first maximum), temperature, top-k (TopKLogitsWarper: keep the k largest, ties at the k-th
 * value kept) and top-p (TopPLogitsWarper: drop the least likely tokens whose cumulative probability stays
 * ≤ 1 − top_p, always keeping the most likely one), applied in HF's order temperature → top-k → top-p,
 * then a draw from the remaining distribution with a seeded generator (random.ts), so a seed repeats the
 * same text. Plain JavaScript on Float32Array logits; filtered entries become -Infinity.
 */
import type { Rng } from "../random.ts";

/** log_softmax in double precision. */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const logZ = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - logZ;
  return out;
}

/** Index of the largest value (the first one on ties, as torch.argmax). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** logits / temperature (a copy). */
export function applyTemperature(logits: ArrayLike<number>, temperature: number): Float32Array {
  const out = Float32Array.from(logits);
  if (temperature !== 1) { for (let i = 0; i < out.length; i++) out[i] /= temperature; }
  return out;
}

/** Keeps the k largest logits (every logit equal to the k-th largest too), the rest -Infinity. k ≤ 0: no-op. */
export function topKFilter(logits: ArrayLike<number>, k: number): Float32Array {
  const out = Float32Array.from(logits);
  if (k <= 0 || k >= out.length) return out;
  const threshold = Float32Array.from(out).sort().reverse()[k - 1];
  for (let i = 0; i < out.length; i++) if (out[i] < threshold) out[i] = -Infinity;
  return out;
}

/**
 * Nucleus filtering as HF's TopPLogitsWarper: sort ascending, cumulative softmax, drop entries whose
 * cumulative probability is ≤ 1 − p (never the most likely one). p ≥ 1: no-op.
 */
export function topPFilter(logits: ArrayLike<number>, p: number): Float32Array {
  const out = Float32Array.from(logits);
  if (p >= 1) return out;
  const order = Array.from({ length: out.length }, (_, i) => i).sort((a, b) => out[a] - out[b] || b - a);
  const logProbs = logSoftmax(out);
  let cumulative = 0;
  for (let rank = 0; rank < order.length - 1; rank++) {
    cumulative += Math.exp(logProbs[order[rank]]);
    if (cumulative <= 1 - p) out[order[rank]] = -Infinity;
    else break;
  }
  return out;
}

export interface SamplingSettings {
  temperature: number;
  topK: number;
  topP: number;
}

/** Temperature → top-k → top-p on one row's logits. */
export function warpLogits(logits: ArrayLike<number>, settings: SamplingSettings): Float32Array {
  return topPFilter(topKFilter(applyTemperature(logits, settings.temperature), settings.topK), settings.topP);
}

/** A token drawn from softmax(logits) with one uniform number of `rng` (inverse CDF in index order). */
export function sampleToken(logits: ArrayLike<number>, rng: Rng): number {
  const logProbs = logSoftmax(logits);
  const u = rng.next();
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < logProbs.length; i++) {
    if (logProbs[i] === -Infinity) continue;
    cumulative += Math.exp(logProbs[i]);
    last = i;
    if (u < cumulative) return i;
  }
  return last; // rounding left u above the final cumulative sum
}
