/**
 * BertForMaskedLM: its encoder computes exactly what the sequence classifier's does (same weights → same
 * logits through the pooler and classifier); the head's decoder is tied to the word embeddings; the exported
 * HF folder has BertForMaskedLM's names and config and round-trips; a fine-tuning model loads it (cls.*
 * dropped, pooler and classifier new); a classifier or base checkpoint loads into it with a fresh head; and
 * mismatched head shapes are refused with a 400.
 */
import { tinyBertConfig } from "../support/tiny_bert.ts";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import { readSafetensors } from "../../shared/core/checkpoint/safetensors.ts";
import { batchTensors } from "../../shared/core/infer.ts";
import { parseBertConfig } from "../../shared/core/model/config.ts";
import { dense } from "../../shared/core/model/layers.ts";
import {
  bertStateDict,
  initBertForSequenceClassification,
  loadBertForSequenceClassification,
} from "../../shared/core/model/load.ts";
import {
  initBertForMaskedLM,
  loadBertForMaskedLM,
  MLM_HEAD,
  WORD_EMBEDDINGS,
} from "../../shared/core/model/mlm_head.ts";
import { exportMaskedLmFolder } from "../../shared/core/tasks/mlm/export.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

await initBackend("wasm");

const tokenizer = TextTokenizer.trainWordPiece(["the cat sat on the mat", "a dog ran in the park"], {
  vocabSize: 60,
});
const config = tinyBertConfig(tokenizer.vocabSize);
const batch = () =>
  batchTensors(tokenizer.encode(["the cat sat", "a dog ran in the park on the mat"], { maxLength: 16 }));

const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

Deno.test("BertForMaskedLM's encoder equals the classifier's (same seed → same weights, same states)", () => {
  const classifier = initBertForSequenceClassification(config, 3, 5);
  const mlm = initBertForMaskedLM(config, 5);
  try {
    for (const [name, v] of mlm.params) {
      if (name.startsWith("cls.")) continue;
      assert.equal(maxAbsDiff(v, classifier.params.get(name)!), 0, name);
    }
    const inputs = batch();
    const expected = classifier.forward(inputs, { training: false });
    const actual = tf.tidy(() => {
      const [b, s] = inputs.inputIds.shape;
      const hidden = mlm.encode(inputs, { training: false });
      const first = tf.gather(hidden, tf.range(0, b * s, s, "int32")) as tf.Tensor2D;
      const p = (name: string) => classifier.params.get(name)! as tf.Tensor;
      const pooled = tf.tanh(
        dense(
          first,
          p("bert.pooler.dense.weight") as tf.Tensor2D,
          p("bert.pooler.dense.bias") as tf.Tensor1D,
        ),
      );
      return dense(pooled, p("classifier.weight") as tf.Tensor2D, p("classifier.bias") as tf.Tensor1D);
    });
    assert.ok(maxAbsDiff(actual, expected) < 1e-5);
    tf.dispose([expected, actual, inputs.inputIds, inputs.attentionMask, inputs.tokenTypeIds]);
  } finally {
    classifier.dispose();
    mlm.dispose();
  }
});

Deno.test("BertForMaskedLM: the decoder is the word embedding matrix (tied), plus cls.predictions.bias", () => {
  const mlm = initBertForMaskedLM(config, 2);
  try {
    assert.equal(mlm.params.has("cls.predictions.decoder.weight"), false);
    const inputs = batch();
    const rows = tf.tensor1d([1, 2, 17], "int32");
    const before = tf.tidy(() => mlm.predict(mlm.encode(inputs, { training: false }), rows));
    assert.deepEqual(before.shape, [3, config.vocab_size]);
    // cls.predictions.bias adds to the logits of its own token only.
    const bias = mlm.params.get(MLM_HEAD.bias)!;
    bias.assign(tf.tidy(() => tf.add(bias, tf.oneHot([7], config.vocab_size).reshape([-1]))));
    const after = tf.tidy(() => mlm.predict(mlm.encode(inputs, { training: false }), rows));
    const delta = tf.tidy(() => tf.sub(after, before).arraySync() as number[][]);
    for (const row of delta) {
      row.forEach((d, token) =>
        assert.ok(Math.abs(d - (token === 7 ? 1 : 0)) < 1e-5, `token ${token}: ${d}`)
      );
    }
    // The logit of a token absent from the input reaches the embedding row of that token (and no other
    // absent token's row): the decoder is the word embedding matrix.
    const present = new Set(Array.from(inputs.inputIds.dataSync()));
    const absent = Array.from({ length: config.vocab_size }, (_, i) => i).filter((i) => !present.has(i));
    const [target, other] = absent;
    const words = mlm.params.get(WORD_EMBEDDINGS)!;
    const { grads, value } = tf.variableGrads(
      () => tf.sum(tf.gather(mlm.predict(mlm.encode(inputs, { training: false }), rows), [target], 1)),
      [words],
    );
    const rowNorm = (id: number) => tf.tidy(() => tf.norm(tf.gather(grads[words.name], [id])).dataSync()[0]);
    assert.ok(rowNorm(target) > 1e-6, `gradient on row ${target}: ${rowNorm(target)}`);
    assert.equal(rowNorm(other), 0);
    tf.dispose([value, ...Object.values(grads)]);
    tf.dispose([before, after, rows, inputs.inputIds, inputs.attentionMask, inputs.tokenTypeIds]);
  } finally {
    mlm.dispose();
  }
});

