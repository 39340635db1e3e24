/**
 * Gradient clipping as torch.nn.utils.clip_grad_norm_ / clip_grad_value_: the reported norm is the global L2
 * norm before clipping, the clipped global norm never exceeds maxNorm (+ tiny), directions are preserved,
 * small gradients pass through untouched, and no tensors leak.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import {
  clipByGlobalNorm,
  clipByValue,
  clipCoefficient,
  globalNorm,
} from "../../shared/core/train/clipping.ts";

await tf.ready();

function gradMap(values: Record<string, number[]>): Map<string, tf.Tensor> {
  return new Map(Object.entries(values).map(([k, v]) => [k, tf.tensor1d(v)]));
}

Deno.test("clipByGlobalNorm caps the global norm at maxNorm and keeps directions", () => {
  const grads = gradMap({ a: [3, 0, -4], b: [12, 0] }); // norm 13
  const before = tf.memory().numTensors;
  const { grads: clipped, norm } = clipByGlobalNorm(grads, 1);
  assert.equal(tf.memory().numTensors, before + 2, "exactly one new tensor per gradient");
  assert.ok(Math.abs(norm - 13) < 1e-5);
  const after = globalNorm(clipped);
  assert.ok(after <= 1 + 1e-6, `norm after clipping ${after}`);
  assert.ok(after > 1 - 1e-5);
  const coef = 1 / (13 + 1e-6);
  const a = clipped.get("a")!.dataSync();
  [3, 0, -4].forEach((x, i) => assert.ok(Math.abs(a[i] - x * coef) < 1e-7));
  tf.dispose([...grads.values(), ...clipped.values()]);
  assert.equal(tf.memory().numTensors, before - 2);
});

Deno.test("clipByGlobalNorm leaves gradients under the limit as they are", () => {
  const grads = gradMap({ a: [0.3, 0.4] }); // norm 0.5
  const { grads: out, norm } = clipByGlobalNorm(grads, 1);
  assert.ok(Math.abs(norm - 0.5) < 1e-6);
  assert.equal(out.get("a"), grads.get("a"), "same tensor, no copy");
  assert.equal(clipByGlobalNorm(new Map(), 1).norm, 0);
  assert.throws(() => clipByGlobalNorm(grads, 0), /maxNorm/);
  tf.dispose([...grads.values()]);
});

Deno.test("clipByValue clamps each element to [-max, max]", () => {
  const grads = gradMap({ a: [-3, -0.5, 0, 0.5, 3] });
  const out = clipByValue(grads, 1);
  assert.deepEqual(Array.from(out.get("a")!.dataSync()), [-1, -0.5, 0, 0.5, 1]);
  assert.throws(() => clipByValue(grads, -1), /maxValue/);
  tf.dispose([...grads.values(), ...out.values()]);
});

Deno.test("clipCoefficient is torch's min(1, maxNorm / (norm + 1e-6))", () => {
  assert.equal(clipCoefficient(0.5, 1), 1);
  assert.equal(clipCoefficient(4, 1), 1 / (4 + 1e-6));
  assert.ok(Number.isNaN(clipCoefficient(NaN, 1)), "a NaN norm propagates as in torch");
  assert.throws(() => clipCoefficient(1, 0), /maxNorm/);
});

Deno.test("globalNorm stays accurate over millions of elements (no float32 running-sum drift)", () => {
  const grads = new Map([["big", tf.fill([3_000_000], 0.1)], ["small", tf.tensor1d([3, 4])]]);
  const exact = Math.sqrt(3_000_000 * Math.fround(0.1) ** 2 + 25);
  const norm = globalNorm(grads);
  assert.ok(Math.abs(norm - exact) / exact < 1e-7, `${norm} vs ${exact}`);
  tf.dispose([...grads.values()]);
});
