/**
 * One-pass native gradients for two tfjs ops the model uses as they are: Erf (its stock gradient is five
 * element-wise passes over the GELU-sized tensor) and Softmax over the last axis (four passes over the
 * attention probabilities). `installGradientOverrides` replaces the registered gradients of "Erf" and
 * "Softmax" with versions that call the native kernels when the current backend has them and otherwise
 * call the original tfjs gradient, so other backends and the uninstalled state behave exactly as before;
 * `restoreGradients` puts the originals back.
 */
import * as tf from "@tensorflow/tfjs";
import { sizeOf } from "./heap.ts";
import type { KernelFn, NativeContext } from "./kernels.ts";
import { pointwiseGradKernel } from "./elementwise.ts";

export const ERF_GRAD_KERNEL = "EdgetuneErfGrad";
export const SOFTMAX_GRAD_KERNEL = "EdgetuneSoftmaxGrad";

let originals: tf.GradConfig[] = [];

const hasKernel = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;

export function installGradientOverrides(): void {
  if (originals.length > 0) return;
  const erf = tf.getGradient("Erf"), softmax = tf.getGradient("Softmax");
  if (erf === undefined || softmax === undefined) return;
  originals = [erf, softmax];
  tf.registerGradient({
    ...erf,
    gradFunc: (dy, saved, attrs) => {
      const x = saved[0];
      if (x.dtype !== "float32" || !hasKernel(ERF_GRAD_KERNEL)) return erf.gradFunc(dy, saved, attrs);
      return { x: () => tf.engine().runKernel(ERF_GRAD_KERNEL, { dy: dy as tf.Tensor, x }) as tf.Tensor };
    },
  });
  tf.registerGradient({
    ...softmax,
    gradFunc: (dy, saved, attrs) => {
      const y = saved[0];
      const dim = (attrs as { dim: number }).dim;
      const lastAxis = dim === -1 || dim === y.rank - 1;
      if (y.dtype !== "float32" || !lastAxis || !hasKernel(SOFTMAX_GRAD_KERNEL)) {
        return softmax.gradFunc(dy, saved, attrs);
      }
      return {
        logits: () => tf.engine().runKernel(SOFTMAX_GRAD_KERNEL, { dy: dy as tf.Tensor, y }) as tf.Tensor,
      };
    },
  });
}

export function restoreGradients(): void {
  for (const config of originals) tf.registerGradient(config);
  originals = [];
}

/** Erf's gradient dy·2/√π·exp(−x²) in one pass. */
export function erfGradKernel(ctx: NativeContext): KernelFn {
  return pointwiseGradKernel(ctx, "et_erf_grad_f32");
}

export function softmaxGradKernel(ctx: NativeContext): KernelFn {
  return (args) => {
    const { dy, y } = args.inputs;
    const out = ctx.backend.makeOutput(y.shape, "float32");
    const cols = y.shape[y.shape.length - 1] ?? 1;
    const rows = cols === 0 ? 0 : sizeOf(y.shape) / cols;
    if (rows > 0) {
      ctx.lib!.symbols.et_softmax_grad_f32(
        ctx.heap.of(dy),
        ctx.heap.of(y),
        ctx.heap.of(out),
        BigInt(rows),
        BigInt(cols),
        ctx.threads,
      );
    }
    return out;
  };
}