Deno.test("exported BertForMaskedLM folder: HF names and config; round-trips; fine-tuning loads it", () => {
  const mlm = initBertForMaskedLM(config, 3);
  try {
    const files = exportMaskedLmFolder(mlm, tokenizer);
    assert.deepEqual(Object.keys(files).sort(), [
      "config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
      "vocab.txt",
    ]);
    const configJson = JSON.parse(new TextDecoder().decode(files["config.json"]));
    assert.deepEqual(configJson.architectures, ["BertForMaskedLM"]);
    assert.equal(configJson.id2label, undefined);
    assert.deepEqual(parseBertConfig(configJson), config);
    const tensors = readSafetensors(files["model.safetensors"]);
    const names = [...tensors.keys()];
    assert.ok(names.includes("cls.predictions.transform.dense.weight"));
    assert.ok(names.includes("cls.predictions.transform.LayerNorm.bias"));
    assert.ok(names.includes("cls.predictions.bias"));
    assert.ok(names.includes("bert.encoder.layer.1.output.LayerNorm.weight"));
    assert.ok(!names.some((n) => n.startsWith("bert.pooler.") || n.startsWith("classifier.")));
    assert.ok(!names.includes("cls.predictions.decoder.weight"));

    const reloaded = loadBertForMaskedLM(config, tensors, 99);
    assert.deepEqual(reloaded.initialized, []);
    assert.deepEqual(reloaded.ignored, []);
    for (const [name, v] of mlm.params) {
      assert.equal(maxAbsDiff(v, reloaded.model.params.get(name)!), 0, name);
    }
    reloaded.model.dispose();

    const fineTune = loadBertForSequenceClassification(config, tensors, 4, 1);
    assert.deepEqual(fineTune.initialized.sort(), [
      "bert.pooler.dense.bias",
      "bert.pooler.dense.weight",
      "classifier.bias",
      "classifier.weight",
    ]);
    assert.deepEqual(fineTune.ignored.sort(), Object.values(MLM_HEAD).sort());
    for (const [name, v] of mlm.params) {
      if (!name.startsWith("cls.")) assert.equal(maxAbsDiff(v, fineTune.model.params.get(name)!), 0, name);
    }
    fineTune.model.dispose();
  } finally {
    mlm.dispose();
  }
});

Deno.test("loadBertForMaskedLM: a classifier checkpoint gets a fresh head; decoder.bias; bad shapes 400", () => {
  const classifier = initBertForSequenceClassification(config, 2, 8);
  const state = bertStateDict(classifier);
  classifier.dispose();
  const loaded = loadBertForMaskedLM(config, state, 1);
  assert.deepEqual(loaded.initialized.sort(), Object.values(MLM_HEAD).sort());
  assert.deepEqual(loaded.ignored.sort(), [
    "bert.pooler.dense.bias",
    "bert.pooler.dense.weight",
    "classifier.bias",
    "classifier.weight",
  ]);
  assert.equal(maxAbsDiff(loaded.model.params.get(MLM_HEAD.normWeight)!, tf.ones([config.hidden_size])), 0);
  loaded.model.dispose();

  const oldStyle = new Map(state);
  const bias = Float32Array.from({ length: config.vocab_size }, (_, i) => i / 10);
  oldStyle.set("cls.predictions.decoder.bias", { dtype: "F32", shape: [config.vocab_size], data: bias });
  const withBias = loadBertForMaskedLM(config, oldStyle, 1);
  assert.deepEqual(Array.from(withBias.model.params.get(MLM_HEAD.bias)!.dataSync()), Array.from(bias));
  withBias.model.dispose();

  const wrong = new Map(state);
  wrong.set(MLM_HEAD.bias, { dtype: "F32", shape: [3], data: new Float32Array(3) });
  assert.throws(
    () => loadBertForMaskedLM(config, wrong, 1),
    (e: unknown) => e instanceof ApiError && e.status === 400 && /cls\.predictions\.bias/.test(e.message),
  );
});
