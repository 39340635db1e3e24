/**
 * Learning-rate schedules: every kind against the torch goldens (tools/torch_reference/make_goldens.py),
 * transformers' linear warm-up/decay semantics (0 at step 0, peak after warm-up, 0 at totalSteps), warm-up
 * resolution, ReduceOnPlateau against torch's ReduceLROnPlateau, and input validation.
 */
import assert from "node:assert/strict";
import {
  createSchedule,
  ReduceOnPlateau,
  type ReduceOnPlateauOptions,
  resolveWarmupSteps,
  type ScheduleSpec,
} from "../../shared/core/train/schedules.ts";

Deno.test("linear schedule: warm-up from 0, peak at warmupSteps, linear decay to 0 at totalSteps", () => {
  const lr = createSchedule({ name: "linear", warmupSteps: 10 }, 1e-3, 110);
  assert.equal(lr(0), 0);
  assert.ok(Math.abs(lr(5) - 5e-4) < 1e-15);
  assert.equal(lr(10), 1e-3);
  assert.ok(Math.abs(lr(60) - 5e-4) < 1e-15);
  assert.equal(lr(110), 0);
  assert.equal(lr(200), 0, "never negative after the end");
  assert.throws(() => lr(-1), /step/);
  assert.throws(() => lr(1.5), /step/);
});

Deno.test("resolveWarmupSteps: explicit steps win, otherwise ceil(total · ratio)", () => {
  assert.equal(resolveWarmupSteps(1000, { warmup_steps: 7, warmup_ratio: 0.5 }), 7);
  assert.equal(resolveWarmupSteps(1001, { warmup_ratio: 0.1 }), 101);
  assert.equal(resolveWarmupSteps(1000, { warmup_steps: 0, warmup_ratio: 0.1 }), 100);
  assert.equal(resolveWarmupSteps(1000, {}), 0);
});

interface ScheduleGolden {
  baseLr: number;
  totalSteps: number;
  cases: { spec: ScheduleSpec; lrs: number[] }[];
  plateau: { options: ReduceOnPlateauOptions; metrics: number[]; lrs: number[] }[];
}

const golden: ScheduleGolden = JSON.parse(
  Deno.readTextFileSync(new URL("../fixtures/golden/schedules.json", import.meta.url)),
);

function assertClose(actual: number, expected: number, what: string) {
  assert.ok(
    Math.abs(actual - expected) <= 1e-18 + 1e-12 * Math.abs(expected),
    `${what}: ${actual} vs torch ${expected}`,
  );
}

Deno.test("every schedule matches torch's LambdaLR/CyclicLR/ExponentialLR at steps 0..120", () => {
  const kinds = new Set(golden.cases.map((c) => c.spec.name));
  assert.equal(kinds.size, 8, "all schedule kinds are covered by the goldens");
  for (const { spec, lrs } of golden.cases) {
    const schedule = createSchedule(spec, golden.baseLr, golden.totalSteps);
    lrs.forEach((expected, step) =>
      assertClose(schedule(step), expected, `${JSON.stringify(spec)} step ${step}`)
    );
  }
});

Deno.test("ReduceOnPlateau reproduces torch's ReduceLROnPlateau LR after every metric", () => {
  for (const { options, metrics, lrs } of golden.plateau) {
    const plateau = new ReduceOnPlateau(golden.baseLr, options);
    metrics.forEach((m, i) => {
      plateau.step(m);
      assertClose(plateau.apply(golden.baseLr), lrs[i], `${JSON.stringify(options)} eval ${i}`);
    });
    assert.ok(lrs.at(-1)! < golden.baseLr, "each golden sequence reduces the LR at least once");
  }
});

Deno.test("ReduceOnPlateau reports reductions, respects min LR, and resumes from saved state", () => {
  const plateau = new ReduceOnPlateau(1e-3, { mode: "min", factor: 0.5, patience: 0, minLr: 3e-4 });
  assert.equal(plateau.step(1), false, "first metric is an improvement over +inf");
  assert.equal(plateau.step(1), true);
  assert.equal(plateau.scale, 0.5);
  const saved = plateau.saveState();
  assert.equal(plateau.step(1), true);
  assert.ok(Math.abs(plateau.apply(1e-3) - 3e-4) < 1e-18, "clamped at minLr");
  assert.equal(plateau.step(1), false, "already at minLr: no further reduction");
  const resumed = new ReduceOnPlateau(1e-3, { mode: "min", factor: 0.5, patience: 0, minLr: 3e-4 });
  resumed.loadState(saved);
  assert.equal(resumed.scale, 0.5);
  assert.equal(resumed.step(1), true);
  assert.throws(() => new ReduceOnPlateau(1e-3, { factor: 1 }), /factor/);
});

Deno.test("schedules reject invalid specs", () => {
  assert.throws(() => createSchedule({ name: "linear", warmupSteps: -1 }, 1e-3, 10), /warmupSteps/);
  assert.throws(
    () => createSchedule({ name: "polynomial", warmupSteps: 0, lrEnd: 1e-2 }, 1e-3, 10),
    /lr_end/,
  );
  assert.throws(
    () => createSchedule({ name: "cosine", warmupSteps: 0, minLrRatio: 2 }, 1e-3, 10),
    /minLrRatio/,
  );
  assert.throws(() => createSchedule({ name: "cyclic", minLr: 1e-2, stepSizeUp: 5 }, 1e-3, 10), /minLr/);
  assert.throws(() => createSchedule({ name: "exponential", warmupSteps: 0, gamma: 0 }, 1e-3, 10), /gamma/);
});
