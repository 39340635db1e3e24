/**
 * Optional native acceleration for the tfjs wasm backend on CPUs: `installNativeKernels` finds OpenBLAS,
 * selects its best CPU kernels (OPENBLAS_CORETYPE, set before the library loads), opens it and the optional
 * C kernel library through Deno FFI, and swaps wasm kernels in the tfjs registry for versions that work in
 * place on the wasm heap; with the C library it also registers the fused kernels behind fused_ops.ts and
 * one-pass Erf/Softmax gradients (gradients.ts). Nothing changes when FFI is not permitted, the backend is
 * not wasm, or OpenBLAS is missing: the result says `installed: false` and why. This folder is the one part of shared/core that
 * touches the host (FFI, /proc/cpuinfo, environment) — by design, and only when asked to.
 * `uninstallNativeKernels` restores the stock kernels (used by parity tests and the "before" benchmark).
 */
import * as tf from "@tensorflow/tfjs";
import { HeapPointers, type WasmBackendInternals } from "./heap.ts";
import { type BlasLibrary, chooseCoreType, DEFAULT_BLAS_PATHS, openBlas, Sgemm } from "./openblas.ts";
import {
  buildNativeLibrary,
  type NativeLibrary,
  nativeLibraryPath,
  openNativeLibrary,
} from "./native_lib.ts";
import {
  batchMatMulKernel,
  castKernel,
  fusedMatMulKernel,
  identityKernel,
  type KernelFn,
  meanKernel,
  type NativeContext,
  sumKernel,
  transposeKernel,
} from "./kernels.ts";
import {
  BINARY_OPS,
  binaryKernel,
  dropoutKernel,
  gatherKernel,
  geluGradKernel,
  geluKernel,
  layerNormGradKernel,
  layerNormKernel,
  segmentSumKernel,
  UNARY_OPS,
  unaryKernel,
} from "./elementwise.ts";
import {
  DROPOUT_KERNEL,
  GELU_GRAD_KERNEL,
  GELU_KERNEL,
  LAYER_NORM_GRAD_KERNEL,
  LAYER_NORM_KERNEL,
} from "./fused_ops.ts";
import {
  ERF_GRAD_KERNEL,
  erfGradKernel,
  installGradientOverrides,
  restoreGradients,
  SOFTMAX_GRAD_KERNEL,
  softmaxGradKernel,
} from "./gradients.ts";

export interface NativeKernelOptions {
  /** OpenBLAS shared library; default: the first of DEFAULT_BLAS_PATHS that exists. */
  libraryPath?: string;
  /** Threads for BLAS and the C kernels; default: all cores the OS reports, at most 8. */
  threads?: number;
  /** Compile the C kernel library with gcc when no build for this source/CPU exists (default false). */
  build?: boolean;
  /** A built C kernel library to use instead of the default location (.out/native/). */
  nativeLibraryPath?: string;
  /** Minimum m*n*k for a product to use more than one BLAS thread (default 2^22). */
  minFlopsForThreads?: number;
}

export interface NativeKernelReport {
  installed: boolean;
  /** OpenBLAS path in use. */
  library?: string;
  /** OpenBLAS core kernels in use (e.g. "SkylakeX"). */
  coreType?: string;
  /** C kernel library in use, if any. */
  nativeLibrary?: string;
  /** Kernel names now served natively. */
  kernels: string[];
  threads?: number;
  /** Why nothing (or only part) was installed. */
  reason?: string;
}

interface Installed {
  report: NativeKernelReport;
  stock: Map<string, tf.KernelConfig>;
  /** Kernels that exist only natively (fused_ops.ts), unregistered on uninstall. */
  added: string[];
}

let installed: Installed | null = null;
/** log2 of the cycles idle OpenBLAS workers spin before sleeping (OpenBLAS default 28; its minimum is 4). */
const BLAS_THREAD_TIMEOUT = 4;
let blasHandle: { library: BlasLibrary; path: string; coreName: string } | null = null;
let nativeHandle: { library: NativeLibrary; path: string } | null = null;

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function ffiDenied(): string | undefined {
  if (typeof Deno === "undefined" || typeof Deno.dlopen !== "function") return "not running under Deno";
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return "FFI not permitted (run with --allow-ffi or -A)";
  }
  return undefined;
}

