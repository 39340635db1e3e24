/**
 * The native replacements for tfjs wasm kernels. Each factory returns a kernel function that handles the
 * cases it supports natively (float32 data on the wasm heap) and hands everything else to the stock wasm
 * kernel it replaces, so the registry swap never changes results beyond float rounding.
 *   BatchMatMul, _FusedMatMul  cblas_sgemm (OpenBLAS) in place; every transpose/broadcast case
 *   Transpose, Sum, Mean      C kernels (edgetune_native.c), two threads for large tensors
 *   element-wise math, gathers  see elementwise.ts
 *   Identity, same-type Cast  share the input's data (reference count) instead of copying it
 */
import * as tf from "@tensorflow/tfjs";
import { HeapPointers, sizeOf, type TensorInfoLike, type WasmBackendInternals } from "./heap.ts";
import { blasMatMul, type Sgemm } from "./openblas.ts";
import type { NativeLibrary } from "./native_lib.ts";

// deno-lint-ignore no-explicit-any
type KernelArgs = { inputs: Record<string, any>; backend: any; attrs?: Record<string, any> };
export type KernelFn = (args: KernelArgs) => TensorInfoLike | TensorInfoLike[];

/** Shared state every native kernel needs. */
export interface NativeContext {
  backend: WasmBackendInternals;
  heap: HeapPointers;
  sgemm?: Sgemm;
  lib?: NativeLibrary;
  threads: number;
}

export function batchMatMulKernel(ctx: NativeContext, stock: KernelFn): KernelFn {
  return (args) => {
    const { a, b } = args.inputs;
    if (a.dtype !== "float32" || b.dtype !== "float32" || ctx.sgemm === undefined) return stock(args);
    const attrs = args.attrs as { transposeA: boolean; transposeB: boolean };
    return blasMatMul(ctx.backend, ctx.heap, ctx.sgemm, a, b, attrs);
  };
}

/** _FusedMatMul with an optional rank-1 bias and a linear or relu activation; others go to the stock kernel. */
export function fusedMatMulKernel(ctx: NativeContext, stock: KernelFn): KernelFn {
  return (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const attrs = args.attrs as { transposeA: boolean; transposeB: boolean; activation?: string };
    const activation = attrs.activation ?? "linear";
    const supported = a.dtype === "float32" && b.dtype === "float32" && ctx.sgemm !== undefined &&
      preluActivationWeights == null && (activation === "linear" || activation === "relu") &&
      (bias == null || (bias.dtype === "float32" && bias.shape.length <= 1));
    if (!supported) return stock(args);
    const prefill = bias == null ? undefined : (out: TensorInfoLike, n: number) => {
      const heap = ctx.backend.wasm.HEAPU8.buffer;
      const outOffset = ctx.backend.dataIdMap.get(out.dataId)!.memoryOffset;
      const biasOffset = ctx.backend.dataIdMap.get(bias.dataId)!.memoryOffset;
      const rows = sizeOf(out.shape) / n;
      const dst = new Float32Array(heap, outOffset, rows * n);
      const size = sizeOf(bias.shape);
      if (size === n) {
        const row = new Float32Array(heap, biasOffset, n);
        for (let r = 0; r < rows; r++) dst.set(row, r * n);
      } else {
        dst.fill(new Float32Array(heap, biasOffset, 1)[0]);
      }
      return true;
    };
    const out = blasMatMul(ctx.backend, ctx.heap, ctx.sgemm!, a, b, attrs, prefill);
    if (activation === "relu") {
      const data = ctx.backend.dataIdMap.get(out.dataId)!;
      const view = new Float32Array(ctx.backend.wasm.HEAPU8.buffer, data.memoryOffset, sizeOf(out.shape));
      for (let i = 0; i < view.length; i++) if (view[i] < 0) view[i] = 0;
    }
    return out;
  };
}

/** Identity without a copy: the output shares the input's data and bumps its reference count. */
export function identityKernel(ctx: NativeContext, stock: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    if (x.dtype === "string") return stock(args);
    ctx.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  };
}

/** Cast to the same dtype (tfjs gradients do this a lot) shares data like Identity; real conversions use stock. */
export function castKernel(ctx: NativeContext, stock: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    const { dtype } = args.attrs as { dtype: string };
    if (x.dtype !== dtype || x.dtype === "string") return stock(args);
    ctx.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  };
}

export function transposeKernel(ctx: NativeContext, stock: KernelFn): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    const perm = (args.attrs as { perm: number[] }).perm;
    if ((x.dtype !== "float32" && x.dtype !== "int32") || ctx.lib === undefined || perm.length > 8) {
      return stock(args);
    }
    const outShape = perm.map((p) => x.shape[p]);
    const out = ctx.backend.makeOutput(outShape, x.dtype);
    if (sizeOf(outShape) === 0) return out;
    const status = ctx.lib.symbols.et_transpose_f32(
      ctx.heap.of(x),
      ctx.heap.of(out),
      new Int32Array(x.shape),
      new Int32Array(perm),
      perm.length,
      ctx.threads,
    );
    if (status !== 0) throw new Error(`native transpose failed for shape ${x.shape} perm ${perm}`);
    return out;
  };
}

/**
 * Reduces the axes to one [outer, reduce, inner] view: size-1 axes are ignored and neighbouring axes of the
 * same kind merged. Returns undefined for patterns like reduce-keep-reduce that need a transpose first.
 */
export function reductionView(
  shape: readonly number[],
  axes: readonly number[],
): { outer: number; reduce: number; inner: number } | undefined {
  const segments: { reduce: boolean; size: number }[] = [];
  shape.forEach((size, i) => {
    if (size === 1) return;
    const reduce = axes.includes(i);
    const last = segments[segments.length - 1];
    if (last !== undefined && last.reduce === reduce) last.size *= size;
    else segments.push({ reduce, size });
  });
  const kinds = segments.map((s) => (s.reduce ? "R" : "K")).join("");
  const size = (i: number) => segments[i].size;
  switch (kinds) {
    case "":
      return { outer: 1, reduce: 1, inner: 1 };
    case "R":
      return { outer: 1, reduce: size(0), inner: 1 };
    case "K":
      return { outer: size(0), reduce: 1, inner: 1 };
    case "KR":
      return { outer: size(0), reduce: size(1), inner: 1 };
    case "RK":
      return { outer: 1, reduce: size(0), inner: size(1) };
    case "KRK":
      return { outer: size(0), reduce: size(1), inner: size(2) };
    default:
      return undefined;
  }
}

/** Sum, or Mean when `mean` is set (same reduction, scaled by 1/count). */
export function sumKernel(ctx: NativeContext, stock: KernelFn, mean = false): KernelFn {
  return (args) => {
    const { x } = args.inputs;
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    if (x.dtype !== "float32" || ctx.lib === undefined) return stock(args);
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const view = reductionView(x.shape, axes);
    if (view === undefined || sizeOf(x.shape) === 0) return stock(args);
    const [reducedShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const outShape = keepDims ? tf.backend_util.expandShapeToKeepDim(reducedShape, axes) : reducedShape;
    const out = ctx.backend.makeOutput(outShape, "float32");
    ctx.lib.symbols.et_sum_f32(
      ctx.heap.of(x),
      ctx.heap.of(out),
      BigInt(view.outer),
      BigInt(view.reduce),
      BigInt(view.inner),
      mean ? 1 / view.reduce : 1,
      ctx.threads,
    );
    return out;
  };
}

export function meanKernel(ctx: NativeContext, stock: KernelFn): KernelFn {
  return sumKernel(ctx, stock, true);
}
