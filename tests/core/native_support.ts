/**
 * Shared set-up for the native-kernel parity tests: starts the wasm backend, installs the native kernels
 * (building the C library when needed) and fails loudly when they cannot be installed — unless
 * EDGETUNE_NO_NATIVE=1 says this machine has no OpenBLAS/FFI, in which case every test is reported as
 * ignored with that reason. `stockVsNative` runs a computation with the stock wasm kernels and then with the
 * native ones and compares every output element.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/backend.ts";
import {
  installNativeKernels,
  type NativeKernelReport,
  uninstallNativeKernels,
} from "../../shared/core/backend/native/mod.ts";

export const NO_NATIVE = Deno.env.get("EDGETUNE_NO_NATIVE") === "1";

let report: NativeKernelReport | null = null;

/** Installs once per process; throws (failing the test) when native kernels are expected but missing. */
export async function ensureNative(): Promise<NativeKernelReport> {
  await initBackend("wasm");
  if (report === null) {
    report = await installNativeKernels({ build: true, threads: 2 });
    uninstallNativeKernels();
  }
  assert.ok(
    report.installed && report.nativeLibrary !== undefined,
    `native kernels unavailable (${report.reason}); set EDGETUNE_NO_NATIVE=1 on machines without OpenBLAS/gcc/FFI`,
  );
  return report;
}

/** Registers a Deno test that is explicitly ignored (and says why) when EDGETUNE_NO_NATIVE=1. */
export function nativeTest(name: string, fn: () => Promise<void> | void): void {
  Deno.test({
    name: NO_NATIVE ? `${name} (ignored: EDGETUNE_NO_NATIVE=1)` : name,
    ignore: NO_NATIVE,
    fn: async () => {
      await ensureNative();
      await fn();
    },
  });
}

/**
 * Runs `compute` with stock kernels, then with native kernels; returns both results as flat arrays.
 * `compute` learns which run it is in, for the rare case where the stock kernel itself is wrong and the
 * stock run must compute a reference another way.
 */
export async function stockVsNative(
  compute: (native: boolean) => tf.Tensor | tf.Tensor[],
): Promise<{ stock: Float32Array[]; native: Float32Array[]; shapes: number[][] }> {
  const run = (native: boolean) =>
    tf.tidy(() => {
      const out = compute(native);
      return Array.isArray(out) ? out : [out];
    });
  uninstallNativeKernels();
  const stockTensors = run(false);
  const stock = stockTensors.map((t) => Float32Array.from(t.dataSync()));
  const shapes = stockTensors.map((t) => t.shape);
  tf.dispose(stockTensors);
  await installNativeKernels({ build: true, threads: 2 });
  try {
    const nativeTensors = run(true);
    const native = nativeTensors.map((t) => Float32Array.from(t.dataSync()));
    nativeTensors.forEach((t, i) => assert.deepEqual(t.shape, shapes[i], `output ${i} shape`));
    tf.dispose(nativeTensors);
    return { stock, native, shapes };
  } finally {
    uninstallNativeKernels();
  }
}

/** Asserts |native - stock| <= atol + rtol * |stock| element-wise, naming the first bad element. */
export function assertClose(
  { stock, native }: { stock: Float32Array[]; native: Float32Array[] },
  atol: number,
  rtol: number,
  label: string,
): void {
  assert.equal(native.length, stock.length, `${label}: output count`);
  stock.forEach((expected, k) => {
    assert.equal(native[k].length, expected.length, `${label}: output ${k} size`);
    for (let i = 0; i < expected.length; i++) {
      const e = expected[i], a = native[k][i];
      if (Number.isNaN(e) && Number.isNaN(a)) continue;
      if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
        assert.fail(`${label}: output ${k}[${i}] native ${a} vs stock ${e}`);
      }
    }
  });
}

/** Deterministic pseudo-random integers and tensors for shape fuzzing. */
export function rng(seed: number): { int(lo: number, hi: number): number; pick<T>(xs: T[]): T } {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  return {
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
  };
}
