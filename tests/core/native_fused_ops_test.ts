/**
 * The fused ops of shared/core/backend/native/fused_ops.ts: GELU's and layer norm's kernels against the tfjs
 * compositions (values and gradients), and dropout's kernel: zero fraction close to the rate, survivors scaled by
 * 1/(1-rate), deterministic per seed, the gradient using exactly the forward mask, and the plain tf.dropout
 * fallback when the kernel is not registered.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { dropout, gelu, layerNorm } from "../../shared/core/backend/native/fused_ops.ts";
import { installNativeKernels, uninstallNativeKernels } from "../../shared/core/backend/native/mod.ts";
import { assertClose, nativeTest, stockVsNative } from "./native_support.ts";

nativeTest("fused GELU matches the tfjs composition, values and gradients", async () => {
  const result = await stockVsNative(() => {
    const x = tf.randomNormal([257, 129], 0, 2, "float32", 41);
    const w = tf.randomNormal([257, 129], 0, 1, "float32", 42);
    const [grad] = tf.grads((input: tf.Tensor) => tf.sum(tf.mul(gelu(input), w)))([x]);
    return [gelu(x), grad];
  });
  assertClose(result, 1e-6, 1e-5, "gelu");
});

nativeTest("fused layer norm matches the tfjs composition, values and all three gradients", async () => {
  for (const shape of [[37, 48], [3, 5, 64], [1, 7]]) {
    const h = shape[shape.length - 1];
    const result = await stockVsNative(() => {
      const x = tf.randomNormal(shape, 1, 2, "float32", 51);
      const gamma = tf.randomNormal([h], 1, 0.3, "float32", 52) as tf.Tensor1D;
      const beta = tf.randomNormal([h], 0, 0.3, "float32", 53) as tf.Tensor1D;
      const w = tf.randomNormal(shape, 0, 1, "float32", 54);
      const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(layerNorm(a, g as tf.Tensor1D, b as tf.Tensor1D, 1e-12), w));
      return [layerNorm(x, gamma, beta, 1e-12), ...tf.grads(f)([x, gamma, beta])];
    });
    assertClose(result, 1e-4, 1e-3, `layer norm ${shape}`);
  }
});

nativeTest("fused dropout keeps about 1-rate of the elements, scaled, deterministic per seed", async () => {
  await installNativeKernels({ build: true, threads: 2 });
  try {
    const x = tf.add(tf.randomUniform([300, 1000], 0, 1, "float32", 43), 0.5);
    const xs = x.dataSync();
    const y1 = dropout(x, 0.1, 1234).dataSync();
    const y2 = dropout(x, 0.1, 1234).dataSync();
    const y3 = dropout(x, 0.1, 4321).dataSync();
    assert.deepEqual(y1, y2);
    let zeros = 0, differ = 0;
    for (let i = 0; i < y1.length; i++) {
      if (y1[i] === 0) zeros++;
      else assert.ok(Math.abs(y1[i] - xs[i] / 0.9) <= 1e-6 * xs[i], `element ${i} not scaled by 1/keep`);
      if ((y1[i] === 0) !== (y3[i] === 0)) differ++;
    }
    const fraction = zeros / y1.length;
    assert.ok(Math.abs(fraction - 0.1) < 0.005, `zero fraction ${fraction}`);
    assert.ok(differ > 0.1 * y1.length, "another seed gives another mask");
    assert.equal(dropout(x, 0), x);
    assert.throws(() => dropout(x, 1), /rate/);
  } finally {
    uninstallNativeKernels();
  }
});

nativeTest("fused dropout's gradient uses exactly the forward mask", async () => {
  await installNativeKernels({ build: true, threads: 2 });
  try {
    const x = tf.randomNormal([64, 300], 0, 1, "float32", 44);
    const w = tf.randomNormal([64, 300], 0, 1, "float32", 45);
    const y = dropout(x, 0.25, 99).dataSync();
    const grad = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(dropout(input, 0.25, 99), w)))(x).dataSync();
    const ws = w.dataSync();
    for (let i = 0; i < y.length; i++) {
      const expected = y[i] === 0 ? 0 : ws[i] / 0.75;
      assert.ok(Math.abs(grad[i] - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), `grad ${i}`);
    }
  } finally {
    uninstallNativeKernels();
  }
});

nativeTest("without the kernel, dropout falls back to tf.dropout with the same seed", () => {
  uninstallNativeKernels();
  const x = tf.randomNormal([50, 40], 0, 1, "float32", 46);
  assert.deepEqual(dropout(x, 0.3, 7).dataSync(), tf.dropout(x, 0.3, undefined, 7).dataSync());
  assert.deepEqual(
    gelu(x).dataSync(),
    tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)).dataSync(),
  );
});
