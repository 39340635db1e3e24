/**
 * The generic trainer resumes exactly: a run interrupted at a step boundary or in the middle of an
 * accumulation group, encoded, decoded and continued on a FRESH model (other initial weights) gives the same
 * learning rate and loss at every step and the same final weights as a run that was never interrupted —
 * with dropout on, gradient accumulation, gradual unfreezing, eval_steps, early-stopping counters and
 * ReduceLROnPlateau. A state saved for other data is refused, and load_best_model_at_end restores the best
 * evaluation's weights.
 */
import { tinyBertConfig } from "../support/tiny_bert.ts";
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/backend.ts";
import { initBertForSequenceClassification } from "../../shared/core/model/load.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { createRng } from "../../shared/core/random.ts";
import { fineTuneSequenceClassifier, type TrainEvent } from "../../shared/core/train/fine_tune.ts";
import { TrainerStateMismatchError } from "../../shared/core/train/trainer.ts";
import {
  decodeTrainerState,
  encodeTrainerState,
  type TrainerState,
} from "../../shared/core/train/trainer_state.ts";
import { type Hyperparameters, hyperparametersSchema } from "../../shared/schemas/hyperparameters.ts";

await initBackend("wasm");

const FRUIT = ["apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "plum"];
const VEHICLES = ["car", "truck", "bus", "train", "plane", "boat", "bike", "ship"];
const tokenizer = TextTokenizer.trainWordPiece([...FRUIT, ...VEHICLES, ...FRUIT, ...VEHICLES], {
  vocabSize: 64,
});

function toyData(n: number, seed: number) {
  const rng = createRng(seed);
  const texts: string[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const words = (i * 7 + seed) % 3 ? VEHICLES : FRUIT; // noisy enough that evals do not saturate
    texts.push(Array.from({ length: 3 + rng.nextInt(4) }, () => words[rng.nextInt(words.length)]).join(" "));
    labels.push(rng.nextInt(3) === 0 ? 1 - (words === FRUIT ? 0 : 1) : words === FRUIT ? 0 : 1);
  }
  return { texts, labels };
}

function tinyModel(seed: number) {
  const config = tinyBertConfig(tokenizer.vocabSize);
  return initBertForSequenceClassification(config, 2, seed);
}

const TRAIN = toyData(40, 1);
const VALIDATION = toyData(12, 2);

interface Run {
  steps: TrainEvent[];
  evals: TrainEvent[];
  weights: Map<string, Float32Array>;
  saved: TrainerState[];
  result: Awaited<ReturnType<typeof fineTuneSequenceClassifier>>;
}

async function run(
  hp: Hyperparameters,
  options: {
    stopAtCall?: number;
    resumeFrom?: TrainerState;
    everySteps?: number;
    everySeconds?: number;
    modelSeed?: number;
    loadBest?: boolean;
  } = {},
): Promise<Run> {
  const model = tinyModel(options.modelSeed ?? 1);
  const steps: TrainEvent[] = [];
  const evals: TrainEvent[] = [];
  const saved: TrainerState[] = [];
  let calls = 0;
  try {
    const result = await fineTuneSequenceClassifier({
      model,
      tokenizer,
      train: TRAIN,
      validation: VALIDATION,
      hyperparameters: hp,
      onEvent: (e) => void (e.type === "step" ? steps : evals).push(e),
      shouldStop: () => ++calls === options.stopAtCall,
      resumable: {
        resumeFrom: options.resumeFrom,
        onCheckpoint: (state) => void saved.push(decodeTrainerState(encodeTrainerState(state))),
        checkpointEvery: { steps: options.everySteps, seconds: options.everySeconds },
        checkpointOnStop: () => true,
        loadBestModelAtEnd: options.loadBest,
      },
    });
    const weights = new Map([...model.params].map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
    return { steps, evals, weights, saved, result };
  } finally {
    model.dispose();
  }
}

const lrs = (r: Run) => r.steps.map((e) => e.type === "step" ? e.learning_rate : NaN);
const losses = (r: Run) => r.steps.map((e) => e.type === "step" ? e.loss : NaN);

function assertSameWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [name, values] of a) {
    const other = b.get(name)!;
    let worst = 0;
    for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i] - other[i]));
    assert.ok(worst <= 1e-6, `${name} differs by ${worst}`);
  }
}

/** Uninterrupted vs stop at shouldStop call `stopAtCall` → bytes → fresh model → continue. */
async function assertResumesExactly(hp: Hyperparameters, stopAtCall: number) {
  const full = await run(hp);
  const first = await run(hp, { stopAtCall });
  assert.equal(first.result.status, "stopped");
  assert.equal(first.saved.length, 1, "a stop with checkpointOnStop hands over one state");
  const state = first.saved[0];
  assert.ok(state.step > 0 && state.step < full.steps.length, `stopped at step ${state.step}`);
  const second = await run(hp, { resumeFrom: state, modelSeed: 99 });
  assert.equal(second.result.status, "completed");
  assert.equal(second.steps[0].step, state.step + 1, "continues with the next step");
  const joinedLrs = [...lrs(first).slice(0, state.step), ...lrs(second)];
  const joinedLosses = [...losses(first).slice(0, state.step), ...losses(second)];
  assert.deepEqual(joinedLrs, lrs(full), "learning rate at every step");
  assert.deepEqual(joinedLosses, losses(full), "loss at every step (same batches, same dropout masks)");
  assert.deepEqual(
    [...first.evals.filter((e) => e.step <= state.step), ...second.evals].map((e) =>
      e.type === "eval" && e.metrics
    ),
    full.evals.map((e) => e.type === "eval" && e.metrics),
  );
  assert.deepEqual(second.result.metrics, full.result.metrics);
  assertSameWeights(second.weights, full.weights);
  return { full, state };
}

