/**
 * Native element-wise and gather kernels for the wasm backend (C code in edgetune_native.c, AVX-512 and two
 * threads where the wasm backend has 128-bit SIMD and one thread): binary arithmetic with numpy
 * broadcasting, unary math (Erf and Exp use the same Abramowitz–Stegun / Cephes formulas tfjs kernels use,
 * within 2 ulp), row gathers for embeddings and their gradient (UnsortedSegmentSum). Non-float32 inputs and
 * unsupported attributes go to the stock kernel.
 */
import * as tf from "@tensorflow/tfjs";
import { sizeOf } from "./heap.ts";
import type { KernelFn, NativeContext } from "./kernels.ts";

/** Binary op codes of et_binary_f32. */
export const BINARY_OPS: Record<string, number> = {
  Add: 0,
  Sub: 1,
  Multiply: 2,
  RealDiv: 3,
  Maximum: 4,
  Minimum: 5,
  SquaredDifference: 6,
};

/** Unary op codes of et_unary_f32. */
export const UNARY_OPS: Record<string, number> = {
  Neg: 0,
  Exp: 1,
  Erf: 2,
  Sqrt: 3,
  Rsqrt: 4,
  Square: 5,
  Floor: 6,
  Abs: 7,
  Reciprocal: 8,
  Relu: 9,
  Tanh: 10,
  Log: 11,
  Sigmoid: 12,
};

export function binaryKernel(op: number) {
  return (ctx: NativeContext, stock: KernelFn): KernelFn => (args) => {
    const { a, b } = args.inputs;
    const lib = ctx.lib;
    if (a.dtype !== "float32" || b.dtype !== "float32" || lib === undefined) return stock(args);
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (outShape.length > 8) return stock(args);
    const out = ctx.backend.makeOutput(outShape, "float32");
    if (sizeOf(outShape) === 0) return out;
    const pad = (shape: number[]) =>
      new Int32Array([...Array(outShape.length - shape.length).fill(1), ...shape]);
    const status = lib.symbols.et_binary_f32(
      op,
      ctx.heap.of(a),
      pad(a.shape),
      ctx.heap.of(b),
      pad(b.shape),
      ctx.heap.of(out),
      outShape.length,
      ctx.threads,
    );
    if (status !== 0) throw new Error(`native binary op ${op} failed for ${a.shape} and ${b.shape}`);
    return out;
  };
}

export function unaryKernel(op: number) {
  return (ctx: NativeContext, stock: KernelFn): KernelFn => (args) => {
    const { x } = args.inputs;
    const lib = ctx.lib;
    if (x.dtype !== "float32" || lib === undefined) return stock(args);
    const out = ctx.backend.makeOutput(x.shape, "float32");
    const n = sizeOf(x.shape);
    if (n === 0) return out;
    lib.symbols.et_unary_f32(op, ctx.heap.of(x), ctx.heap.of(out), BigInt(n), ctx.threads);
    return out;
  };
}

/** GatherV2 along axis 0 without batch dims (embedding lookups); other cases use the stock kernel. */
export function gatherKernel(ctx: NativeContext, stock: KernelFn): KernelFn {
  return (args) => {
    const { x, indices } = args.inputs;
    const { axis, batchDims } = args.attrs as { axis: number; batchDims?: number };
    const lib = ctx.lib;
    const parsedAxis = tf.util.parseAxisParam(axis, x.shape)[0];
    if (
      lib === undefined || (x.dtype !== "float32" && x.dtype !== "int32") || indices.dtype !== "int32" ||
      parsedAxis !== 0 || (batchDims ?? 0) !== 0 || x.shape.length === 0
    ) return stock(args);
    const rowSize = sizeOf(x.shape.slice(1));
    const count = sizeOf(indices.shape);
    const out = ctx.backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    if (count === 0 || rowSize === 0) return out;
    lib.symbols.et_gather_rows_f32(
      ctx.heap.of(x),
      ctx.heap.of(indices),
      ctx.heap.of(out),
      BigInt(count),
      BigInt(x.shape[0]),
      BigInt(rowSize),
    );
    return out;
  };
}

/** UnsortedSegmentSum over the leading dimensions that segmentIds covers (the gradient of gather). */
export function segmentSumKernel(ctx: NativeContext, stock: KernelFn): KernelFn {
  return (args) => {
    const { x, segmentIds } = args.inputs;
    const { numSegments } = args.attrs as { numSegments: number };
    const lib = ctx.lib;
    if (lib === undefined || x.dtype !== "float32" || segmentIds.dtype !== "int32") return stock(args);
    const rows = sizeOf(segmentIds.shape);
    const covered = x.shape.slice(0, segmentIds.shape.length);
    if (covered.join(",") !== segmentIds.shape.join(",")) return stock(args);
    const rowSize = sizeOf(x.shape.slice(segmentIds.shape.length));
    const out = ctx.backend.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], "float32");
    if (numSegments * rowSize === 0) return out;
    lib.symbols.et_segment_sum_rows_f32(
      ctx.heap.of(x),
      ctx.heap.of(segmentIds),
      ctx.heap.of(out),
      BigInt(rows),
      BigInt(numSegments),
      BigInt(rowSize),
    );
    return out;
  };
}

