/**
 * OpenBLAS through Deno FFI: locating the library, choosing its CPU kernels, and the `BatchMatMul` and
 * `_FusedMatMul` kernels that run `cblas_sgemm` in place on the tfjs wasm heap. Handles every transpose
 * combination, batch dimensions with broadcasting (a batch of 1 against N, or any broadcastable batch
 * shapes), and picks 1 or 2 BLAS threads per call (two threads pay only for large products).
 * OpenBLAS reads `OPENBLAS_CORETYPE` when it loads; Debian's 0.3.21 does not recognise recent Xeons and
 * falls back to SSE3 kernels, so `chooseCoreType` picks the best type the CPU flags allow before dlopen.
 */
import { HeapPointers, sizeOf, type TensorInfoLike, type WasmBackendInternals } from "./heap.ts";

const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

const BLAS_SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "pointer",
      "i32",
      "pointer",
      "i32",
      "f32",
      "pointer",
      "i32",
    ],
    result: "void",
  },
  openblas_set_num_threads: { parameters: ["i32"], result: "void" },
  openblas_get_num_threads: { parameters: [], result: "i32" },
  openblas_get_corename: { parameters: [], result: "pointer" },
} as const;

export type BlasLibrary = Deno.DynamicLibrary<typeof BLAS_SYMBOLS>;

/** Library paths tried in order when none is given (Debian/Ubuntu, Fedora, local builds). */
export const DEFAULT_BLAS_PATHS = [
  "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
  "/etc/alternatives/libopenblas.so.0-x86_64-linux-gnu",
  "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
  "/usr/lib64/libopenblas.so.0",
  "/usr/local/lib/libopenblas.so.0",
  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
];

/** Best OpenBLAS core type for a /proc/cpuinfo text; undefined leaves OpenBLAS's own detection. */
export function chooseCoreType(cpuinfo: string): string | undefined {
  const flagsLine = cpuinfo.split("\n").find((line) => line.startsWith("flags")) ?? "";
  const flags = new Set(flagsLine.split(":")[1]?.trim().split(/\s+/) ?? []);
  if (["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"].every((f) => flags.has(f))) {
    return "SkylakeX";
  }
  if (flags.has("avx2") && flags.has("fma")) return "Haswell";
  if (flags.has("avx")) return "Sandybridge";
  return undefined;
}

/** Opens OpenBLAS; the caller must have set OPENBLAS_CORETYPE already. */
export function openBlas(path: string): { library: BlasLibrary; coreName: string } {
  const library = Deno.dlopen(path, BLAS_SYMBOLS);
  const namePointer = library.symbols.openblas_get_corename();
  const coreName = namePointer === null ? "unknown" : new Deno.UnsafePointerView(namePointer).getCString();
  return { library, coreName };
}

/** Thread policy: two threads only when one product has at least `minFlopsForThreads` multiply-adds. */
export interface BlasThreadPolicy {
  maxThreads: number;
  minFlopsForThreads: number;
}

/** Calls cblas_sgemm with a thread count chosen per call, remembering the last setting. */
export class Sgemm {
  #threads = -1;
  constructor(private readonly blas: BlasLibrary, private readonly policy: BlasThreadPolicy) {}

  /**
   * Optional batched product in C (edgetune_native.c) that splits a batch of small products over threads,
   * each running single-threaded OpenBLAS; set by installNativeKernels when the C library is present.
   */
  batched?: (
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Deno.PointerObject,
    aIndex: Int32Array,
    b: Deno.PointerObject,
    bIndex: Int32Array,
    c: Deno.PointerObject,
    batch: number,
    beta: number,
  ) => void;

  get maxThreads(): number {
    return this.policy.maxThreads;
  }

  /** Sets OpenBLAS's thread count when it differs from the last setting. */
  useThreads(threads: number): void {
    if (threads !== this.#threads) {
      this.blas.symbols.openblas_set_num_threads(threads);
      this.#threads = threads;
    }
  }

