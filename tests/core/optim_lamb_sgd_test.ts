/**
 * LAMB trust-ratio edge cases (zero weights, zero update, the ‖Δp‖ = lr·‖p‖ property) and SGD's variants
 * (plain, momentum with dampening, Nesterov, coupled L2) against a float64 transcription of torch.optim.SGD,
 * plus state round-trips and spec validation for both.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import assert from "node:assert/strict";
import { createOptimizer, lambTrustRatio, type OptimizerSpec } from "../../shared/core/train/optimizers.ts";

await tf.ready();

const lamb: OptimizerSpec = { name: "lamb", beta1: 0.9, beta2: 0.999, epsilon: 1e-6 };

function norm(a: ArrayLike<number>): number {
  return Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));
}

function stepOnce(spec: OptimizerSpec, weights: number[], grad: number[], lr: number, weightDecay = 0) {
  const v = tf.variable(tf.tensor1d(weights));
  const opt = createOptimizer(spec, [{ name: "w", variable: v, lrScale: 1, weightDecay }]);
  const g = tf.tensor1d(grad);
  opt.step(new Map([["w", g]]), lr);
  const out = Array.from(v.dataSync());
  opt.dispose();
  tf.dispose([v, g]);
  return out;
}

Deno.test("lambTrustRatio: ‖w‖/‖u‖, and 1 when either norm is zero", () => {
  const cases: [number[], number[], number][] = [
    [[3, 4], [0, 0.5], 10],
    [[0, 0], [1, 1], 1],
    [[3, 4], [0, 0], 1],
    [[0, 0], [0, 0], 1],
  ];
  for (const [w, u, expected] of cases) {
    const r = lambTrustRatio(tf.tensor1d(w), tf.tensor1d(u));
    assert.ok(Math.abs(r.dataSync()[0] - expected) < 1e-6, `w=${w} u=${u}: ${r.dataSync()[0]}`);
    r.dispose();
  }
});

Deno.test("LAMB moves a nonzero weight by exactly lr·‖w‖ whatever the gradient's scale", () => {
  const w = [0.5, -1, 2, 0.25];
  for (const scale of [1e-3, 1, 1e3]) {
    const after = stepOnce(lamb, w, [0.1 * scale, 0.3 * scale, -0.2 * scale, 0.05 * scale], 0.01, 0.1);
    const moved = norm(after.map((x, i) => x - w[i]));
    assert.ok(Math.abs(moved - 0.01 * norm(w)) < 1e-6, `grad scale ${scale}: moved ${moved}`);
  }
});

Deno.test("LAMB edge cases: zero weights use trust 1, a zero update leaves weights alone", () => {
  const fromZero = stepOnce(lamb, [0, 0, 0], [2, -3, 0.5], 0.1, 0.01);
  // first step: m̂ = g, v̂ = g², so the update is g/(|g| + ε) ≈ sign(g), applied with trust ratio 1
  [-0.1, 0.1, -0.1].forEach((e, i) => assert.ok(Math.abs(fromZero[i] - e) < 1e-6, `${fromZero}`));
  assert.deepEqual(stepOnce(lamb, [1, 2], [0, 0], 0.1, 0), [1, 2]);
});

/** torch.optim.SGD in float64 for one parameter. */
function torchSgd(
  p0: number[],
  grads: number[][],
  lr: number,
  o: { mu: number; damp: number; nesterov: boolean; wd: number },
) {
  const p = [...p0];
  let buf: number[] | null = null;
  for (const g of grads) {
    const d = g.map((x, i) => x + o.wd * p[i]);
    if (o.mu !== 0) {
      buf = buf === null ? [...d] : buf.map((b, i) => b * o.mu + (1 - o.damp) * d[i]);
      const b = buf;
      const step = o.nesterov ? d.map((x, i) => x + o.mu * b[i]) : b;
      step.forEach((x, i) => (p[i] -= lr * x));
    } else {
      d.forEach((x, i) => (p[i] -= lr * x));
    }
  }
  return p;
}

