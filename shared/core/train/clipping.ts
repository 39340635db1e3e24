/**
 * Gradient clipping on a name → gradient map, as torch.nn.utils: `clipByGlobalNorm` follows clip_grad_norm_
 * (L2 norm over all gradients; every gradient is scaled by min(1, maxNorm / (norm + 1e-6))) and returns the
 * norm before clipping, which the loop reports; `clipByValue` follows clip_grad_value_. Neither disposes its
 * inputs: when nothing needs scaling the returned map holds the very same tensors, otherwise new ones, so the
 * caller disposes both maps (disposing a tensor twice is harmless in tfjs). Cheaper still: compute
 * `clipCoefficient(globalNorm(grads), maxNorm)` and pass it to Optimizer.step as gradScale — no new tensors.
 */
import * as tf from "@tensorflow/tfjs";

/** Read-only view of a float32 tensor's storage on the wasm/cpu backends, else null. */
function hostView(t: tf.Tensor): Float32Array | null {
  if (t.dtype !== "float32") return null;
  const backend = tf.backend() as unknown as {
    typedArrayFromHeap?: (t: tf.TensorInfo) => Float32Array;
    data?: { get(id: object): { values?: unknown } | undefined };
  };
  if (tf.getBackend() === "wasm") return backend.typedArrayFromHeap!(t);
  const values = tf.getBackend() === "cpu" ? backend.data?.get(t.dataId)?.values : undefined;
  return values instanceof Float32Array && values.length === t.size ? values : null;
}

/**
 * L2 norm over all gradients together. Empty map → 0. On wasm/cpu it sums squares in float64 straight from
 * the tensors' storage (faster, and exact where tfjs's float32 running sum drifts by ~0.3% over millions of
 * elements); elsewhere one tfjs reduction and a sync.
 */
export function globalNorm(grads: Map<string, tf.Tensor>): number {
  if (grads.size === 0) return 0;
  let sumSq = 0;
  const onDevice: tf.Tensor[] = [];
  for (const g of grads.values()) {
    const values = hostView(g);
    if (values === null) {
      onDevice.push(g);
      continue;
    }
    let partial = 0;
    for (let i = 0; i < values.length; i++) partial += values[i] * values[i];
    sumSq += partial;
  }
  if (onDevice.length > 0) {
    const deviceSum = tf.tidy(() => tf.addN(onDevice.map((g) => tf.sum(tf.mul(g, g)))));
    sumSq += deviceSum.dataSync()[0];
    deviceSum.dispose();
  }
  return Math.sqrt(sumSq);
}

/** torch's clip coefficient: min(1, maxNorm / (norm + 1e-6)); NaN for a non-finite norm, as torch. */
export function clipCoefficient(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new Error(`clipByGlobalNorm: maxNorm must be > 0, got ${maxNorm}`);
  return Math.min(1, maxNorm / (norm + 1e-6));
}

export function clipByGlobalNorm(
  grads: Map<string, tf.Tensor>,
  maxNorm: number,
): { grads: Map<string, tf.Tensor>; norm: number } {
  if (!(maxNorm > 0)) throw new Error(`clipByGlobalNorm: maxNorm must be > 0, got ${maxNorm}`);
  const norm = globalNorm(grads);
  // torch multiplies by the clamped coefficient unconditionally; a factor of exactly 1 changes nothing, and a
  // non-finite norm propagates NaN/Inf into the gradients just as torch does (error_if_nonfinite=False).
  const coef = clipCoefficient(norm, maxNorm);
  if (coef === 1) return { grads: new Map(grads), norm };
  const clipped = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) clipped.set(name, tf.mul(g, coef));
  return { grads: clipped, norm };
}

export function clipByValue(grads: Map<string, tf.Tensor>, maxValue: number): Map<string, tf.Tensor> {
  if (!(maxValue > 0)) throw new Error(`clipByValue: maxValue must be > 0, got ${maxValue}`);
  const clipped = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) clipped.set(name, tf.clipByValue(g, -maxValue, maxValue));
  return clipped;
}