const BASE = hyperparametersSchema.parse({
  learning_rate: 3e-3,
  epochs: 3,
  batch_size: 8,
  max_seq_length: 16,
  warmup_ratio: 0.2,
  weight_decay: 0.01,
  max_grad_norm: 1,
  seed: 5,
  hidden_dropout: 0.1,
  attention_dropout: 0.1,
  classifier_dropout: 0.1,
});

Deno.test("resume at a step boundary: accumulation, gradual unfreezing, eval_steps, early stopping", async () => {
  const hp = {
    ...BASE,
    gradient_accumulation_steps: 2, // 5 batches → 3 steps per epoch, the last one short
    gradual_unfreezing: { interval: 2, unit: "steps", initial_groups: 1 },
    eval_steps: 2,
    early_stopping_patience: 50,
  } as Hyperparameters;
  // Calls of shouldStop: 2 per full step; call 9 is the first micro-batch of step 5 (epoch 2).
  const { state } = await assertResumesExactly(hp, 9);
  assert.equal(state.step, 4);
  assert.equal(state.epoch, 1);
  assert.ok(state.earlyStopping !== null && state.best !== null);
});

Deno.test("resume from the middle of an accumulation group drops the partial group", async () => {
  const hp = { ...BASE, gradient_accumulation_steps: 2 } as Hyperparameters;
  const { state } = await assertResumesExactly(hp, 4); // second micro-batch of step 2
  assert.equal(state.step, 1);
  assert.equal(state.microBatches, 2);
});

Deno.test("resume carries ReduceLROnPlateau's reductions", async () => {
  const hp = {
    ...BASE,
    epochs: 4,
    lr_scheduler_type: "reduce_lr_on_plateau",
    plateau_patience: 0,
    plateau_factor: 0.5,
    plateau_threshold: 100,
    plateau_threshold_mode: "abs",
  } as Hyperparameters;
  // 5 steps per epoch: call 17 is in epoch 4, after 3 evals (the first sets the best, two reduce the LR).
  const { full, state } = await assertResumesExactly(hp, 17);
  assert.equal(state.plateau?.scale, 0.25);
  assert.ok(new Set(lrs(full)).size >= 3, "the LR was reduced during the run");
});

Deno.test("periodic checkpoints every N steps continue exactly", async () => {
  const full = await run(BASE);
  const withCheckpoints = await run(BASE, { everySteps: 4 });
  assert.deepEqual(losses(withCheckpoints), losses(full), "checkpointing changes nothing");
  assert.deepEqual(withCheckpoints.saved.map((s) => s.step), [4, 8, 12]);
  const resumed = await run(BASE, { resumeFrom: withCheckpoints.saved[1], modelSeed: 7 });
  assert.deepEqual([...losses(full).slice(0, 8), ...losses(resumed)], losses(full));
  assertSameWeights(resumed.weights, full.weights);
  const everyBoundary = await run(BASE, { everySeconds: 1e-9 });
  const boundaries = Array.from({ length: full.steps.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(
    everyBoundary.saved.map((s) => s.step),
    boundaries,
    "a due time checkpoints every step but the last",
  );
});

Deno.test("a state saved for other data or another plan is refused", async () => {
  const first = await run(BASE, { stopAtCall: 3 });
  await assert.rejects(
    () => run({ ...BASE, batch_size: 4 }, { resumeFrom: first.saved[0] }),
    TrainerStateMismatchError,
  );
});

Deno.test("load_best_model_at_end keeps the best evaluation's weights and says which step", async () => {
  const hp = { ...BASE, epochs: 4, learning_rate: 2e-2, eval_steps: 1 } as Hyperparameters;
  const last = await run(hp);
  const best = await run(hp, { loadBest: true });
  assert.ok(best.result.best, "a best evaluation is reported");
  const bestStep = best.result.best!.step;
  const evalLosses = last.evals.map((e) => e.type === "eval" ? e.metrics.eval_loss : NaN);
  const minimum = Math.min(...evalLosses);
  assert.equal(best.result.best!.metrics.eval_loss, minimum);
  assert.equal(last.evals[evalLosses.indexOf(minimum)].step, bestStep);
  assert.equal(best.result.metrics.eval_loss, minimum);
  // The returned weights are those after step `bestStep`: a run that stops right there has them.
  const upToBest = await run(hp, { stopAtCall: bestStep + 1 });
  assertSameWeights(best.weights, upToBest.weights);
});
