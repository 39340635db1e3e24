/**
 * Metrics and inference: accuracy and macro-F1 against hand-computed values (scikit-learn's definitions,
 * absent classes count as 0), and classifyTexts returning per-text probability rows that sum to 1, do not
 * depend on the internal batch size or on the other texts in the batch, and leave no tensors behind.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import { accuracy, argmaxRows, macroF1 } from "../../shared/core/eval/metrics.ts";
import { classifyTexts } from "../../shared/core/infer.ts";
import { parseBertConfig } from "../../shared/core/model/config.ts";
import { initBertForSequenceClassification } from "../../shared/core/model/load.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

await initBackend("wasm");

Deno.test("accuracy and macro-F1 match hand-computed values", () => {
  const gold = [0, 0, 0, 1, 1, 2];
  const pred = [0, 0, 1, 1, 2, 2];
  assert.equal(accuracy(pred, gold), 4 / 6);
  // class 0: P=1, R=2/3 → F1 0.8; class 1: P=1/2, R=1/2 → 0.5; class 2: P=1/2, R=1 → 2/3
  assert.ok(Math.abs(macroF1(pred, gold, 3) - (0.8 + 0.5 + 2 / 3) / 3) < 1e-12);
  // a fourth class never predicted nor present counts as F1 = 0 (sklearn with labels=range(4))
  assert.ok(Math.abs(macroF1(pred, gold, 4) - (0.8 + 0.5 + 2 / 3) / 4) < 1e-12);
  assert.equal(macroF1([1, 1], [0, 0], 2), 0);
  assert.equal(accuracy([], []), 0);
  assert.throws(() => accuracy([0], [0, 1]), /1 predictions for 2 gold/);
  assert.deepEqual(argmaxRows([[0.1, 0.7, 0.2], [3, 1, 2]]), [1, 0]);
});

Deno.test("classifyTexts: probabilities per text, batch-size independent, no leaks", async () => {
  const texts = ["red apple pie", "fast blue car", "apple", "the car is red and fast", "pie", "blue"];
  const tokenizer = TextTokenizer.trainWordPiece(texts, { vocabSize: 80, minFrequency: 1 });
  const config = parseBertConfig({
    model_type: "bert",
    vocab_size: tokenizer.vocabSize,
    hidden_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 16,
  });
  const model = initBertForSequenceClassification(config, 3, 4);
  try {
    const before = tf.memory().numTensors;
    const all = await classifyTexts(model, tokenizer, texts, { maxLength: 16 });
    const oneByOne = await classifyTexts(model, tokenizer, texts, { maxLength: 16, batchSize: 1 });
    assert.equal(tf.memory().numTensors, before);
    assert.equal(all.length, texts.length);
    for (let i = 0; i < texts.length; i++) {
      assert.equal(all[i].length, 3);
      assert.ok(Math.abs(all[i].reduce((s, p) => s + p, 0) - 1) < 1e-5);
      for (let j = 0; j < 3; j++) assert.ok(Math.abs(all[i][j] - oneByOne[i][j]) < 1e-5);
    }
    // maxLength above max_position_embeddings is clamped, not an error
    const clamped = await classifyTexts(model, tokenizer, [texts[0]], { maxLength: 512 });
    assert.ok(Math.abs(clamped[0][0] - all[0][0]) < 1e-6);
    await assert.rejects(
      () => classifyTexts(model, tokenizer, texts, { maxLength: 16, pairs: ["x"] }),
      (e) => e instanceof ApiError && e.status === 400,
    );
  } finally {
    model.dispose();
  }
});
