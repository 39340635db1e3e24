/**
 * PyTorch parity of the whole optimization path: replays the goldens written by
 * tools/torch_reference/make_goldens.py (a tiny named-parameter model — embeddings + LayerNorm, 4 tanh
 * "encoder" layers, a classifier — trained 30 steps by torch) with our param groups, optimizers, schedules
 * and clipping, and asserts every step's loss (1e-4 relative), the scheduled LRs, the pre-clip gradient
 * norms, the final weights (1e-5 absolute), and that frozen weights are unchanged bit for bit — both through
 * the fused in-place loops and through the tfjs-ops fallback.
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
import {
  createOptimizer,
  type OptimizerSpec,
  type TrainableParam,
} from "../../shared/core/train/optimizers.ts";
import { buildParamGroups, type ParamGroupOptions } from "../../shared/core/train/param_groups.ts";
import { createSchedule, type ScheduleSpec } from "../../shared/core/train/schedules.ts";

await tf.ready();

interface NamedArray {
  shape: number[];
  data: number[];
}

interface TrainGolden {
  optimizer: OptimizerSpec;
  baseLr: number;
  schedule: ScheduleSpec;
  clip: { maxNorm?: number; maxValue?: number } | null;
  groups: ParamGroupOptions;
  model: {
    numLayers: number;
    hidden: number;
    classes: number;
    batchSize: number;
    steps: number;
    layerNormEps: number;
  };
  data: { x: NamedArray; y: number[] };
  initial: Record<string, NamedArray>;
  losses: number[];
  lrs: number[];
  gradNorms: number[];
  final: Record<string, NamedArray>;
}

function loadGolden(name: string): TrainGolden {
  return JSON.parse(Deno.readTextFileSync(new URL(`../fixtures/golden/train_${name}.json`, import.meta.url)));
}

/** The same forward pass as make_goldens.py's forward_loss, in tfjs ops. */
function forwardLoss(
  p: Record<string, tf.Tensor>,
  x: tf.Tensor2D,
  y: tf.Tensor1D,
  g: TrainGolden,
): tf.Scalar {
  let h = tf.matMul(x, p["embeddings.proj.weight"] as tf.Tensor2D);
  const mean = tf.mean(h, -1, true);
  const centered = tf.sub(h, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  h = tf.add(
    tf.mul(
      tf.div(centered, tf.sqrt(tf.add(variance, g.model.layerNormEps))),
      p["embeddings.LayerNorm.weight"],
    ),
    p["embeddings.LayerNorm.bias"],
  );
  for (let i = 0; i < g.model.numLayers; i++) {
    const w = p[`encoder.layer.${i}.dense.weight`] as tf.Tensor2D;
    h = tf.tanh(tf.add(tf.matMul(h, w), p[`encoder.layer.${i}.dense.bias`]));
  }
  const logits = tf.add(tf.matMul(h, p["classifier.weight"] as tf.Tensor2D), p["classifier.bias"]);
  const picked = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(y, g.model.classes)), -1);
  return tf.neg(tf.mean(picked)) as tf.Scalar;
}

