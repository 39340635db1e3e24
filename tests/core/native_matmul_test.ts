/**
 * Parity of the OpenBLAS BatchMatMul/_FusedMatMul kernels with the stock wasm kernels: every transpose
 * combination, 2-D to 4-D operands, batch broadcasting (1 against N, and batch shapes that are both
 * broadcast), empty inner dimensions, fused bias/relu, and the gradients of matMul through tf.grads.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { assertClose, nativeTest, rng, stockVsNative } from "./native_support.ts";

// seeds are offset by 1000: tfjs treats a seed of 0 as "unseeded"
const seeded = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed + 1000);

nativeTest("native matMul matches stock for every transpose and random shapes up to rank 4", async () => {
  const r = rng(11);
  for (let trial = 0; trial < 24; trial++) {
    const [m, n, k] = [r.int(1, 70), r.int(1, 70), r.int(1, 90)];
    const batch = trial % 3 === 0 ? [] : trial % 3 === 1 ? [r.int(1, 4)] : [r.int(1, 3), r.int(1, 3)];
    const transposeA = trial % 2 === 1, transposeB = Math.floor(trial / 2) % 2 === 1;
    const aShape = [...batch, ...(transposeA ? [k, m] : [m, k])];
    const bShape = [...batch, ...(transposeB ? [n, k] : [k, n])];
    const result = await stockVsNative(() =>
      tf.matMul(seeded(aShape, trial), seeded(bShape, 100 + trial), transposeA, transposeB)
    );
    assertClose(result, 1e-4, 1e-4, `matMul ${aShape} x ${bShape} tA=${transposeA} tB=${transposeB}`);
  }
});

nativeTest("native matMul broadcasts a batch of 1 against N on either side", async () => {
  for (const [aShape, bShape] of [[[1, 5, 7], [4, 7, 3]], [[3, 5, 7], [1, 7, 2]], [[2, 3, 4, 6], [6, 5]]]) {
    const result = await stockVsNative(() => {
      return tf.matMul(seeded(aShape, 1), seeded(bShape, 2));
    });
    assertClose(result, 1e-4, 1e-4, `broadcast ${aShape} x ${bShape}`);
  }
});

nativeTest("native matMul broadcasts batch shapes where both sides are broadcast", async () => {
  // [2,1] x [1,3] batches: the stock wasm kernel cannot, so its run multiplies explicitly tiled operands.
  const result = await stockVsNative((native) => {
    const a = seeded([2, 1, 4, 5], 3), b = seeded([1, 3, 5, 6], 4);
    return native ? tf.matMul(a, b) : tf.matMul(tf.tile(a, [1, 3, 1, 1]), tf.tile(b, [2, 1, 1, 1]));
  });
  assert.deepEqual(result.shapes[0], [2, 3, 4, 6]);
  assertClose(result, 1e-4, 1e-4, "double broadcast");
});

nativeTest(
  "native matMul handles an empty inner dimension (all zeros) and rejects mismatched shapes",
  async () => {
    const result = await stockVsNative(() => tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4])));
    assert.deepEqual(result.native[0], new Float32Array(12));
    assert.deepEqual(result.shapes[0], [3, 4]);
    await stockVsNative(() => {
      assert.throws(() => tf.matMul(tf.zeros([2, 3]), tf.zeros([4, 2])), /inner shapes|must match/);
      return tf.zeros([1]);
    });
  },
);

nativeTest("native fused matMul with bias and relu matches matMul + bias + relu", async () => {
  // The stock wasm _FusedMatMul adds the bias wrongly when transposeB is set (tfjs 4.22), so the stock run
  // computes the unfused reference instead.
  for (const [transposeA, transposeB] of [[false, false], [false, true], [true, false], [true, true]]) {
    const result = await stockVsNative((native) => {
      const a = seeded(transposeA ? [33, 17] : [17, 33], 5), b = seeded(transposeB ? [9, 33] : [33, 9], 6);
      const bias = seeded([9], 7);
      if (!native) {
        const product = tf.matMul(a, b, transposeA, transposeB);
        return [tf.relu(tf.add(product, bias)), tf.add(product, bias), product];
      }
      return [
        tf.fused.matMul({ a, b, transposeA, transposeB, bias, activation: "relu" }),
        tf.fused.matMul({ a, b, transposeA, transposeB, bias }),
        tf.fused.matMul({ a, b, transposeA, transposeB }),
      ];
    });
    assertClose(result, 1e-4, 1e-4, `fused tA=${transposeA} tB=${transposeB}`);
  }
});

nativeTest("gradients of matMul through native kernels match stock (2-D and batched)", async () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[13, 21], [21, 8], false, false],
    [[13, 21], [8, 21], false, true],
    [[21, 13], [21, 8], true, false],
    [[4, 2, 16, 8], [4, 2, 16, 8], false, true],
    [[6, 16, 16], [6, 16, 8], false, false],
  ];
  for (const [aShape, bShape, transposeA, transposeB] of cases) {
    const result = await stockVsNative(() => {
      const a = seeded(aShape, 8), b = seeded(bShape, 9);
      const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.sin(tf.matMul(x, y, transposeA, transposeB)));
      return tf.grads(f)([a, b]);
    });
    assertClose(result, 1e-4, 1e-3, `grads ${aShape} x ${bShape} tA=${transposeA} tB=${transposeB}`);
  }
});
