/**
 * Per-kernel wall-clock profile of whatever runs on the wasm backend: wraps every kernel currently registered
 * for "wasm" (stock or native) with a timer, so a training step reports where its time goes by kernel name.
 * Kernels run synchronously on the wasm backend, so wall time around the kernel function is its cost.
 */
import * as tf from "@tensorflow/tfjs";

export interface KernelTiming {
  kernel: string;
  ms: number;
  calls: number;
}

export class KernelProfiler {
  #originals: tf.KernelConfig[] = [];
  #totals = new Map<string, KernelTiming>();
  /** When set, entries are per kernel and input shapes ("Multiply [4096,1024]x[1]"). */
  constructor(private readonly byShape = false) {}

  start(): void {
    if (this.#originals.length > 0) return;
    for (const config of tf.getKernelsForBackend("wasm")) {
      const name = config.kernelName;
      const inner = config.kernelFunc;
      this.#originals.push(config);
      tf.unregisterKernel(name, "wasm");
      tf.registerKernel({
        ...config,
        kernelFunc: (args) => {
          const t0 = performance.now();
          const out = inner(args);
          const key = this.byShape ? `${name} ${shapesOf(args.inputs)}` : name;
          const entry = this.#totals.get(key) ?? { kernel: key, ms: 0, calls: 0 };
          entry.ms += performance.now() - t0;
          entry.calls++;
          this.#totals.set(key, entry);
          return out;
        },
      });
    }
  }

  stop(): KernelTiming[] {
    for (const config of this.#originals) {
      tf.unregisterKernel(config.kernelName, "wasm");
      tf.registerKernel(config);
    }
    this.#originals = [];
    const result = [...this.#totals.values()].sort((a, b) => b.ms - a.ms);
    this.#totals.clear();
    return result;
  }
}

function shapesOf(inputs: tf.NamedTensorInfoMap): string {
  return Object.values(inputs).map((
    t,
  ) => (t === undefined || t === null ? "-" : `[${t.shape}]${t.dtype === "float32" ? "" : t.dtype}`))
    .join("x");
}