function replay(name: string, fused: boolean): void {
  const label = fused ? name : `${name} (tfjs ops)`;
  const g = loadGolden(name);
  const names = Object.keys(g.initial);
  const variables = new Map(
    names.map((n) => [n, tf.variable(tf.tensor(g.initial[n].data, g.initial[n].shape))]),
  );
  const groups = buildParamGroups(names, { ...g.groups, baseLr: g.baseLr, numLayers: g.model.numLayers });
  const params: TrainableParam[] = [...groups].map(([n, grp]) => ({
    name: n,
    variable: variables.get(n)!,
    ...grp,
  }));
  const trainable = params.map((p) => p.name);
  const optimizer = createOptimizer(g.optimizer, params, { fused });
  const schedule = createSchedule(g.schedule, g.baseLr, g.model.steps);
  const x = tf.tensor2d(g.data.x.data, g.data.x.shape as [number, number]);
  const y = tf.tensor1d(g.data.y, "int32");
  const batches = g.data.x.shape[0] / g.model.batchSize;
  const tensorsBefore = tf.memory().numTensors;

  for (let step = 0; step < g.model.steps; step++) {
    const lr = schedule(step);
    assert.ok(
      Math.abs(lr - g.lrs[step]) <= 1e-12 + 1e-9 * Math.abs(g.lrs[step]),
      `${label} step ${step}: lr ${lr}`,
    );
    const b = step % batches;
    const xb = tf.slice(x, [b * g.model.batchSize, 0], [g.model.batchSize, -1]);
    const yb = tf.slice(y, [b * g.model.batchSize], [g.model.batchSize]);
    const { value, grads } = tf.valueAndGrads((...ws: tf.Tensor[]) => {
      const all: Record<string, tf.Tensor> = Object.fromEntries(variables);
      trainable.forEach((n, i) => (all[n] = ws[i]));
      return forwardLoss(all, xb, yb, g);
    })(trainable.map((n) => variables.get(n)!));
    const loss = value.dataSync()[0];
    const rel = Math.abs(loss - g.losses[step]) / Math.abs(g.losses[step]);
    assert.ok(rel <= 1e-4, `${label} step ${step}: loss ${loss} vs torch ${g.losses[step]} (rel ${rel})`);

    let gradMap = new Map(trainable.map((n, i) => [n, grads[i]]));
    const toDispose: tf.Tensor[] = [value, xb, yb, ...grads];
    let gradScale = 1;
    if (g.clip?.maxNorm !== undefined) {
      // fused mode exercises the cheap path (coefficient folded into the step), tfjs-ops mode the clipped map
      const clipped = fused ? null : clipByGlobalNorm(gradMap, g.clip.maxNorm);
      const norm = clipped?.norm ?? globalNorm(gradMap);
      const normRel = Math.abs(norm - g.gradNorms[step]) / g.gradNorms[step];
      assert.ok(normRel <= 1e-4, `${label} step ${step}: grad norm ${norm} vs ${g.gradNorms[step]}`);
      if (clipped) gradMap = clipped.grads;
      else gradScale = clipCoefficient(norm, g.clip.maxNorm);
    }
    if (g.clip?.maxValue !== undefined) gradMap = clipByValue(gradMap, g.clip.maxValue);
    optimizer.step(gradMap, lr, gradScale);
    tf.dispose([...toDispose, ...gradMap.values()]);
  }
  const slotTensors = Object.values(optimizer.saveState().slots)
    .reduce((sum, slots) => sum + Object.keys(slots).length - 1, 0);
  assert.equal(
    tf.memory().numTensors,
    tensorsBefore + slotTensors,
    `${label}: tensors leaked during training`,
  );

  for (const n of names) {
    const actual = variables.get(n)!.dataSync();
    if (!groups.has(n)) {
      assert.deepEqual(actual, Float32Array.from(g.initial[n].data), `${label}: frozen ${n} changed`);
      continue;
    }
    const expected = g.final[n].data;
    const worst = expected.reduce((m, e, i) => Math.max(m, Math.abs(actual[i] - e)), 0);
    assert.ok(worst <= 1e-5, `${label}: ${n} differs from torch by ${worst}`);
  }
  optimizer.dispose();
  tf.dispose([x, y, ...variables.values()]);
}

Deno.test("AdamW + linear warm-up/decay + global-norm clipping matches torch for 30 steps", () => {
  for (const fused of [true, false]) replay("adamw_linear_clip", fused);
});

Deno.test("LAMB + cosine with min LR ratio + clipping matches the Python LAMB reference for 30 steps", () => {
  for (const fused of [true, false]) replay("lamb_cosine", fused);
});

Deno.test("SGD Nesterov + triangular2 CyclicLR + value clipping matches torch for 30 steps", () => {
  for (const fused of [true, false]) replay("sgd_nesterov_cyclic", fused);
});

Deno.test("SGD momentum with dampening + coupled L2 + polynomial decay matches torch for 30 steps", () => {
  for (const fused of [true, false]) replay("sgd_dampening_polynomial", fused);
});

Deno.test("layer-wise LR decay, a head multiplier and two frozen layers match torch; frozen weights untouched", () => {
  const g = loadGolden("adamw_llrd_frozen");
  const groups = buildParamGroups(Object.keys(g.initial), { ...g.groups, numLayers: g.model.numLayers });
  assert.ok(!groups.has("encoder.layer.0.dense.weight") && !groups.has("encoder.layer.1.dense.bias"));
  assert.equal(groups.get("encoder.layer.2.dense.weight")!.lrScale, 0.7);
  assert.equal(groups.get("encoder.layer.3.dense.weight")!.lrScale, 1);
  assert.ok(Math.abs(groups.get("embeddings.proj.weight")!.lrScale - 0.7 ** 4) < 1e-15);
  assert.equal(groups.get("classifier.bias")!.lrScale, 1.5);
  for (const fused of [true, false]) replay("adamw_llrd_frozen", fused);
});
