/**
 * Chooses and starts the TensorFlow.js backend the rest of the core computes on. The ladder is "tensorflow"
 * (the native libtensorflow binding, GPU build first, only where deno.json maps that npm package and its
 * addon is built), then "wasm" (SIMD, one thread), then "cpu" (pure JavaScript, slow). A caller may force one rung
 * with `preference` (the runner passes EDGETUNE_BACKEND; the core itself reads no environment). It also fills
 * a gap in the wasm backend: `UnsortedSegmentSum`, which the gradient of `gather` (embeddings) needs.
 * Calling it again returns the first result without switching backends.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";

export interface BackendChoice {
  name: string;
  attempted: { name: string; error?: string }[];
}

export const BACKEND_LADDER = ["tensorflow", "wasm", "cpu"] as const;

/**
 * Packages that provide the "tensorflow" backend, tried in this order. Bare specifiers on purpose: they
 * resolve only where a deployment maps them in deno.json's imports (e.g. "@tensorflow/tfjs-node":
 * "npm:@tensorflow/tfjs-node@4.22.0" with its install script allowed); elsewhere the import fails at once,
 * without touching the network or the lockfile, and the ladder moves on.
 */
const NATIVE_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];

let chosen: Promise<BackendChoice> | null = null;

export function initBackend(preference?: string): Promise<BackendChoice> {
  if (!chosen) {
    chosen = chooseBackend(preference).catch((error) => {
      chosen = null; // let a later call try again (e.g. with another preference)
      throw error;
    });
  }
  return chosen;
}

async function chooseBackend(preference?: string): Promise<BackendChoice> {
  const wanted = preference?.trim().toLowerCase() || undefined;
  if (wanted && !(BACKEND_LADDER as readonly string[]).includes(wanted)) {
    throw new Error(`unknown backend '${preference}': expected one of ${BACKEND_LADDER.join(", ")}`);
  }
  const rungs = wanted ? [wanted] : [...BACKEND_LADDER];
  const attempted: BackendChoice["attempted"] = [];
  for (const name of rungs) {
    try {
      await startBackend(name);
      attempted.push({ name });
      return { name: tf.getBackend(), attempted };
    } catch (error) {
      attempted.push({ name, error: error instanceof Error ? error.message : String(error) });
    }
  }
  const summary = attempted.map((a) => `${a.name}: ${a.error}`).join("; ");
  throw new Error(`no TensorFlow.js backend could start (${summary})`);
}

async function startBackend(name: string): Promise<void> {
  if (name === "tensorflow") {
    await importNativeBinding();
  }
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
  if (name === "wasm") registerWasmUnsortedSegmentSum();
}

async function importNativeBinding(): Promise<void> {
  const errors: string[] = [];
  for (const specifier of NATIVE_PACKAGES) {
    try {
      await import(specifier);
      if (tf.findBackend("tensorflow")) return;
      errors.push(`${specifier}: loaded but registered no 'tensorflow' backend`);
    } catch (error) {
      errors.push(`${specifier}: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`);
    }
  }
  throw new Error(errors.join(" | "));
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * out[segmentIds[i], ...] += x[i, ...] — segmentIds covers the leading dimensions of x. Rows with an id
 * outside [0, numSegments) are dropped, as in TensorFlow.
 */
function registerWasmUnsortedSegmentSum(): void {
  if (tf.getKernel("UnsortedSegmentSum", "wasm")) return;
  tf.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const numSegments = (attrs as { numSegments: number }).numSegments;
      const wasm = backend as unknown as WasmBackendLike;
      const rows = segmentIds.shape.reduce((a, b) => a * b, 1);
      const inner = rows === 0 ? 0 : x.shape.reduce((a, b) => a * b, 1) / rows;
      const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
      // Allocate first: the heap may grow and move, so views are taken afterwards.
      const out = wasm.makeOutput(outShape, x.dtype);
      const outValues = wasm.typedArrayFromHeap(out);
      const xValues = wasm.typedArrayFromHeap(x);
      const ids = wasm.typedArrayFromHeap(segmentIds);
      outValues.fill(0);
      for (let row = 0; row < rows; row++) {
        const segment = ids[row];
        if (segment < 0 || segment >= numSegments) continue;
        const src = row * inner;
        const dst = segment * inner;
        for (let j = 0; j < inner; j++) outValues[dst + j] += xValues[src + j];
      }
      return out;
    },
  });
}