function defaultThreads(): number {
  try {
    return Math.max(1, Math.min(8, navigator.hardwareConcurrency ?? 1));
  } catch {
    return 1;
  }
}

/** Opens OpenBLAS once per process, setting OPENBLAS_CORETYPE first (unless the user already set it). */
function loadBlas(libraryPath?: string): { library: BlasLibrary; path: string; coreName: string } | string {
  if (blasHandle !== null) return blasHandle;
  const path = libraryPath ?? DEFAULT_BLAS_PATHS.find(exists);
  if (path === undefined || !exists(path)) return `OpenBLAS not found (${libraryPath ?? "default paths"})`;
  try {
    if (Deno.env.get("OPENBLAS_CORETYPE") === undefined) {
      let cpuinfo = "";
      try {
        cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
      } catch { /* not Linux: let OpenBLAS detect */ }
      const coreType = chooseCoreType(cpuinfo);
      if (coreType !== undefined) Deno.env.set("OPENBLAS_CORETYPE", coreType);
    }
    // Idle OpenBLAS workers spin for 2^28 cycles by default, stealing the core the C kernels' second
    // thread needs; 2^THREAD_TIMEOUT cycles keeps them briefly hot without starving the next kernel.
    if (Deno.env.get("OPENBLAS_THREAD_TIMEOUT") === undefined) {
      Deno.env.set("OPENBLAS_THREAD_TIMEOUT", String(BLAS_THREAD_TIMEOUT));
    }
    const { library, coreName } = openBlas(path);
    blasHandle = { library, path, coreName };
    return blasHandle;
  } catch (error) {
    return `cannot open ${path}: ${(error as Error).message}`;
  }
}

async function loadNativeLibrary(
  options: NativeKernelOptions,
): Promise<{ library: NativeLibrary; path: string } | string> {
  if (nativeHandle !== null) return nativeHandle;
  try {
    const path = options.nativeLibraryPath ??
      (options.build ? await buildNativeLibrary() : await nativeLibraryPath());
    if (!exists(path)) return `C kernels not built (deno task build-native): ${path}`;
    nativeHandle = { library: openNativeLibrary(path), path };
    return nativeHandle;
  } catch (error) {
    return `C kernels unavailable: ${(error as Error).message}`;
  }
}

