/**
 * Parity of the native Transpose, Sum, Mean, GatherV2, UnsortedSegmentSum and Identity kernels with the stock
 * wasm kernels on random shapes: permutations of rank 1–6 with size-1 axes, float32 and int32; reductions
 * over every axis subset with and without keepDims; embedding gathers and their gradient; and identity
 * outputs that outlive their input.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { assertClose, nativeTest, rng, stockVsNative } from "./native_support.ts";

function randomPerm(rank: number, r: ReturnType<typeof rng>): number[] {
  const perm = [...Array(rank).keys()];
  for (let i = rank - 1; i > 0; i--) {
    const j = r.int(0, i);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return perm;
}

nativeTest("native transpose matches stock for random ranks, perms and size-1 axes", async () => {
  const r = rng(21);
  for (let trial = 0; trial < 40; trial++) {
    const rank = r.int(1, 6);
    const shape = Array.from({ length: rank }, () => r.pick([1, 2, 3, 5, 8, 17, 33, 40]));
    const perm = randomPerm(rank, r);
    const dtype = trial % 5 === 4 ? "int32" : "float32";
    const result = await stockVsNative(() => {
      const x = tf.randomUniform(shape, -100, 100, "float32", trial + 1000);
      return tf.cast(tf.transpose(dtype === "int32" ? tf.cast(x, "int32") : x, perm), "float32");
    });
    assertClose(result, 0, 0, `transpose ${shape} perm ${perm} ${dtype}`);
  }
  const big = await stockVsNative(() =>
    tf.transpose(tf.randomNormal([8, 128, 4, 64], 0, 1, "float32", 1), [0, 2, 1, 3])
  );
  assertClose(big, 0, 0, "attention-sized transpose");
  const matrix = await stockVsNative(() => tf.transpose(tf.randomNormal([300, 257], 0, 1, "float32", 2)));
  assertClose(matrix, 0, 0, "2-D transpose");
});

nativeTest("native sum and mean match stock over every axis subset, with and without keepDims", async () => {
  const r = rng(31);
  for (let trial = 0; trial < 30; trial++) {
    const rank = r.int(1, 4);
    const shape = Array.from({ length: rank }, () => r.pick([1, 3, 7, 16, 65]));
    const axes = [...Array(rank).keys()].filter(() => r.int(0, 1) === 1);
    const axis = axes.length === 0 ? undefined : axes.length === 1 && trial % 2 ? axes[0] - rank : axes;
    const keepDims = trial % 3 === 0;
    const result = await stockVsNative(() => {
      const x = tf.randomNormal(shape, 0, 1, "float32", trial + 1000);
      return [tf.sum(x, axis, keepDims), tf.mean(x, axis, keepDims)];
    });
    assertClose(result, 1e-5, 1e-4, `sum/mean ${shape} axis ${axis} keepDims ${keepDims}`);
  }
  const bias = await stockVsNative(() => tf.sum(tf.randomNormal([4096, 256], 0, 1, "float32", 3), 0));
  assertClose(bias, 1e-3, 1e-4, "bias-gradient sized sum");
});

nativeTest(
  "native gather and its gradient (UnsortedSegmentSum) match stock, out-of-range ids included",
  async () => {
    const result = await stockVsNative(() => {
      const table = tf.randomNormal([50, 12], 0, 1, "float32", 4);
      const ids = tf.tensor2d([[3, 7, 3, 49], [0, 0, 11, 7]], [2, 4], "int32");
      const gathered = tf.gather(table, ids);
      const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), tf.range(1, 13))))(table);
      const segments = tf.unsortedSegmentSum(
        tf.randomNormal([5, 3], 0, 1, "float32", 5),
        tf.tensor1d([0, 2, -1, 2, 9], "int32"),
        4,
      );
      return [gathered, grad, segments];
    });
    assertClose(result, 1e-5, 1e-5, "gather");
    assert.deepEqual(result.shapes, [[2, 4, 12], [50, 12], [4, 3]]);
  },
);

nativeTest(
  "native identity and same-type cast share data safely: outputs outlive their disposed sources",
  async () => {
    const result = await stockVsNative(() => {
      const source = tf.randomNormal([64, 9], 0, 1, "float32", 6);
      const clone = tf.clone(source);
      source.dispose();
      const sameType = tf.cast(clone, "float32");
      const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.square(tf.clone(x))))(clone);
      const ints = tf.cast(tf.mul(clone, 10), "int32");
      clone.dispose();
      return [tf.add(sameType, 1), grad, tf.cast(ints, "float32")];
    });
    assertClose(result, 1e-6, 1e-6, "identity");
  },
);
