/**
 * installNativeKernels is optional and safe: without FFI permission, with a missing library, or on a
 * non-wasm backend it reports installed:false with a reason and leaves the kernel registry untouched (run
 * in subprocesses, since a process can open OpenBLAS only once); with everything present it installs and
 * the same product comes out. Also the pure helpers: core-type choice from CPU flags, reduction views and
 * batch broadcasting offsets; and a whole tiny-BERT loss and gradients against the stock kernels.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { broadcastBatchOffsets, chooseCoreType } from "../../shared/core/backend/native/openblas.ts";
import { reductionView } from "../../shared/core/backend/native/kernels.ts";
import {
  backendLabel,
  installNativeKernels,
  uninstallNativeKernels,
} from "../../shared/core/backend/native/mod.ts";
import { BERT_DEFAULTS } from "../../shared/core/model/config.ts";
import { initBertForSequenceClassification } from "../../shared/core/model/load.ts";
import { assertClose, nativeTest, NO_NATIVE, stockVsNative } from "./native_support.ts";

const PROBE = new URL("./native_install_probe.ts", import.meta.url).pathname;

async function probe(permissions: string[], backend: string, libraryPath = "") {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-check", ...permissions, PROBE, backend, libraryPath],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(text.split("\n").pop()!) as {
    report: { installed: boolean; reason?: string; kernels: string[] };
    kernelChanged: boolean;
    product: number[];
  };
}

const NO_FFI = ["--allow-read", "--allow-env", "--allow-write", "--allow-run", "--allow-net", "--allow-sys"];

Deno.test("without FFI permission nothing is installed and the reason says so", async () => {
  const result = await probe(NO_FFI, "wasm");
  assert.equal(result.report.installed, false);
  assert.match(result.report.reason ?? "", /FFI not permitted/);
  assert.deepEqual(result.report.kernels, []);
  assert.equal(result.kernelChanged, false);
  assert.deepEqual(result.product, [17, 39]);
});

Deno.test("a missing OpenBLAS library is reported and changes nothing", async () => {
  const result = await probe(["-A"], "wasm", "/nonexistent/libopenblas.so.0");
  assert.equal(result.report.installed, false);
  assert.match(result.report.reason ?? "", /OpenBLAS not found.*nonexistent/);
  assert.equal(result.kernelChanged, false);
  assert.deepEqual(result.product, [17, 39]);
});

Deno.test("a backend other than wasm is left alone", async () => {
  const result = await probe(["-A"], "cpu");
  assert.equal(result.report.installed, false);
  assert.match(result.report.reason ?? "", /backend is cpu/);
  assert.equal(result.kernelChanged, false);
});

nativeTest("with OpenBLAS present the kernels are swapped and products stay right", async () => {
  const result = await probe(["-A"], "wasm");
  assert.equal(result.report.installed, true, result.report.reason ?? "no reason given");
  assert.ok(result.report.kernels.includes("BatchMatMul") && result.report.kernels.includes("Transpose"));
  assert.equal(result.kernelChanged, true);
  assert.deepEqual(result.product, [17, 39]);
});

Deno.test("OpenBLAS core type follows the CPU flags", () => {
  const flags = (list: string) => `processor\t: 0\nflags\t\t: ${list}\n`;
  assert.equal(
    chooseCoreType(flags("fpu sse2 avx avx2 fma avx512f avx512bw avx512dq avx512vl avx512cd")),
    "SkylakeX",
  );
  assert.equal(chooseCoreType(flags("fpu sse2 avx avx2 fma avx512f")), "Haswell");
  assert.equal(chooseCoreType(flags("fpu sse2 avx avx2 fma")), "Haswell");
  assert.equal(chooseCoreType(flags("fpu sse2 avx")), "Sandybridge");
  assert.equal(chooseCoreType(flags("fpu sse2")), undefined);
  assert.equal(chooseCoreType(""), undefined);
});

Deno.test("reduction views merge axes and refuse patterns that need a transpose", () => {
  assert.deepEqual(reductionView([4, 5, 6], [2]), { outer: 20, reduce: 6, inner: 1 });
  assert.deepEqual(reductionView([4, 5, 6], [0]), { outer: 1, reduce: 4, inner: 30 });
  assert.deepEqual(reductionView([4, 5, 6], [1]), { outer: 4, reduce: 5, inner: 6 });
  assert.deepEqual(reductionView([4, 1, 5, 6], [0, 1, 2]), { outer: 1, reduce: 20, inner: 6 });
  assert.deepEqual(reductionView([1, 1], [0]), { outer: 1, reduce: 1, inner: 1 });
  assert.equal(reductionView([4, 5, 6], [0, 2]), undefined);
});

Deno.test("batch offsets follow numpy broadcasting and reject incompatible batches", () => {
  const r = broadcastBatchOffsets([2, 1], [1, 3]);
  assert.deepEqual(r.outBatch, [2, 3]);
  assert.deepEqual(Array.from(r.aIndex), [0, 0, 0, 1, 1, 1]);
  assert.deepEqual(Array.from(r.bIndex), [0, 1, 2, 0, 1, 2]);
  assert.deepEqual(Array.from(broadcastBatchOffsets([], [4]).aIndex), [0, 0, 0, 0]);
  assert.throws(() => broadcastBatchOffsets([2], [3]), /cannot be broadcast/);
});

nativeTest("a tiny BERT's training loss and every gradient match the stock kernels", async () => {
  const config = {
    ...BERT_DEFAULTS,
    vocab_size: 97,
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 64,
    max_position_embeddings: 16,
    // The fused dropout draws its masks from its own generator (not tf.dropout's): compare without it here;
    // native_fused_ops_test.ts checks the dropout kernel itself.
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
  };
  const model = initBertForSequenceClassification(config, 3, 5);
  try {
    const names = [...model.params.keys()];
    const variables = names.map((n) => model.params.get(n)!);
    const batch = () => ({
      inputIds: tf.tensor2d([[2, 5, 9, 0], [7, 3, 1, 8]], [2, 4], "int32"),
      attentionMask: tf.tensor2d([[1, 1, 1, 0], [1, 1, 1, 1]], [2, 4], "int32"),
      tokenTypeIds: tf.tensor2d([[0, 0, 1, 0], [0, 1, 1, 1]], [2, 4], "int32"),
    });
    const result = await stockVsNative(() => {
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.forward(batch(), { training: true, seed: 17 });
        return tf.losses.softmaxCrossEntropy(tf.oneHot([0, 2], 3), logits) as tf.Scalar;
      }, variables);
      return [value, ...variables.map((v) => grads[v.name])];
    });
    assert.equal(result.stock.length, names.length + 1);
    assertClose(result, 1e-5, 2e-3, "tiny BERT loss and grads");
  } finally {
    model.dispose();
  }
});

if (NO_NATIVE) console.log("native_install_test: EDGETUNE_NO_NATIVE=1, native parity tests are ignored");

nativeTest("install swaps the Erf and Softmax gradients; uninstall restores the originals", async () => {
  uninstallNativeKernels();
  const erf = tf.getGradient("Erf")!.gradFunc, softmax = tf.getGradient("Softmax")!.gradFunc;
  await installNativeKernels({ build: true });
  try {
    assert.notEqual(tf.getGradient("Erf")!.gradFunc, erf);
    assert.notEqual(tf.getGradient("Softmax")!.gradFunc, softmax);
  } finally {
    uninstallNativeKernels();
  }
  assert.equal(tf.getGradient("Erf")!.gradFunc, erf);
  assert.equal(tf.getGradient("Softmax")!.gradFunc, softmax);
});

Deno.test("the backend label names the native path only when it is installed", () => {
  assert.equal(backendLabel("wasm", null), "wasm");
  assert.equal(backendLabel("wasm", { installed: false, kernels: [], reason: "no FFI" }), "wasm");
  assert.equal(
    backendLabel("wasm", {
      installed: true,
      kernels: ["BatchMatMul"],
      coreType: "SkylakeX",
      nativeLibrary: "/x.so",
    }),
    "wasm+openblas(SkylakeX)+c-kernels",
  );
  assert.equal(
    backendLabel("wasm", { installed: true, kernels: ["BatchMatMul"], coreType: "Haswell" }),
    "wasm+openblas(Haswell)",
  );
});