  /** Row-major C[m,n] = alpha * op(A) op(B) + beta * C. */
  call(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Deno.PointerObject,
    b: Deno.PointerObject,
    c: Deno.PointerObject,
    beta: number,
    batch = 1,
  ): void {
    this.useThreads(m * n * k >= this.policy.minFlopsForThreads && batch < 4 ? this.policy.maxThreads : 1);
    this.blas.symbols.cblas_sgemm(
      CBLAS_ROW_MAJOR,
      transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
      transB ? CBLAS_TRANS : CBLAS_NO_TRANS,
      m,
      n,
      k,
      1,
      a,
      transA ? m : k,
      b,
      transB ? k : n,
      beta,
      c,
      n,
    );
  }
}

/** Element offsets (in matrices) of A and B for each output batch index, with numpy broadcasting. */
export function broadcastBatchOffsets(
  batchA: number[],
  batchB: number[],
): { outBatch: number[]; aIndex: Int32Array; bIndex: Int32Array } {
  const rank = Math.max(batchA.length, batchB.length);
  const padA = Array(rank - batchA.length).fill(1).concat(batchA) as number[];
  const padB = Array(rank - batchB.length).fill(1).concat(batchB) as number[];
  const outBatch = padA.map((d, i) => {
    const e = padB[i];
    if (d !== e && d !== 1 && e !== 1) {
      throw new Error(`matMul: batch dimensions ${batchA} and ${batchB} cannot be broadcast`);
    }
    return Math.max(d, e);
  });
  const total = sizeOf(outBatch);
  const aIndex = new Int32Array(total);
  const bIndex = new Int32Array(total);
  const strides = (dims: number[]) => {
    const s = Array(rank).fill(0) as number[];
    let acc = 1;
    for (let i = rank - 1; i >= 0; i--) {
      s[i] = dims[i] === 1 ? 0 : acc;
      acc *= dims[i];
    }
    return s;
  };
  const sa = strides(padA), sb = strides(padB);
  const idx = Array(rank).fill(0) as number[];
  for (let o = 0; o < total; o++) {
    let ia = 0, ib = 0;
    for (let d = 0; d < rank; d++) {
      ia += idx[d] * sa[d];
      ib += idx[d] * sb[d];
    }
    aIndex[o] = ia;
    bIndex[o] = ib;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outBatch[d]) break;
      idx[d] = 0;
    }
  }
  return { outBatch, aIndex, bIndex };
}

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** Computes op(a) @ op(b) into a new wasm tensor; `prefill` may write C first (then beta = 1). */
export function blasMatMul(
  backend: WasmBackendInternals,
  heap: HeapPointers,
  sgemm: Sgemm,
  a: TensorInfoLike,
  b: TensorInfoLike,
  { transposeA, transposeB }: MatMulAttrs,
  prefill?: (out: TensorInfoLike, n: number) => boolean,
): TensorInfoLike {
  const ra = a.shape.length, rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) {
    throw new Error(
      `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} ` +
        `and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const { outBatch, aIndex, bIndex } = broadcastBatchOffsets(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = backend.makeOutput([...outBatch, m, n], "float32");
  const batch = aIndex.length;
  if (m * n === 0 || batch === 0) return out;
  const beta = prefill !== undefined && prefill(out, n) ? 1 : 0;
  if (k === 0) { // an empty sum: C = bias (already written) or zeros
    if (beta === 0) {
      const data = backend.dataIdMap.get(out.dataId)!;
      backend.wasm.HEAPU8.fill(0, data.memoryOffset, data.memoryOffset + 4 * batch * m * n);
    }
    return out;
  }
  const pa = heap.of(a), pb = heap.of(b), pc = heap.of(out);
  if (batch >= 4 && sgemm.batched !== undefined && sgemm.maxThreads > 1) {
    sgemm.useThreads(1);
    sgemm.batched(transposeA, transposeB, m, n, k, pa, aIndex, pb, bIndex, pc, batch, beta);
    return out;
  }
  const strideA = m * k * 4, strideB = k * n * 4, strideC = m * n * 4;
  const offset = Deno.UnsafePointer.offset;
  for (let i = 0; i < batch; i++) {
    sgemm.call(
      transposeA,
      transposeB,
      m,
      n,
      k,
      i === 0 && aIndex[0] === 0 ? pa : offset(pa, aIndex[i] * strideA) as Deno.PointerObject,
      i === 0 && bIndex[0] === 0 ? pb : offset(pb, bIndex[i] * strideB) as Deno.PointerObject,
      i === 0 ? pc : offset(pc, i * strideC) as Deno.PointerObject,
      beta,
      batch,
    );
  }
  return out;
}
