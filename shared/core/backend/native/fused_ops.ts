/**
 * Fused tensor ops the model may call instead of their multi-op tfjs compositions: `dropout` (mask drawn by a
 * counter-based hash of (seed, element) instead of JavaScript random numbers, and recomputed — not stored —
 * for the gradient), the exact-erf `gelu` and `layerNorm` over the last axis (one pass forward, one pass
 * backward each). Each op runs the custom
 * kernel when the current backend has it registered (installNativeKernels does so for wasm) and otherwise
 * falls back to plain tfjs ops, so the model keeps working on every backend (cpu, webgl, tfjs-node-gpu).
 * Pure tfjs: no FFI here, safe to import from shared/core/model.
 * Note: with the kernel, dropout masks for a seed differ from tf.dropout's (both are valid Bernoulli masks).
 */
import * as tf from "@tensorflow/tfjs";

export const DROPOUT_KERNEL = "EdgetuneDropout";
export const GELU_KERNEL = "EdgetuneGelu";
export const GELU_GRAD_KERNEL = "EdgetuneGeluGrad";
export const LAYER_NORM_KERNEL = "EdgetuneLayerNorm";
export const LAYER_NORM_GRAD_KERNEL = "EdgetuneLayerNormGrad";

const hasKernel = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;

/** Inverted dropout: zeroes each element with probability `rate`, scales the rest by 1/(1-rate). */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seed?: number): T {
  if (rate <= 0) return x;
  if (!(rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  if (x.dtype !== "float32" || !hasKernel(DROPOUT_KERNEL)) return tf.dropout(x, rate, undefined, seed) as T;
  const attrs = { rate, seed: (seed ?? Math.floor(Math.random() * 4294967296)) >>> 0 };
  return tf.engine().runKernel(DROPOUT_KERNEL, { x }, attrs as unknown as tf.NamedAttrMap) as T;
}

/** Exact GELU, x·Φ(x) = 0.5·x·(1 + erf(x/√2)), as HF's "gelu" and torch.nn.GELU(). */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (x.dtype !== "float32" || !hasKernel(GELU_KERNEL) || !hasKernel(GELU_GRAD_KERNEL)) {
    return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1))) as T;
  }
  return tf.engine().runKernel(GELU_KERNEL, { x }) as T;
}

/** torch.nn.LayerNorm over the last axis: (x − mean)/√(var + eps)·gamma + beta, biased variance. */
export function layerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): T {
  const fused = x.dtype === "float32" && x.rank >= 1 && hasKernel(LAYER_NORM_KERNEL) &&
    hasKernel(LAYER_NORM_GRAD_KERNEL);
  if (!fused) {
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
      return tf.add(tf.mul(normalized, gamma), beta);
    }) as T;
  }
  return tf.engine().runKernel(LAYER_NORM_KERNEL, { x, gamma, beta }, { eps }) as T;
}

// The gradient of dropout is dropout of dy with the same mask: the same kernel, same seed.
tf.registerGradient({
  kernelName: DROPOUT_KERNEL,
  gradFunc: (dy, _saved, attrs) => ({
    x: () => tf.engine().runKernel(DROPOUT_KERNEL, { x: dy as tf.Tensor }, attrs) as tf.Tensor,
  }),
});

tf.registerGradient({
  kernelName: GELU_KERNEL,
  inputsToSave: ["x"],
  gradFunc: (dy, saved) => ({
    x: () => tf.engine().runKernel(GELU_GRAD_KERNEL, { dy: dy as tf.Tensor, x: saved[0] }) as tf.Tensor,
  }),
});

// dx and dgamma come from one native kernel each (statistics recomputed from x, nothing extra stored);
// dbeta is the plain sum of dy over the rows.
tf.registerGradient({
  kernelName: LAYER_NORM_KERNEL,
  inputsToSave: ["x", "gamma"],
  gradFunc: (dy, saved, attrs) => {
    const [x, gamma] = saved;
    const grad = (output: string) =>
      tf.engine().runKernel(LAYER_NORM_GRAD_KERNEL, { dy: dy as tf.Tensor, x, gamma }, {
        ...attrs,
        output,
      }) as tf.Tensor;
    const rowAxes = [...Array(x.rank - 1).keys()];
    return { x: () => grad("dx"), gamma: () => grad("dgamma"), beta: () => tf.sum(dy as tf.Tensor, rowAxes) };
  },
});
