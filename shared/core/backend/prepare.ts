/**
 * Prepares the process's compute backend once: picks the tfjs backend by the ladder (backend.ts) and, on the
 * wasm backend, installs the optional native kernels (OpenBLAS matmul through FFI, C element-wise and fused
 * kernels) unless told not to. Returns the backend's name and the label jobs report (e.g.
 * `wasm+openblas(SkylakeX)+c-kernels`), so every job's events say exactly what it computed on. Runner, edge
 * serving, benchmarks and tests all come through here.
 */
import { initBackend } from "../backend.ts";
import { backendLabel, installNativeKernels, type NativeKernelReport } from "./native/mod.ts";

export interface PreparedBackend {
  /** The tfjs backend (`tensorflow`, `wasm`, `cpu`). */
  name: string;
  /** The backend plus the native kernels in use. */
  label: string;
  native: NativeKernelReport | null;
}

export interface PrepareOptions {
  /** Force a tfjs backend (EDGETUNE_BACKEND). */
  preference?: string;
  /** false: stay on pure wasm kernels (EDGETUNE_NATIVE=off). */
  native?: boolean;
  /** Compile the C kernels with gcc if no build for this CPU exists yet. */
  buildNative?: boolean;
}

let prepared: Promise<PreparedBackend> | null = null;

export function prepareBackend(options: PrepareOptions = {}): Promise<PreparedBackend> {
  prepared ??= (async () => {
    const backend = await initBackend(options.preference);
    let native: NativeKernelReport | null = null;
    if (backend.name === "wasm" && options.native !== false) {
      native = await installNativeKernels({ build: options.buildNative ?? false });
    }
    return { name: backend.name, label: backendLabel(backend.name, native), native };
  })();
  return prepared;
}
