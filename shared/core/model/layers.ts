/**
 * The small functional building blocks of the BERT forward pass, each a plain function of tensors: a dense
 * layer with a PyTorch-shaped weight ([out, in], so `x @ W^T + b`), LayerNorm over the last axis, the
 * activations HF BERT configs name, HF's additive attention mask, and seeded dropout. Dense layers take 2-D
 * activations only (tfjs 4.22 cannot differentiate a rank-3 × rank-2 matMul).
 */
import * as tf from "@tensorflow/tfjs";
import type { BertActivation } from "./config.ts";
import {
  dropout as fusedDropout,
  gelu as fusedGelu,
  layerNorm as fusedLayerNorm,
} from "../backend/native/fused_ops.ts";

/** torch.finfo(torch.float32).min: what HF adds to the attention scores of padding positions. */
export const ATTENTION_MASK_MIN = -3.4028234663852886e38;

/** y = x @ weight^T + bias, weight shaped [out, in] like torch.nn.Linear. */
export function dense(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.add(tf.matMul(x, weight, false, true), bias);
}

/** torch.nn.LayerNorm over the last axis (biased variance, eps inside the square root). */
export function layerNorm(x: tf.Tensor2D, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor2D {
  // One fused kernel (and gradient) where the native kernels are installed; tf.moments et al. elsewhere.
  return fusedLayerNorm(x, weight, bias, eps);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** The activation named by `hidden_act`: "gelu" is the exact erf form, as HF and PyTorch's nn.GELU(). */
export function activation(name: BertActivation, x: tf.Tensor2D): tf.Tensor2D {
  switch (name) {
    case "gelu":
      return fusedGelu(x);
    case "gelu_new":
    case "gelu_pytorch_tanh": {
      const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI);
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
    }
    case "relu":
      return tf.relu(x);
  }
}

/** [B, S] 1/0 mask → [B, 1, 1, S] additive mask: 0 where attended, ATTENTION_MASK_MIN where padding. */
export function extendedAttentionMask(attentionMask: tf.Tensor2D): tf.Tensor4D {
  const [batch, seq] = attentionMask.shape;
  const inverted = tf.sub(1, tf.cast(attentionMask, "float32"));
  return tf.reshape(tf.mul(inverted, ATTENTION_MASK_MIN), [batch, 1, 1, seq]);
}

/**
 * Dropout for one forward pass. In training each call draws a fresh mask from a seed derived from the pass
 * seed and the call's position in the pass, so the same (weights, batch, seed) gives the same output.
 */
export type Dropout = <T extends tf.Tensor>(x: T, rate: number) => T;

export function makeDropout(training: boolean, seed: number | undefined): Dropout {
  if (!training) return (x) => x;
  let call = 0;
  return <T extends tf.Tensor>(x: T, rate: number): T => {
    call++;
    if (rate <= 0) return x;
    const callSeed = seed === undefined ? undefined : mixSeed(seed, call);
    return fusedDropout(x, rate, callSeed) as T;
  };
}

/** A 32-bit hash of two integers (murmur3 finalizer), used to derive independent seeds. */
export function mixSeed(a: number, b: number): number {
  let h = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul(b | 0, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