Deno.test("SGD variants match torch.optim.SGD: plain, momentum + dampening, Nesterov, coupled weight decay", () => {
  const p0 = [0.5, -1, 2];
  const grads = [[0.1, -0.2, 0.3], [0.4, 0.1, -0.5], [-0.2, 0.3, 0.1], [0.05, 0.05, 0.05]];
  const variants = [
    { mu: 0, damp: 0, nesterov: false, wd: 0 },
    { mu: 0.9, damp: 0.3, nesterov: false, wd: 0.01 },
    { mu: 0.9, damp: 0, nesterov: true, wd: 0.05 },
  ];
  for (const o of variants) {
    const v = tf.variable(tf.tensor1d(p0));
    const opt = createOptimizer({ name: "sgd", momentum: o.mu, nesterov: o.nesterov, dampening: o.damp }, [
      { name: "w", variable: v, lrScale: 2, weightDecay: o.wd },
    ]);
    for (const g of grads) {
      const t = tf.tensor1d(g);
      opt.step(new Map([["w", t]]), 0.05);
      t.dispose();
    }
    const expected = torchSgd(p0, grads, 0.1, o);
    const actual = v.dataSync();
    expected.forEach((e, i) =>
      assert.ok(Math.abs(actual[i] - e) < 1e-6, `${JSON.stringify(o)}: ${actual} vs ${expected}`)
    );
    const slots = opt.saveState().slots.w;
    assert.deepEqual(
      Object.keys(slots).sort(),
      o.mu === 0 ? ["step"] : ["momentum_buffer", "step"],
      "no buffer without momentum",
    );
    opt.dispose();
    v.dispose();
  }
});

Deno.test("SGD and LAMB specs are validated like torch's", () => {
  assert.throws(() => createOptimizer({ name: "sgd", momentum: 0, nesterov: true }, []), /Nesterov/);
  assert.throws(
    () => createOptimizer({ name: "sgd", momentum: 0.9, nesterov: true, dampening: 0.1 }, []),
    /Nesterov/,
  );
  assert.throws(() => createOptimizer({ name: "sgd", momentum: -1, nesterov: false }, []), /momentum/);
  assert.throws(() => createOptimizer({ ...lamb, epsilon: -1 } as OptimizerSpec, []), /epsilon/);
});

Deno.test("LAMB state round-trips: restored optimizer continues identically", () => {
  const run = (restore: boolean) => {
    const v = tf.variable(tf.tensor1d([1, -2, 3]));
    const params = [{ name: "w", variable: v, lrScale: 1, weightDecay: 0.01 }];
    let opt = createOptimizer(lamb, params);
    const g1 = tf.tensor1d([0.3, 0.1, -0.2]);
    const g2 = tf.tensor1d([-0.1, 0.4, 0.2]);
    opt.step(new Map([["w", g1]]), 0.01);
    if (restore) {
      const saved = opt.saveState();
      opt.dispose();
      opt = createOptimizer(lamb, params);
      opt.loadState(saved);
    }
    opt.step(new Map([["w", g2]]), 0.01);
    const out = Array.from(v.dataSync());
    opt.dispose();
    tf.dispose([v, g1, g2]);
    return out;
  };
  assert.deepEqual(run(true), run(false));
});

Deno.test("fused in-place loops and the tfjs-ops path agree, on the wasm and the cpu backend", async () => {
  const specs: OptimizerSpec[] = [
    { name: "adamw", beta1: 0.9, beta2: 0.99, epsilon: 1e-8 },
    lamb,
    { name: "sgd", momentum: 0.9, nesterov: true },
    { name: "sgd", momentum: 0.5, nesterov: false, dampening: 0.2 },
    { name: "sgd", momentum: 0, nesterov: false },
  ];
  const initial = Array.from({ length: 24 }, (_, i) => Math.sin(i + 1));
  const gradsAt = (k: number) => initial.map((x, i) => Math.cos(x * (k + 2) + i) * 0.1);
  const run = (spec: OptimizerSpec, fused: boolean) => {
    const v = tf.tidy(() => tf.variable(tf.tensor2d(initial, [4, 6])));
    const opt = createOptimizer(spec, [{ name: "w", variable: v, lrScale: 0.5, weightDecay: 0.02 }], {
      fused,
    });
    for (let k = 0; k < 4; k++) {
      const g = tf.tensor2d(gradsAt(k), [4, 6]);
      opt.step(new Map([["w", g]]), 0.05);
      g.dispose();
    }
    const out = Array.from(v.dataSync());
    opt.dispose();
    v.dispose();
    return out;
  };
  const previous = tf.getBackend();
  try {
    for (const backend of ["wasm", "cpu"]) {
      await tf.setBackend(backend);
      for (const spec of specs) {
        const before = tf.memory().numTensors;
        const fused = run(spec, true);
        assert.equal(tf.memory().numTensors, before, `${backend} ${spec.name}: leak`);
        const ops = run(spec, false);
        assert.ok(fused.some((x, i) => x !== initial[i]), "the weights moved");
        fused.forEach((x, i) =>
          assert.ok(Math.abs(x - ops[i]) < 1e-6, `${backend} ${JSON.stringify(spec)}: ${x} vs ${ops[i]}`)
        );
      }
    }
  } finally {
    await tf.setBackend(previous);
  }
});
