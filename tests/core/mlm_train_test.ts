/**
 * The masked-LM TrainingTask under the generic trainer: a tiny BERT overfits a few sentences (training loss
 * and held-out MLM loss fall, masked-token accuracy rises, perplexity drops), the same seed repeats the run
 * exactly, `loss` draws its masks from its seed, a batch with nothing to predict gives a zero loss, the
 * evaluation scores the same tokens whatever the batch size, and nothing leaks tensors.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import { parseBertConfig } from "../../shared/core/model/config.ts";
import { initBertForMaskedLM } from "../../shared/core/model/mlm_head.ts";
import { mlmExamples } from "../../shared/core/tasks/mlm/examples.ts";
import { MaskedLmTask } from "../../shared/core/tasks/mlm/task.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { train, type TrainEvent } from "../../shared/core/train/trainer.ts";
import { hyperparametersSchema } from "../../shared/schemas/hyperparameters.ts";

await initBackend("wasm");

const SENTENCES = [
  "the red fox jumps over the lazy dog",
  "a small cat sleeps on the warm mat",
  "my old car drives down the long road",
  "the tall tree grows in the green park",
];
const tokenizer = TextTokenizer.trainWordPiece(SENTENCES, { vocabSize: 80 });
const config = parseBertConfig({
  model_type: "bert",
  vocab_size: tokenizer.vocabSize,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 16,
  hidden_dropout_prob: 0,
  attention_probs_dropout_prob: 0,
});
const examples = mlmExamples(tokenizer, SENTENCES, { maxLength: 16 });
// Many copies so one epoch has many steps; held-out = the sentences themselves (we are overfitting).
const trainSet = Array.from({ length: 12 }, () => examples).flat();

async function run(seed: number, epochs: number) {
  const model = initBertForMaskedLM(config, 1);
  const task = new MaskedLmTask(model, tokenizer, { mlmProbability: 0.3 });
  const events: TrainEvent[] = [];
  const before = await task.evaluate(examples, { batchSize: 4, labelSmoothing: 0 });
  const result = await train({
    task,
    train: trainSet,
    validation: examples,
    hyperparameters: hyperparametersSchema.parse({
      learning_rate: 1e-2,
      epochs,
      batch_size: 8,
      warmup_ratio: 0,
      weight_decay: 0,
      seed,
    }),
    onEvent: (e) => void events.push(e),
    shouldStop: () => false,
  });
  model.dispose();
  return { before, result, losses: events.filter((e) => e.type === "step").map((e) => e.loss) };
}

Deno.test("masked LM overfits a few sentences: loss and perplexity fall, masked accuracy rises", async () => {
  const { before, result, losses } = await run(3, 20);
  assert.equal(result.status, "completed");
  const head = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
  const tail = losses.slice(-5).reduce((a, b) => a + b) / 5;
  assert.ok(tail < head * 0.3, `training loss ${head.toFixed(3)} → ${tail.toFixed(3)}`);
  const after = result.metrics;
  assert.ok(after.eval_loss < before.eval_loss * 0.3, `eval_loss ${before.eval_loss} → ${after.eval_loss}`);
  assert.ok(
    after.perplexity < before.perplexity / 4,
    `perplexity ${before.perplexity} → ${after.perplexity}`,
  );
  assert.ok(after.accuracy >= 0.7, `masked-token accuracy ${before.accuracy} → ${after.accuracy}`);
  assert.ok(Math.abs(Math.log(before.perplexity) - before.eval_loss) < 1e-6, "perplexity = exp(eval_loss)");
  assert.equal(after.eval_masked_tokens, before.eval_masked_tokens);
});

Deno.test("masked LM: the same seed gives the same losses, another seed other ones", async () => {
  const a = await run(5, 1);
  const b = await run(5, 1);
  const c = await run(6, 1);
  assert.deepEqual(a.losses, b.losses);
  assert.notDeepEqual(a.losses, c.losses);
});

Deno.test("masked LM task: masks from the seed, zero loss with nothing to predict, batch-size-free eval", async () => {
  const model = initBertForMaskedLM(config, 2);
  const task = new MaskedLmTask(model, tokenizer, { evalSeed: 4 });
  const tensorsBefore = tf.memory().numTensors;
  const opts = { training: true, seed: 11, labelSmoothing: 0 };
  assert.deepEqual(task.maskBatch(examples, 11), task.maskBatch(examples, 11));
  assert.notDeepEqual(task.maskBatch(examples, 11).labels, task.maskBatch(examples, 12).labels);
  const lossA = task.loss(examples, opts);
  const lossB = task.loss(examples, opts);
  assert.equal(lossA.dataSync()[0], lossB.dataSync()[0]);
  assert.ok(lossA.dataSync()[0] > 0);

  const { cls, sep } = tokenizer.specialIds;
  const empty = [{ ids: [cls, sep], typeIds: [0, 0] }];
  const { value, grads } = tf.variableGrads(() => task.loss(empty, opts), [...task.params.values()]);
  assert.equal(Math.abs(value.dataSync()[0]), 0);
  for (const g of Object.values(grads)) assert.equal(tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]), 0);
  tf.dispose([lossA, lossB, value, ...Object.values(grads)]);

  const one = await task.evaluate(examples, { batchSize: 1, labelSmoothing: 0 });
  const all = await task.evaluate(examples, { batchSize: 32, labelSmoothing: 0 });
  assert.equal(one.eval_masked_tokens, all.eval_masked_tokens);
  assert.ok(Math.abs(one.eval_loss - all.eval_loss) < 1e-5);
  assert.equal(one.accuracy, all.accuracy);
  const smoothed = await task.evaluate(examples, { batchSize: 32, labelSmoothing: 0.1 });
  assert.notEqual(smoothed.eval_loss, all.eval_loss);
  assert.ok(Math.abs(smoothed.perplexity - all.perplexity) < 1e-3, "perplexity ignores label smoothing");
  assert.equal(tf.memory().numTensors, tensorsBefore, "no tensor leaked");
  model.dispose();
});
