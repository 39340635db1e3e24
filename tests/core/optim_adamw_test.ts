/**
 * AdamW against a float64 transcription of torch.optim.AdamW's update (decoupled decay, bias correction,
 * epsilon after sqrt(v)/sqrt(bc2)), per-parameter LR scale and weight decay, lazy state, state round-trip,
 * and tensor hygiene (no leaks per step).
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import { createOptimizer, type TrainableParam } from "../../shared/core/train/optimizers.ts";

await tf.ready();

/** torch AdamW in float64 for one parameter over a sequence of grads and LRs. */
function torchAdamW(
  p0: number[],
  grads: number[][],
  lrs: number[],
  o: { b1: number; b2: number; eps: number; wd: number },
): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, i) => {
    const t = i + 1;
    const lr = lrs[i];
    const stepSize = lr / (1 - o.b1 ** t);
    const bc2 = Math.sqrt(1 - o.b2 ** t);
    for (let j = 0; j < p.length; j++) {
      p[j] *= 1 - lr * o.wd;
      m[j] = m[j] * o.b1 + (1 - o.b1) * g[j];
      v[j] = v[j] * o.b2 + (1 - o.b2) * g[j] * g[j];
      p[j] -= stepSize * m[j] / (Math.sqrt(v[j]) / bc2 + o.eps);
    }
  });
  return p;
}

function closeArrays(actual: ArrayLike<number>, expected: number[], tol: number) {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `index ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

const spec = { name: "adamw" as const, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

Deno.test("AdamW matches torch's update with per-param lr scale and weight decay, including a tiny-grad eps regime", () => {
  const w0 = [0.5, -1.25, 2, 0.1];
  const b0 = [0.3, -0.2];
  const w = tf.variable(tf.tensor1d(w0));
  const b = tf.variable(tf.tensor1d(b0));
  const params: TrainableParam[] = [
    { name: "dense.weight", variable: w, lrScale: 0.5, weightDecay: 0.1 },
    { name: "dense.bias", variable: b, lrScale: 1, weightDecay: 0 },
  ];
  const opt = createOptimizer(spec, params);
  const gw = [[0.1, -0.2, 0.3, 1e-9], [0.05, 0.4, -0.1, 0], [-0.3, 0.2, 0.2, 1e-7]];
  const gb = [[1, -1], [0.5, 0.25], [-2, 3e-9]];
  const lrs = [1e-2, 5e-3, 2e-2];
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const grads = new Map([["dense.weight", tf.tensor1d(gw[i])], ["dense.bias", tf.tensor1d(gb[i])]]);
    opt.step(grads, lrs[i]);
    tf.dispose([...grads.values()]);
    if (i > 0) assert.equal(tf.memory().numTensors, before + 4, "only the 4 moment slots persist");
  }
  assert.equal(opt.stepCount, 3);
  closeArrays(
    w.dataSync(),
    torchAdamW(w0, gw, lrs.map((l) => l * 0.5), { b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.1 }),
    2e-6,
  );
  closeArrays(b.dataSync(), torchAdamW(b0, gb, lrs, { b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0 }), 2e-6);
  opt.dispose();
  tf.dispose([w, b]);
});

Deno.test("AdamW state is lazy per param, skips unknown names, and round-trips through saveState/loadState", () => {
  const a = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
  const c = tf.variable(tf.tensor1d([1, 1]));
  const make = () =>
    createOptimizer(spec, [
      { name: "a", variable: a, lrScale: 1, weightDecay: 0.01 },
      { name: "c", variable: c, lrScale: 1, weightDecay: 0 },
    ]);
  const opt = make();
  const g = tf.tensor2d([[0.1, 0.2], [0.3, 0.4]]);
  const frozenGrad = tf.tensor1d([9, 9]);
  opt.step(new Map<string, tf.Tensor>([["a", g], ["frozen.weight", frozenGrad]]), 1e-3);
  const saved = opt.saveState();
  assert.deepEqual(Object.keys(saved.slots), ["a"], "no state for a param that never had a grad");
  assert.deepEqual(Object.keys(saved.slots.a).sort(), ["exp_avg", "exp_avg_sq", "step"]);
  assert.equal(saved.slots.a.step.data[0], 1);

  // Continue in the original and in a restored copy from the same weights: identical results.
  const aSnapshot = a.clone();
  opt.step(new Map([["a", g]]), 1e-3);
  const continued = Array.from(a.dataSync());
  a.assign(aSnapshot);
  const restored = make();
  restored.loadState(saved);
  assert.equal(restored.stepCount, 1);
  restored.step(new Map([["a", g]]), 1e-3);
  assert.deepEqual(Array.from(a.dataSync()), continued);
  assert.deepEqual(Array.from(c.dataSync()), [1, 1], "a param without grads is untouched");

  const bad = {
    ...saved,
    slots: { a: { ...saved.slots.a, exp_avg: { shape: [4], data: new Float32Array(4) } } },
  };
  assert.throws(() => restored.loadState(bad), /shape/);
  opt.dispose();
  restored.dispose();
  tf.dispose([a, c, g, frozenGrad, aSnapshot]);
});

Deno.test("optimizer rejects wrong grad shapes, duplicate names and bad hyperparameters", () => {
  const a = tf.variable(tf.zeros([3]));
  assert.throws(() => createOptimizer({ ...spec, beta1: 1 }, []), /beta1/);
  assert.throws(
    () =>
      createOptimizer(spec, [
        { name: "x", variable: a, lrScale: 1, weightDecay: 0 },
        { name: "x", variable: a, lrScale: 1, weightDecay: 0 },
      ]),
    /duplicate/,
  );
  const opt = createOptimizer(spec, [{ name: "x", variable: a, lrScale: 1, weightDecay: 0 }]);
  const g = tf.zeros([4]);
  assert.throws(() => opt.step(new Map([["x", g]]), 1e-3), /shape/);
  assert.throws(() => opt.step(new Map(), -1), /learning rate/);
  opt.dispose();
  tf.dispose([a, g]);
});

Deno.test("gradScale folds a clip coefficient into the step: same as stepping on scaled gradients", () => {
  for (const fused of [true, false]) {
    const results = [0.25, 1].map((preScale) => {
      const v = tf.tidy(() => tf.variable(tf.tensor1d([0.5, -1, 2])));
      const opt = createOptimizer(spec, [{ name: "w", variable: v, lrScale: 1, weightDecay: 0.1 }], {
        fused,
      });
      for (let k = 0; k < 3; k++) {
        const g = tf.tensor1d([0.3 * (k + 1), -0.4, 0.05]);
        const scaled = tf.mul(g, preScale);
        opt.step(new Map([["w", scaled]]), 0.01, preScale === 1 ? 0.25 : 1);
        tf.dispose([g, scaled]);
      }
      const out = Array.from(v.dataSync());
      opt.dispose();
      v.dispose();
      return out;
    });
    results[0].forEach((x, i) => assert.ok(Math.abs(x - results[1][i]) < 1e-7, `fused=${fused}: ${results}`));
  }
  const v = tf.variable(tf.zeros([2]));
  const opt = createOptimizer(spec, [{ name: "w", variable: v, lrScale: 1, weightDecay: 0 }]);
  assert.throws(() => opt.step(new Map(), 0.1, -1), /gradScale/);
  opt.dispose();
  v.dispose();
});
