/**
 * T5's building blocks as plain functions of tensors, transcribed from HF modeling_t5: T5LayerNorm (RMS norm
 * without mean subtraction or bias), the relative position buckets (`_relative_position_bucket`, evaluated
 * in float32 steps as torch does so boundary positions land in the same bucket), the per-head position bias
 * table, multi-head attention without the 1/sqrt(d) scaling (T5 folds it into the init) over [B*S, d]
 * activations with an additive bias, and the (optionally gated) feed-forward. Weights are 2-D, shaped like
 * PyTorch's Linear ([out, in], no biases).
 */
import * as tf from "@tensorflow/tfjs";
import { activation, ATTENTION_MASK_MIN, type Dropout } from "./layers.ts";
import type { T5Activation } from "./t5_config.ts";

const f32 = Math.fround;

/** T5LayerNorm: weight · x / sqrt(mean(x²) + eps) over the last axis. */
export function rmsNorm(x: tf.Tensor2D, weight: tf.Tensor1D, eps: number): tf.Tensor2D {
  const variance = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, eps))), weight);
}

/**
 * HF's T5Attention._relative_position_bucket for one relative position (memory − query): half the buckets
 * per direction when bidirectional (causal: only the past, future positions share bucket 0), exact buckets
 * below num_buckets/2 and logarithmic ones up to max_distance, the last bucket beyond.
 */
export function relativePositionBucket(
  relativePosition: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
): number {
  let buckets = 0;
  let n = numBuckets;
  let position = relativePosition;
  if (bidirectional) {
    n = Math.floor(n / 2);
    if (position > 0) buckets += n;
    position = Math.abs(position);
  } else {
    position = -Math.min(position, 0);
  }
  const maxExact = Math.floor(n / 2);
  if (position < maxExact) return buckets + position;
  // float32 arithmetic, step by step, as torch computes it (log(x / max_exact) / log(...) * (n - max_exact)).
  const ratio = f32(f32(position) / maxExact);
  const scaled = f32(f32(f32(Math.log(ratio)) / f32(Math.log(maxDistance / maxExact))) * (n - maxExact));
  const large = Math.min(maxExact + Math.trunc(scaled), n - 1);
  return buckets + large;
}

/**
 * The position bias [1, heads, q, k] of queries at positions queryStart.. (queryLength of them) over keys
 * 0..keyLength-1, from a relative_attention_bias table [numBuckets, heads].
 */
export function positionBias(
  table: tf.Tensor2D,
  queryStart: number,
  queryLength: number,
  keyLength: number,
  bidirectional: boolean,
  maxDistance: number,
): tf.Tensor4D {
  const [numBuckets, heads] = table.shape;
  const buckets = new Int32Array(queryLength * keyLength);
  for (let q = 0; q < queryLength; q++) {
    for (let k = 0; k < keyLength; k++) {
      buckets[q * keyLength + k] = relativePositionBucket(
        k - (queryStart + q),
        bidirectional,
        numBuckets,
        maxDistance,
      );
    }
  }
  const values = tf.gather(table, tf.tensor1d(buckets, "int32")); // [q*k, heads]
  return tf.reshape(tf.transpose(tf.reshape(values, [queryLength, keyLength, heads]), [2, 0, 1]), [
    1,
    heads,
    queryLength,
    keyLength,
  ]);
}

/** [B, S] 1/0 key mask → additive [B, 1, 1, S]. */
export function keyMaskBias(mask: tf.Tensor2D): tf.Tensor4D {
  const [b, s] = mask.shape;
  return tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, "float32")), ATTENTION_MASK_MIN), [b, 1, 1, s]);
}

/**
 * The decoder self-attention mask as an additive [B, 1, q, past+q] tensor: query i (absolute position
 * past+i) sees key j when j ≤ past+i and the key is a real token (HF multiplies causal and padding masks).
 */
export function causalMaskBias(
  past: number,
  queryLength: number,
  keyMask: tf.Tensor2D | null,
  rows: number,
): tf.Tensor4D {
  const keyLength = past + queryLength;
  const causal = new Float32Array(queryLength * keyLength);
  for (let i = 0; i < queryLength; i++) {
    for (let j = 0; j <= past + i; j++) causal[i * keyLength + j] = 1;
  }
  let allowed: tf.Tensor = tf.tensor4d(causal, [1, 1, queryLength, keyLength]);
  if (keyMask) {
    allowed = tf.mul(allowed, tf.reshape(tf.cast(keyMask, "float32"), [rows, 1, 1, keyLength]));
  }
  return tf.mul(tf.sub(1, allowed), ATTENTION_MASK_MIN) as tf.Tensor4D;
}

/** [B*S, heads*dk] → [B, heads, S, dk]. */
export function splitHeads(x: tf.Tensor2D, b: number, heads: number): tf.Tensor4D {
  const s = x.shape[0] / b;
  const dk = x.shape[1] / heads;
  return tf.transpose(tf.reshape(x, [b, s, heads, dk]), [0, 2, 1, 3]);
}

/**
 * softmax(q·kᵀ + bias) · v (no 1/sqrt(dk) scaling), attention dropout, then the output projection `o`;
 * q [B, heads, Sq, dk], k/v [B, heads, Sk, dk], bias broadcastable to [B, heads, Sq, Sk]. Returns [B*Sq, d].
 */
export function t5Attention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  bias: tf.Tensor4D,
  o: tf.Tensor2D,
  drop: Dropout,
  rate: number,
): tf.Tensor2D {
  const [b, heads, sq, dk] = q.shape;
  const scores = tf.add(tf.matMul(q, k, false, true), bias);
  const probs = drop(tf.softmax(scores, -1), rate);
  const context = tf.reshape(tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]), [b * sq, heads * dk]);
  return tf.matMul(context, o, false, true);
}

/** T5DenseActDense / T5DenseGatedActDense: wo(dropout(act(wi x))) or wo(dropout(act(wi_0 x) · wi_1 x)). */
export function feedForward(
  x: tf.Tensor2D,
  weights: { wi?: tf.Tensor2D; wi0?: tf.Tensor2D; wi1?: tf.Tensor2D; wo: tf.Tensor2D },
  act: T5Activation,
  drop: Dropout,
  rate: number,
): tf.Tensor2D {
  const linear = (w: tf.Tensor2D) => tf.matMul(x, w, false, true) as tf.Tensor2D;
  const apply = (y: tf.Tensor2D): tf.Tensor2D =>
    act === "silu" ? tf.mul(y, tf.sigmoid(y)) : activation(act, y);
  const hidden = weights.wi0
    ? tf.mul(apply(linear(weights.wi0)), linear(weights.wi1!))
    : apply(linear(weights.wi!));
  return tf.matMul(drop(hidden as tf.Tensor2D, rate), weights.wo, false, true);
}
