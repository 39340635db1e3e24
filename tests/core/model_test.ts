/**
 * The BERT classifier: config parsing (HF keys, refusals as 400 invalid_file), parameter names/shapes and
 * count (bert-base must give HF's 109,483,778), seeded HF-style initialisation, and forward-pass behaviour:
 * padding does not change a sequence's logits, eval mode is deterministic, seeded dropout is reproducible.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import { bertParameterShapes } from "../../shared/core/model/bert.ts";
import { parseBertConfig } from "../../shared/core/model/config.ts";
import { initBertForSequenceClassification } from "../../shared/core/model/load.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

await initBackend("wasm");

const DATA = new URL("../../../shared/data/tokenizers/", import.meta.url);
const readJson = (path: string) => JSON.parse(Deno.readTextFileSync(new URL(path, DATA)));
const TINY = {
  model_type: "bert",
  vocab_size: 50,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 32,
  max_position_embeddings: 24,
};

const isInvalidFile = (pattern: RegExp) => (e: unknown) =>
  e instanceof ApiError && e.status === 400 && e.code === "invalid_file" && pattern.test(e.message);

Deno.test("parseBertConfig reads real HF configs and fills defaults", () => {
  const mini = parseBertConfig(readJson("all-MiniLM-L6-v2/config.json"));
  assert.equal(mini.hidden_size, 384);
  assert.equal(mini.num_hidden_layers, 6);
  assert.equal(mini.classifier_dropout, null);
  const base = parseBertConfig(JSON.stringify(readJson("bert-base-uncased/config.json")));
  assert.equal(base.intermediate_size, 3072);
  assert.equal(base.layer_norm_eps, 1e-12);
  const noType = parseBertConfig({
    architectures: ["BertForMaskedLM"],
    hidden_size: 64,
    num_attention_heads: 4,
  });
  assert.equal(noType.hidden_size, 64);
  assert.equal(noType.vocab_size, 30522);
});

Deno.test("parseBertConfig refuses other models and bad values with 400", () => {
  assert.throws(() => parseBertConfig(readJson("gpt2/config.json")), isInvalidFile(/model_type 'gpt2'/));
  assert.throws(() => parseBertConfig({ architectures: ["GPT2LMHeadModel"] }), isInvalidFile(/Bert/));
  assert.throws(() => parseBertConfig({ ...TINY, hidden_size: 15 }), isInvalidFile(/multiple/));
  assert.throws(() => parseBertConfig({ ...TINY, hidden_act: "swish" }), isInvalidFile(/hidden_act/));
  assert.throws(
    () => parseBertConfig({ ...TINY, num_hidden_layers: -1 }),
    isInvalidFile(/num_hidden_layers/),
  );
  assert.throws(() => parseBertConfig("{"), isInvalidFile(/JSON/));
});

Deno.test("parameter names mirror HF and bert-base has HF's parameter count", () => {
  const shapes = bertParameterShapes(parseBertConfig(readJson("bert-base-uncased/config.json")), 2);
  assert.deepEqual(shapes.get("bert.encoder.layer.3.attention.self.query.weight"), [768, 768]);
  assert.deepEqual(shapes.get("bert.encoder.layer.11.intermediate.dense.weight"), [3072, 768]);
  assert.deepEqual(shapes.get("classifier.weight"), [2, 768]);
  let total = 0;
  for (const shape of shapes.values()) total += shape.reduce((a, b) => a * b, 1);
  assert.equal(total, 109_483_778);
  assert.equal(shapes.size, 5 + 16 * 12 + 2 + 2);
});

Deno.test("initialisation is HF-style and reproducible from the seed", () => {
  const config = parseBertConfig(TINY);
  const a = initBertForSequenceClassification(config, 3, 7);
  const b = initBertForSequenceClassification(config, 3, 7);
  const c = initBertForSequenceClassification(config, 3, 8);
  try {
    const q = "bert.encoder.layer.1.attention.self.query.weight";
    assert.deepEqual(a.params.get(q)!.dataSync(), b.params.get(q)!.dataSync());
    assert.notDeepEqual(a.params.get(q)!.dataSync(), c.params.get(q)!.dataSync());
    const values = a.params.get(q)!.dataSync() as Float32Array;
    const std = Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
    assert.ok(std > 0.012 && std < 0.028, `std ${std} ≈ initializer_range 0.02`);
    assert.ok(a.params.get("bert.encoder.layer.0.output.LayerNorm.weight")!.dataSync().every((v) => v === 1));
    assert.ok(a.params.get("classifier.bias")!.dataSync().every((v) => v === 0));
    const words = a.params.get("bert.embeddings.word_embeddings.weight")!.dataSync();
    assert.ok(words.slice(0, 16).every((v) => v === 0), "the [PAD] row is zero");
    assert.ok(words.slice(16, 32).some((v) => v !== 0));
    assert.equal(
      a.parameterCount(),
      [...bertParameterShapes(config, 3).values()]
        .reduce((s, shape) => s + shape.reduce((x, y) => x * y, 1), 0),
    );
  } finally {
    a.dispose();
    b.dispose();
    c.dispose();
  }
});

function batchOf(rows: number[][], length: number) {
  const ids = rows.map((r) => [...r, ...new Array(length - r.length).fill(0)]);
  const mask = rows.map((r) => [...r.map(() => 1), ...new Array(length - r.length).fill(0)]);
  return {
    inputIds: tf.tensor2d(ids, undefined, "int32"),
    attentionMask: tf.tensor2d(mask, undefined, "int32"),
    tokenTypeIds: tf.zeros([rows.length, length], "int32") as tf.Tensor2D,
  };
}

Deno.test("padding does not change logits; eval is deterministic; seeded dropout is reproducible", () => {
  const model = initBertForSequenceClassification(parseBertConfig(TINY), 2, 3);
  const short = batchOf([[2, 7, 9, 11, 3]], 5);
  const padded = batchOf([[2, 7, 9, 11, 3], [2, 5, 3]], 9);
  const before = tf.memory().numTensors;
  const outputs: tf.Tensor[] = [];
  const run = (batch: typeof short, opts: Parameters<typeof model.forward>[1]) => {
    const logits = model.forward(batch, opts);
    outputs.push(logits);
    return logits.dataSync();
  };
  try {
    const a = run(short, { training: false });
    const b = run(padded, { training: false });
    for (let j = 0; j < 2; j++) assert.ok(Math.abs(a[j] - b[j]) < 1e-5, `logit ${j}: ${a[j]} vs ${b[j]}`);
    assert.deepEqual(run(short, { training: false }), a);
    const d1 = run(padded, { training: true, seed: 11 });
    const d2 = run(padded, { training: true, seed: 11 });
    const d3 = run(padded, { training: true, seed: 12 });
    assert.deepEqual(d1, d2);
    assert.notDeepEqual(d1, d3);
    assert.notDeepEqual(d1, b);
    const noDropout = run(padded, { training: true, seed: 11, dropout: { hidden: 0, attention: 0 } });
    assert.ok(Math.abs(noDropout[0] - b[0]) < 1e-6);
    tf.dispose(outputs);
    assert.equal(tf.memory().numTensors, before, "forward leaves nothing but its output");
  } finally {
    tf.dispose([short, padded]);
    model.dispose();
  }
});

Deno.test("a sequence longer than max_position_embeddings is a 400", () => {
  const model = initBertForSequenceClassification(parseBertConfig(TINY), 2, 3);
  const long = batchOf([new Array(30).fill(5)], 30);
  try {
    assert.throws(
      () => model.forward(long, { training: false }),
      (e) => e instanceof ApiError && e.status === 400 && /max_position_embeddings/.test(e.message),
    );
  } finally {
    tf.dispose(long);
    model.dispose();
  }
});

Deno.test("wasm backend: UnsortedSegmentSum kernel sums rows, so gather (embeddings) has a gradient", async () => {
  const choice = await initBackend("wasm");
  assert.equal(choice.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  const summed = tf.unsortedSegmentSum(
    tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]),
    tf.tensor1d([2, 0, 2, 5], "int32"),
    3,
  );
  assert.deepEqual(summed.arraySync(), [[3, 4], [0, 0], [6, 8]]); // id 5 is out of range: dropped
  const table = tf.variable(tf.tensor2d([[1, 1], [2, 2], [3, 3]]));
  const { grads } = tf.variableGrads(() => tf.sum(tf.gather(table, tf.tensor1d([2, 0, 2], "int32"))), [
    table,
  ]);
  assert.deepEqual(grads[table.name].arraySync(), [[1, 1], [0, 0], [2, 2]]);
  tf.dispose([summed, table, grads[table.name]]);
});

Deno.test("a one-row token type table maps segment B onto segment 0 (pair inputs of RoBERTa-like configs)", () => {
  const config = (types: number) =>
    parseBertConfig({
      model_type: "bert",
      vocab_size: 30,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 32,
      max_position_embeddings: 16,
      type_vocab_size: types,
    });
  const run = (model: ReturnType<typeof initBertForSequenceClassification>, typeIds: number[]) =>
    tf.tidy(() =>
      model.forward({
        inputIds: tf.tensor2d([[2, 5, 7, 3, 9, 3]], undefined, "int32"),
        attentionMask: tf.tensor2d([[1, 1, 1, 1, 1, 1]], undefined, "int32"),
        tokenTypeIds: tf.tensor2d([typeIds], undefined, "int32"),
      }, { training: false }).arraySync()
    );
  const single = initBertForSequenceClassification(config(1), 2, 3);
  const pair = initBertForSequenceClassification(config(2), 2, 3);
  try {
    assert.deepEqual(run(single, [0, 0, 0, 0, 1, 1]), run(single, [0, 0, 0, 0, 0, 0]));
    // With two segments the B segment has its own embedding row.
    assert.notDeepEqual(run(pair, [0, 0, 0, 0, 1, 1]), run(pair, [0, 0, 0, 0, 0, 0]));
  } finally {
    single.dispose();
    pair.dispose();
  }
});