/** EdgetuneDropout (see fused_ops.ts): y = x · mask(seed), the mask recomputed from (seed, index). */
export function dropoutKernel(ctx: NativeContext): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    const { rate, seed } = args.attrs as { rate: number; seed: number };
    const out = ctx.backend.makeOutput(x.shape, "float32");
    const n = sizeOf(x.shape);
    if (n === 0) return out;
    ctx.lib!.symbols.et_dropout_f32(
      ctx.heap.of(x),
      ctx.heap.of(out),
      null,
      BigInt(n),
      1 - rate,
      BigInt(seed >>> 0),
      ctx.threads,
    );
    return out;
  };
}

/** EdgetuneGelu: y = 0.5·x·(1 + erf(x/√2)) in one pass. */
export function geluKernel(ctx: NativeContext): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    const out = ctx.backend.makeOutput(x.shape, "float32");
    const n = sizeOf(x.shape);
    if (n > 0) ctx.lib!.symbols.et_gelu_f32(ctx.heap.of(x), ctx.heap.of(out), BigInt(n), ctx.threads);
    return out;
  };
}

/** A gradient that is dy times a function of x, element by element, computed in one native pass. */
export function pointwiseGradKernel(
  ctx: NativeContext,
  symbol: "et_gelu_grad_f32" | "et_erf_grad_f32",
): KernelFn {
  return (args) => {
    const { dy, x } = args.inputs;
    const out = ctx.backend.makeOutput(x.shape, "float32");
    const n = sizeOf(x.shape);
    if (n > 0) {
      ctx.lib!.symbols[symbol](ctx.heap.of(dy), ctx.heap.of(x), ctx.heap.of(out), BigInt(n), ctx.threads);
    }
    return out;
  };
}

/** EdgetuneGeluGrad: dx = dy·(Φ(x) + x·φ(x)) in one pass. */
export function geluGradKernel(ctx: NativeContext): KernelFn {
  return pointwiseGradKernel(ctx, "et_gelu_grad_f32");
}

/** EdgetuneLayerNorm: layer norm over the last axis of x with gamma, beta of that length. */
export function layerNormKernel(ctx: NativeContext): KernelFn {
  return (args) => {
    const { x, gamma, beta } = args.inputs;
    const { eps } = args.attrs as { eps: number };
    const h = x.shape[x.shape.length - 1];
    const out = ctx.backend.makeOutput(x.shape, "float32");
    const rows = h === 0 ? 0 : sizeOf(x.shape) / h;
    if (rows > 0) {
      ctx.lib!.symbols.et_layer_norm_f32(
        ctx.heap.of(x),
        ctx.heap.of(gamma),
        ctx.heap.of(beta),
        ctx.heap.of(out),
        BigInt(rows),
        BigInt(h),
        eps,
        ctx.threads,
      );
    }
    return out;
  };
}

/** EdgetuneLayerNormGrad: dx (attr output "dx") or dgamma (output "dgamma") of EdgetuneLayerNorm. */
export function layerNormGradKernel(ctx: NativeContext): KernelFn {
  return (args) => {
    const { dy, x, gamma } = args.inputs;
    const { eps, output } = args.attrs as { eps: number; output: "dx" | "dgamma" };
    const h = x.shape[x.shape.length - 1];
    const rows = h === 0 ? 0 : sizeOf(x.shape) / h;
    const wantDx = output === "dx";
    const out = ctx.backend.makeOutput(wantDx ? x.shape : [h], "float32");
    const scratch = wantDx ? undefined : ctx.backend.makeOutput([h], "float32"); // dbeta, discarded
    try {
      if (rows === 0) {
        const offset = ctx.backend.dataIdMap.get(out.dataId)!.memoryOffset;
        ctx.backend.wasm.HEAPU8.fill(0, offset, offset + 4 * sizeOf(out.shape));
        return out;
      }
      const status = ctx.lib!.symbols.et_layer_norm_grad_f32(
        ctx.heap.of(dy),
        ctx.heap.of(x),
        ctx.heap.of(gamma),
        wantDx ? ctx.heap.of(out) : null,
        wantDx ? null : ctx.heap.of(out),
        scratch ? ctx.heap.of(scratch) : null,
        BigInt(rows),
        BigInt(h),
        eps,
        ctx.threads,
      );
      if (status !== 0) throw new Error("native layer norm gradient: out of memory");
      return out;
    } finally {
      if (scratch) (ctx.backend as unknown as { disposeData(id: object): void }).disposeData(scratch.dataId);
    }
  };
}
