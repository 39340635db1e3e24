/**
 * Subprocess probe for native_install_test.ts: starts the given backend, calls installNativeKernels with the
 * given library path, and prints the report plus whether the BatchMatMul kernel in the registry changed.
 * Usage: deno run [permissions] native_install_probe.ts <backend> [libraryPath]
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { installNativeKernels } from "../../shared/core/backend/native/mod.ts";

const [backend, libraryPath] = Deno.args;
await tf.setBackend(backend);
await tf.ready();
const before = tf.getKernel("BatchMatMul", backend)?.kernelFunc;
const report = await installNativeKernels({ libraryPath: libraryPath || undefined });
const after = tf.getKernel("BatchMatMul", backend)?.kernelFunc;
const product = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]])).dataSync();
console.log(JSON.stringify({ report, kernelChanged: before !== after, product: Array.from(product) }));
