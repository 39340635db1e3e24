/**
 * The fine-tuning loop learns and behaves: a tiny BERT overfits a small batch to near-zero loss, reaches
 * ≥ 0.95 held-out accuracy on a separable toy task, repeats its losses exactly for the same seed, stops within
 * one step when asked, evaluates at epoch ends and every eval_steps, leaks no tensors, and refuses bad labels.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import { parseBertConfig } from "../../shared/core/model/config.ts";
import { initBertForSequenceClassification } from "../../shared/core/model/load.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { createRng, shuffledIndices } from "../../shared/core/random.ts";
import { fineTuneSequenceClassifier, type TrainEvent } from "../../shared/core/train/fine_tune.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import { type Hyperparameters, hyperparametersSchema } from "../../shared/schemas/hyperparameters.ts";

await initBackend("wasm");

const FRUIT = ["apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "plum"];
const VEHICLES = ["car", "truck", "bus", "train", "plane", "boat", "bike", "ship"];

/** Sentences of 3–7 words drawn from one word list per class; alternating labels. */
function toyData(n: number, seed: number) {
  const rng = createRng(seed);
  const texts: string[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const words = i % 2 ? VEHICLES : FRUIT;
    const length = 3 + Math.floor(rng.next() * 5);
    texts.push(Array.from({ length }, () => words[Math.floor(rng.next() * words.length)]).join(" "));
    labels.push(i % 2);
  }
  return { texts, labels };
}

const tokenizer = TextTokenizer.trainWordPiece([...FRUIT, ...VEHICLES, ...FRUIT, ...VEHICLES], {
  vocabSize: 64,
});

function tinyModel(seed = 1) {
  const config = parseBertConfig({
    model_type: "bert",
    vocab_size: tokenizer.vocabSize,
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 64,
    max_position_embeddings: 32,
  });
  return initBertForSequenceClassification(config, 2, seed);
}

const HP: Hyperparameters = hyperparametersSchema.parse({
  learning_rate: 3e-3,
  epochs: 10,
  batch_size: 16,
  max_seq_length: 16,
  warmup_ratio: 0.1,
  weight_decay: 0.01,
  max_grad_norm: 1,
  seed: 1,
  eval_steps: null,
});

async function train(
  hp: Partial<Hyperparameters>,
  data: { texts: string[]; labels: number[] },
  validation: { texts: string[]; labels: number[] } | null,
  shouldStop: (events: TrainEvent[]) => boolean = () => false,
) {
  const model = tinyModel();
  const events: TrainEvent[] = [];
  try {
    const result = await fineTuneSequenceClassifier({
      model,
      tokenizer,
      train: data,
      validation,
      hyperparameters: { ...HP, ...hp },
      onEvent: (e) => void events.push(e),
      shouldStop: () => shouldStop(events),
    });
    return { result, events, steps: events.filter((e) => e.type === "step") };
  } finally {
    model.dispose();
  }
}

Deno.test("shuffledIndices is a permutation that depends only on (n, seed)", () => {
  const a = shuffledIndices(50, 3);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(shuffledIndices(50, 3), a);
  assert.notDeepEqual(shuffledIndices(50, 4), a);
});

Deno.test("a tiny BERT overfits a small batch to near-zero loss", async () => {
  const data = toyData(8, 5);
  const { result, steps } = await train(
    {
      epochs: 60,
      batch_size: 8,
      warmup_ratio: 0,
      weight_decay: 0,
      learning_rate: 2e-3,
      hidden_dropout: 0,
      attention_dropout: 0,
    },
    data,
    null,
  );
  assert.equal(result.status, "completed");
  assert.equal(result.steps, 60);
  const first = steps[0] as Extract<TrainEvent, { type: "step" }>;
  const last = steps[steps.length - 1] as Extract<TrainEvent, { type: "step" }>;
  assert.ok(first.loss > 0.5, `initial loss ${first.loss} ≈ ln 2`);
  assert.ok(last.loss < 0.05, `final loss ${last.loss}`);
});

Deno.test("held-out accuracy ≥ 0.95 on a separable toy task; eval events at epoch ends", async () => {
  const { result, events } = await train({}, toyData(64, 1), toyData(40, 2));
  assert.equal(result.status, "completed");
  assert.equal(result.steps, 40);
  assert.ok(result.metrics.accuracy >= 0.95, `accuracy ${result.metrics.accuracy}`);
  assert.ok(result.metrics.macro_f1 >= 0.95, `macro_f1 ${result.metrics.macro_f1}`);
  assert.ok(result.metrics.eval_loss < 0.3, `eval_loss ${result.metrics.eval_loss}`);
  const evals = events.filter((e) => e.type === "eval");
  assert.deepEqual(evals.map((e) => e.step), [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]);
  const lrs = events.flatMap((e) => (e.type === "step" ? [e.learning_rate] : []));
  assert.equal(lrs[0], 0); // linear warm-up starts at 0, as transformers' schedule
  assert.ok(Math.abs(Math.max(...lrs) - HP.learning_rate) < 1e-12);
});

Deno.test("same seed gives identical losses; another seed differs; no tensors leak", async () => {
  const data = toyData(24, 3);
  const hp = { epochs: 2, batch_size: 8, eval_steps: 2 };
  const before = tf.memory().numTensors;
  const a = await train(hp, data, toyData(8, 4));
  const afterOne = tf.memory().numTensors;
  const b = await train(hp, data, toyData(8, 4));
  const c = await train({ ...hp, seed: 2 }, data, toyData(8, 4));
  const losses = (r: typeof a) => r.steps.map((e) => (e as Extract<TrainEvent, { type: "step" }>).loss);
  assert.deepEqual(losses(a), losses(b));
  assert.notDeepEqual(losses(a), losses(c));
  assert.equal(afterOne, before, "one run leaves the tensor count unchanged");
  assert.equal(tf.memory().numTensors, before);
  // every 2 steps and at epoch ends (3, 6), never twice for the same step
  assert.deepEqual(a.events.filter((e) => e.type === "eval").map((e) => e.step), [2, 3, 4, 6]);
});

Deno.test("shouldStop stops within one step", async () => {
  const { result, steps } = await train(
    { epochs: 5, batch_size: 4 },
    toyData(16, 6),
    null,
    (events) => events.length >= 3,
  );
  assert.equal(result.status, "stopped");
  assert.equal(result.steps, 3);
  assert.equal(steps.length, 3);
  assert.ok(Number.isFinite(result.metrics.train_loss));
});

Deno.test("bad labels and mismatched lengths are 400 invalid_request", async () => {
  const data = toyData(4, 1);
  await assert.rejects(
    () => train({}, { texts: data.texts, labels: [0, 1, 2, 0] }, null),
    (e) => e instanceof ApiError && e.status === 400 && /label 2/.test(e.message),
  );
  await assert.rejects(
    () => train({}, { texts: data.texts, labels: [0, 1] }, null),
    (e) => e instanceof ApiError && e.status === 400,
  );
});
