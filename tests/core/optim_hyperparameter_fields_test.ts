/**
 * The proposed optimization hyperparameter fields: defaults parse to AdamW + linear warm-up, bad values are
 * rejected by zod, cross-field issues are reported per field, and every lr_scheduler_type converts to a
 * schedule createSchedule accepts (with transformers' defaults showing through).
 */
import assert from "node:assert/strict";
import { z } from "zod";
import {
  layerIssues,
  lrSchedulerTypes,
  optimizationFields,
  optimizationIssues,
  type OptimizationSettings,
  optimizerSpecFrom,
  paramGroupOptionsFrom,
  plateauOptionsFrom,
  scheduleSpecFrom,
  unfreezePlanFrom,
} from "../../shared/core/train/hyperparameter_fields.ts";
import { createSchedule } from "../../shared/core/train/schedules.ts";

const schema = z.object({
  learning_rate: z.number().default(5e-5),
  warmup_ratio: z.number().default(0.1),
  weight_decay: z.number().default(0.01),
  ...optimizationFields,
}).strict();

const parse = (input: Record<string, unknown>): OptimizationSettings => schema.parse(input);

Deno.test("defaults: AdamW with torch betas and linear warm-up over warmup_ratio", () => {
  const h = parse({});
  assert.deepEqual(optimizerSpecFrom(h), { name: "adamw", beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
  assert.deepEqual(scheduleSpecFrom(h, 1000), { name: "linear", warmupSteps: 100 });
  assert.deepEqual(scheduleSpecFrom({ ...h, warmup_steps: 7 }, 1000), { name: "linear", warmupSteps: 7 });
  assert.equal(plateauOptionsFrom(h), null);
  assert.equal(unfreezePlanFrom(h, 12, 50), null);
  assert.deepEqual(optimizationIssues(h), []);
  assert.equal(paramGroupOptionsFrom(h, 12).layerLrDecay, 1);
});

Deno.test("zod rejects out-of-range values and unknown group keys", () => {
  const bad: Record<string, unknown>[] = [
    { optimizer: "adam" },
    { adam_beta2: 1 },
    { layer_lr_decay: 0 },
    { lr_multipliers: { pooler: 2 } },
    { lr_overrides: { "layer.01": 1e-5 } },
    { gradient_accumulation_steps: 0 },
    { label_smoothing: 1 },
    { gradual_unfreezing: { interval: 1, every: 2 } },
    { lr_scheduler_type: "onecycle" },
  ];
  for (const input of bad) assert.equal(schema.safeParse(input).success, false, JSON.stringify(input));
  assert.deepEqual(parse({ lr_overrides: { "layer.11": 1e-5, head: 1e-4 } }).lr_overrides, {
    "layer.11": 1e-5,
    head: 1e-4,
  });
});

Deno.test("every lr_scheduler_type converts to a schedule that starts its warm-up or its cycle correctly", () => {
  for (const type of lrSchedulerTypes) {
    const h = parse({ lr_scheduler_type: type, learning_rate: 1e-3, warmup_steps: 10 });
    const lr = createSchedule(scheduleSpecFrom(h, 100), h.learning_rate, 100);
    const expectedAt0 = type === "constant" ? 1e-3 : type === "cyclic" ? 1e-4 : 0;
    assert.ok(Math.abs(lr(0) - expectedAt0) < 1e-15, `${type}: lr(0) = ${lr(0)}`);
    assert.ok(lr(50) > 0 && lr(50) <= 1e-3 + 1e-15, `${type}: lr(50) = ${lr(50)}`);
  }
  const restarts = scheduleSpecFrom(parse({ lr_scheduler_type: "cosine_with_restarts", num_cycles: 3 }), 100);
  assert.deepEqual(restarts, {
    name: "cosine",
    warmupSteps: 10,
    numCycles: 3,
    hardRestarts: true,
    minLrRatio: 0,
  });
});

Deno.test("plateau mode follows the metric; gradual unfreezing intervals convert epochs to steps", () => {
  const base = { lr_scheduler_type: "reduce_lr_on_plateau" };
  assert.equal(plateauOptionsFrom(parse(base))!.mode, "min");
  assert.equal(plateauOptionsFrom(parse({ ...base, metric_for_best_model: "f1" }))!.mode, "max");
  assert.equal(
    plateauOptionsFrom(parse({ ...base, metric_for_best_model: "f1", greater_is_better: false }))!.mode,
    "min",
  );
  const byEpoch = parse({ gradual_unfreezing: { interval: 2 } });
  assert.deepEqual(unfreezePlanFrom(byEpoch, 4, 30), { numLayers: 4, interval: 60, initialGroups: 1 });
  const bySteps = parse({ gradual_unfreezing: { interval: 25, unit: "steps", initial_groups: 2 } });
  assert.deepEqual(unfreezePlanFrom(bySteps, 4, 30), { numLayers: 4, interval: 25, initialGroups: 2 });
});

Deno.test("cross-field issues name the offending field", () => {
  const paths = (input: Record<string, unknown>) => optimizationIssues(parse(input)).map((i) => i.path);
  assert.deepEqual(paths({ optimizer: "sgd", sgd_nesterov: true, sgd_dampening: 0.1 }), ["sgd_nesterov"]);
  assert.deepEqual(paths({ lr_scheduler_type: "polynomial", learning_rate: 1e-7 }), ["lr_end"]);
  assert.deepEqual(paths({ lr_scheduler_type: "cyclic", learning_rate: 1e-4, cyclic_min_lr: 1e-3 }), [
    "cyclic_min_lr",
  ]);
  assert.deepEqual(paths({ lr_multipliers: { head: 2 }, lr_overrides: { head: 1e-4 } }), ["lr_overrides"]);
  const h = parse({ freeze_layers: 13, lr_multipliers: { "layer.12": 0.5, "layer.11": 0.5 } });
  assert.deepEqual(layerIssues(h, 12).map((i) => i.path), ["freeze_layers", "lr_multipliers"]);
  assert.deepEqual(layerIssues(h, 14), []);
});
