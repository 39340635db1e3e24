/**
 * The loop's optional optimisation settings (hyperparameter_fields.ts): gradient accumulation matches one
 * big batch, freezing the encoder trains only the head, early stopping ends a run whose metric stops
 * improving, label smoothing gives transformers' loss, and inconsistent settings are 400s before step one.
 */
import { tinyBertConfig } from "../support/tiny_bert.ts";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import { crossEntropy } from "../../shared/core/eval/evaluate.ts";
import type { BertForSequenceClassification } from "../../shared/core/model/bert.ts";
import { initBertForSequenceClassification } from "../../shared/core/model/load.ts";
import { createRng } from "../../shared/core/random.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { fineTuneSequenceClassifier, type TrainEvent } from "../../shared/core/train/fine_tune.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import { type Hyperparameters, hyperparametersSchema } from "../../shared/schemas/hyperparameters.ts";

await initBackend("wasm");

const WORDS = [["red", "green", "blue", "pink"], ["one", "two", "three", "four"]];
function toyData(n: number, seed: number) {
  const rng = createRng(seed);
  const texts: string[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const words = WORDS[i % 2];
    texts.push(Array.from({ length: 4 }, () => words[Math.floor(rng.next() * words.length)]).join(" "));
    labels.push(i % 2);
  }
  return { texts, labels };
}
const tokenizer = TextTokenizer.trainWordPiece([...WORDS.flat(), ...WORDS.flat()], { vocabSize: 40 });
const config = tinyBertConfig(tokenizer.vocabSize);
const BASE: Hyperparameters = hyperparametersSchema.parse({
  learning_rate: 3e-3,
  epochs: 2,
  batch_size: 8,
  max_seq_length: 8,
  warmup_ratio: 0,
  weight_decay: 0.01,
  max_grad_norm: 1,
  seed: 3,
  eval_steps: null,
  hidden_dropout: 0,
  attention_dropout: 0,
  classifier_dropout: 0,
});

async function run(
  extra: Record<string, unknown>,
  validation = true,
  inspect?: (m: BertForSequenceClassification) => void,
) {
  const model = initBertForSequenceClassification(config, 2, 1);
  const events: TrainEvent[] = [];
  try {
    const result = await fineTuneSequenceClassifier({
      model,
      tokenizer,
      train: toyData(32, 1),
      validation: validation ? toyData(16, 2) : null,
      hyperparameters: { ...BASE, ...extra } as Hyperparameters,
      onEvent: (e) => void events.push(e),
      shouldStop: () => false,
    });
    inspect?.(model);
    const losses = events.flatMap((e) => (e.type === "step" ? [e.loss] : []));
    return { result, events, losses };
  } finally {
    model.dispose();
  }
}

Deno.test("gradient accumulation of 2×4 matches batches of 8", async () => {
  const big = await run({ batch_size: 8 });
  const accumulated = await run({ batch_size: 4, gradient_accumulation_steps: 2 });
  assert.equal(accumulated.result.steps, big.result.steps);
  assert.equal(big.result.steps, 8);
  for (let i = 0; i < big.losses.length; i++) {
    assert.ok(Math.abs(big.losses[i] - accumulated.losses[i]) < 1e-4, `step ${i}`);
  }
});

Deno.test("freeze_encoder trains the head only", async () => {
  const before = initBertForSequenceClassification(config, 2, 1);
  const snapshot = new Map([...before.params].map(([n, v]) => [n, v.dataSync().slice()]));
  before.dispose();
  await run({ freeze_encoder: true }, true, (model) => {
    for (const [name, v] of model.params) {
      const values = v.dataSync() as Float32Array;
      const same = values.every((x, i) => x === snapshot.get(name)![i]);
      const isHead = name.startsWith("classifier.") || name.startsWith("bert.pooler.");
      assert.equal(same, !isHead, `${name} ${isHead ? "should" : "should not"} change`);
    }
  });
});

Deno.test("early stopping ends the run when the metric stops improving", async () => {
  const { result, events } = await run({
    epochs: 6,
    early_stopping_patience: 1,
    early_stopping_threshold: 100, // no improvement is ever big enough
  });
  assert.equal(result.status, "completed");
  assert.equal(result.steps, 8); // two epochs of 4 steps: the second eval does not improve
  assert.equal(events.filter((e) => e.type === "eval").length, 2);
  assert.equal(result.metrics.epoch, 2);
});

Deno.test("label smoothing follows transformers' LabelSmoother", () => {
  const loss = tf.tidy(() =>
    crossEntropy(tf.tensor2d([[2, 0], [0, 1]]), tf.tensor1d([0, 0], "int32"), 0.1).dataSync()[0]
  );
  const lse = (a: number, b: number) => Math.log(Math.exp(a) + Math.exp(b));
  const rows = [[2, 0], [0, 1]].map(([a, b]) => {
    const logp = [a - lse(a, b), b - lse(a, b)];
    return 0.9 * -logp[0] + 0.1 * -(logp[0] + logp[1]) / 2;
  });
  assert.ok(Math.abs(loss - (rows[0] + rows[1]) / 2) < 1e-6);
});

Deno.test("inconsistent optimisation settings are 400s before the first step", async () => {
  const is400 = (pattern: RegExp) => (e: unknown) =>
    e instanceof ApiError && e.status === 400 && pattern.test(e.message);
  await assert.rejects(() => run({ freeze_layers: 5 }), is400(/freeze_layers/));
  await assert.rejects(() => run({ early_stopping_patience: 2 }, false), is400(/validation set/));
  await assert.rejects(
    () => run({ early_stopping_patience: 2, metric_for_best_model: "bleu" }),
    is400(/metric_for_best_model 'bleu'/),
  );
  await assert.rejects(() => run({ optimizer: "adagrad" }), is400(/optimisation hyperparameters/));
});

Deno.test("gradual unfreezing starts with the head alone", async () => {
  const before = initBertForSequenceClassification(config, 2, 1);
  const snapshot = new Map([...before.params].map(([n, v]) => [n, v.dataSync().slice()]));
  before.dispose();
  await run(
    { epochs: 1, batch_size: 32, gradual_unfreezing: { interval: 1, unit: "epoch" } },
    true,
    (model) => {
      const changed = [...model.params].filter(([name, v]) =>
        (v.dataSync() as Float32Array).some((x, i) => x !== snapshot.get(name)![i])
      ).map(([name]) => name);
      assert.deepEqual(changed.sort(), [
        "bert.pooler.dense.bias",
        "bert.pooler.dense.weight",
        "classifier.bias",
        "classifier.weight",
      ]);
    },
  );
});

Deno.test("reduce_lr_on_plateau lowers the LR after an evaluation without improvement", async () => {
  const { events } = await run({
    epochs: 3,
    lr_scheduler_type: "reduce_lr_on_plateau",
    plateau_patience: 0,
    plateau_factor: 0.5,
    plateau_threshold: 100,
    plateau_threshold_mode: "abs",
  });
  const lrs = events.flatMap((e) => (e.type === "step" ? [e.learning_rate] : []));
  assert.deepEqual(lrs, [
    ...new Array(8).fill(BASE.learning_rate),
    ...new Array(4).fill(BASE.learning_rate / 2),
  ]);
});