/** Swaps in native kernels on the wasm backend; see the module comment. Idempotent. */
export async function installNativeKernels(options: NativeKernelOptions = {}): Promise<NativeKernelReport> {
  if (installed !== null) return installed.report;
  const denied = ffiDenied();
  if (denied !== undefined) return { installed: false, kernels: [], reason: denied };
  if (tf.getBackend() !== "wasm") {
    return {
      installed: false,
      kernels: [],
      reason: `backend is ${tf.getBackend()}, native kernels need wasm`,
    };
  }
  const blas = loadBlas(options.libraryPath);
  if (typeof blas === "string") return { installed: false, kernels: [], reason: blas };
  const native = await loadNativeLibrary(options);
  const threads = options.threads ?? defaultThreads();
  const backend = tf.backend() as unknown as WasmBackendInternals;
  const ctx: NativeContext = {
    backend,
    heap: new HeapPointers(backend),
    sgemm: new Sgemm(blas.library, {
      maxThreads: threads,
      minFlopsForThreads: options.minFlopsForThreads ?? 1 << 22,
    }),
    lib: typeof native === "string" ? undefined : native.library,
    threads,
  };
  if (ctx.lib !== undefined && threads > 1) {
    const lib = ctx.lib;
    if (lib.symbols.et_blas_init(new TextEncoder().encode(`${blas.path}\0`)) === 0) {
      ctx.sgemm!.batched = (tA, tB, m, n, k, a, aIndex, b, bIndex, c, batch, beta) => {
        lib.symbols.et_sgemm_batch(
          tA ? 1 : 0,
          tB ? 1 : 0,
          m,
          n,
          k,
          a,
          aIndex,
          b,
          bIndex,
          c,
          batch,
          beta,
          threads,
        );
      };
    }
  }
  const factories: [string, (ctx: NativeContext, stock: KernelFn) => KernelFn, boolean][] = [
    ["BatchMatMul", batchMatMulKernel, true],
    ["_FusedMatMul", fusedMatMulKernel, true],
    ["Identity", identityKernel, true],
    ["Cast", castKernel, true],
    ["Transpose", transposeKernel, ctx.lib !== undefined],
    ["Sum", sumKernel, ctx.lib !== undefined],
    ["Mean", meanKernel, ctx.lib !== undefined],
    ["GatherV2", gatherKernel, ctx.lib !== undefined],
    ["UnsortedSegmentSum", segmentSumKernel, ctx.lib !== undefined],
    ...Object.entries(BINARY_OPS).map(([name, op]) =>
      [name, binaryKernel(op), ctx.lib !== undefined] as [string, typeof sumKernel, boolean]
    ),
    ...Object.entries(UNARY_OPS).map(([name, op]) =>
      [name, unaryKernel(op), ctx.lib !== undefined] as [string, typeof sumKernel, boolean]
    ),
  ];
  const stock = new Map<string, tf.KernelConfig>();
  for (const [name, factory, available] of factories) {
    const original = tf.getKernel(name, "wasm");
    if (!available || original === undefined) continue;
    stock.set(name, original);
    tf.unregisterKernel(name, "wasm");
    tf.registerKernel({
      kernelName: name,
      backendName: "wasm",
      kernelFunc: factory(ctx, original.kernelFunc as unknown as KernelFn) as unknown as tf.KernelFunc,
    });
  }
  const added: string[] = [];
  if (ctx.lib !== undefined) {
    const fused: [string, (ctx: NativeContext) => KernelFn][] = [
      [DROPOUT_KERNEL, dropoutKernel],
      [GELU_KERNEL, geluKernel],
      [GELU_GRAD_KERNEL, geluGradKernel],
      [LAYER_NORM_KERNEL, layerNormKernel],
      [LAYER_NORM_GRAD_KERNEL, layerNormGradKernel],
      [ERF_GRAD_KERNEL, erfGradKernel],
      [SOFTMAX_GRAD_KERNEL, softmaxGradKernel],
    ];
    for (const [name, factory] of fused) {
      if (tf.getKernel(name, "wasm") !== undefined) tf.unregisterKernel(name, "wasm");
      tf.registerKernel({
        kernelName: name,
        backendName: "wasm",
        kernelFunc: factory(ctx) as unknown as tf.KernelFunc,
      });
      added.push(name);
    }
  }
  if (ctx.lib !== undefined) installGradientOverrides();
  const report: NativeKernelReport = {
    installed: true,
    library: blas.path,
    coreType: blas.coreName,
    nativeLibrary: typeof native === "string" ? undefined : native.path,
    kernels: [...stock.keys(), ...added],
    threads,
    reason: typeof native === "string" ? native : undefined,
  };
  installed = { report, stock, added };
  return report;
}

/** Restores the stock wasm kernels (the libraries stay loaded for a later install). */
export function uninstallNativeKernels(): void {
  if (installed === null) return;
  for (const [name, config] of installed.stock) {
    tf.unregisterKernel(name, "wasm");
    tf.registerKernel(config);
  }
  for (const name of installed.added) tf.unregisterKernel(name, "wasm");
  restoreGradients();
  installed = null;
}

/** The current installation, or null when the stock kernels are in use. */
export function nativeKernelReport(): NativeKernelReport | null {
  return installed?.report ?? null;
}

/** A short description of the compute path for job events, e.g. "wasm+openblas(SkylakeX)+c-kernels". */
export function backendLabel(
  backendName: string,
  report: NativeKernelReport | null = nativeKernelReport(),
): string {
  if (report === null || !report.installed) return backendName;
  return `${backendName}+openblas(${report.coreType ?? "?"})${report.nativeLibrary ? "+c-kernels" : ""}`;
}
