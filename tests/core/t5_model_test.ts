/**
 * T5 model plumbing: config parsing (HF defaults, gated-gelu → gelu_new, unsupported feed_forward_proj and
 * bad keys refused with 400), HF initialisation (per-module standard deviations, norms = factor, seeded),
 * loading (bad shapes, missing tensors → 400; embed_tokens aliases), the state dict round trip, layerOf,
 * seeded dropout and gradients reaching every parameter (relative biases included) through forward.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/backend.ts";
import type { CheckpointTensor } from "../../shared/core/model/load.ts";
import { parseT5Config, t5ConfigToHfJson } from "../../shared/core/model/t5_config.ts";
import { initT5, loadT5, t5StateDict } from "../../shared/core/model/t5_load.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

await initBackend("wasm");

const SMALL = {
  model_type: "t5",
  vocab_size: 50,
  d_model: 16,
  d_kv: 4,
  d_ff: 24,
  num_layers: 2,
  num_decoder_layers: 1,
  num_heads: 2,
  relative_attention_num_buckets: 8,
  relative_attention_max_distance: 20,
  feed_forward_proj: "gated-gelu",
  tie_word_embeddings: false,
};

const is400 = (pattern: RegExp) => (e: unknown) =>
  e instanceof ApiError && e.status === 400 && pattern.test(e.message);

function stateTensors(model: ReturnType<typeof initT5>): Map<string, CheckpointTensor> {
  return new Map([...t5StateDict(model)].map(([n, t]) => [n, { dtype: "F32", ...t }]));
}

Deno.test("parseT5Config: HF defaults, gated-gelu → gelu_new, round trip through the HF json", () => {
  const config = parseT5Config({ model_type: "t5", num_layers: 3 });
  assert.equal(config.num_decoder_layers, 3, "num_decoder_layers defaults to num_layers");
  assert.equal(config.dense_act_fn, "relu");
  assert.equal(config.is_gated_act, false);
  assert.equal(config.decoder_start_token_id, 0);
  assert.equal(config.tie_word_embeddings, true);
  const gated = parseT5Config(SMALL);
  assert.equal(gated.dense_act_fn, "gelu_new");
  assert.equal(gated.is_gated_act, true);
  assert.equal(parseT5Config({ ...SMALL, feed_forward_proj: "gated-silu" }).dense_act_fn, "silu");
  assert.deepEqual(parseT5Config(t5ConfigToHfJson(gated)), gated);
  assert.deepEqual(t5ConfigToHfJson(gated).architectures, ["T5ForConditionalGeneration"]);
});

Deno.test("parseT5Config refuses unsupported settings with 400 naming them", () => {
  assert.throws(
    () => parseT5Config({ ...SMALL, feed_forward_proj: "gated-mish" }),
    is400(/feed_forward_proj/),
  );
  assert.throws(
    () => parseT5Config({ ...SMALL, feed_forward_proj: "relu-gated" }),
    is400(/feed_forward_proj/),
  );
  assert.throws(() => parseT5Config({ ...SMALL, model_type: "bart" }), is400(/model_type/));
  assert.throws(() => parseT5Config({ ...SMALL, d_kv: 0 }), is400(/d_kv/));
  assert.throws(() => parseT5Config({ ...SMALL, eos_token_id: 50 }), is400(/eos_token_id/));
});

Deno.test("initT5 follows HF's init: per-module standard deviations, norms filled, seeded", () => {
  const big = {
    ...SMALL,
    vocab_size: 400,
    d_model: 64,
    d_kv: 16,
    num_heads: 4,
    d_ff: 96,
    initializer_factor: 2,
  };
  const model = initT5(big, 7);
  const std = (name: string) => {
    const v = model.params.get(name)!.dataSync() as Float32Array;
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    return Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  };
  const near = (name: string, expected: number) => {
    const actual = std(name);
    assert.ok(Math.abs(actual / expected - 1) < 0.1, `${name}: std ${actual}, expected ${expected}`);
  };
  near("shared.weight", 2);
  near("lm_head.weight", 2);
  near("encoder.block.0.layer.0.SelfAttention.q.weight", 2 * (64 * 16) ** -0.5);
  near("encoder.block.1.layer.0.SelfAttention.k.weight", 2 * 64 ** -0.5);
  near("decoder.block.0.layer.1.EncDecAttention.o.weight", 2 * 64 ** -0.5);
  near("decoder.block.0.layer.2.DenseReluDense.wi_1.weight", 2 * 64 ** -0.5);
  near("encoder.block.0.layer.1.DenseReluDense.wo.weight", 2 * 96 ** -0.5);
  assert.deepEqual([...new Set(model.params.get("encoder.final_layer_norm.weight")!.dataSync())], [2]);
  const again = initT5(big, 7);
  const other = initT5(big, 8);
  const name = "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
  assert.deepEqual(again.params.get(name)!.dataSync(), model.params.get(name)!.dataSync());
  assert.notDeepEqual(other.params.get(name)!.dataSync(), model.params.get(name)!.dataSync());
  assert.equal(
    model.params.has("encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"),
    false,
  );
  [model, again, other].forEach((m) => m.dispose());
});

Deno.test("loadT5: state dict round trip; bad shapes, missing tensors and bad configs are 400s", () => {
  const model = initT5(SMALL, 1);
  const tensors = stateTensors(model);
  const { model: loaded, ignored } = loadT5(SMALL, tensors);
  assert.deepEqual(ignored, []);
  for (const [name, v] of model.params) {
    assert.deepEqual(loaded.params.get(name)!.dataSync(), v.dataSync(), name);
  }
  // shared.weight may come only as an embed_tokens alias (older checkpoints).
  const aliased = new Map(tensors);
  aliased.set("encoder.embed_tokens.weight", aliased.get("shared.weight")!);
  aliased.delete("shared.weight");
  loadT5(SMALL, aliased).model.dispose();
  const bad = new Map(tensors);
  const q = bad.get("encoder.block.1.layer.0.SelfAttention.q.weight")!;
  bad.set("encoder.block.1.layer.0.SelfAttention.q.weight", { ...q, shape: [4, 32], data: q.data });
  assert.throws(
    () => loadT5(SMALL, bad),
    is400(/encoder\.block\.1\.layer\.0\.SelfAttention\.q\.weight is \[4,32\]/),
  );
  const missing = new Map(tensors);
  missing.delete("lm_head.weight");
  assert.throws(() => loadT5(SMALL, missing), is400(/lm_head\.weight is missing/));
  assert.throws(() => loadT5({ ...SMALL, feed_forward_proj: "swiglu" }, tensors), is400(/feed_forward_proj/));
  // A tied config needs no lm_head: the untied checkpoint's lm_head is ignored there.
  const tied = loadT5({ ...SMALL, tie_word_embeddings: true }, tensors);
  assert.deepEqual(tied.ignored, ["lm_head.weight"]);
  [model, loaded, tied.model].forEach((m) => m.dispose());
});

Deno.test("layerOf maps embeddings, encoder and decoder blocks and the head", () => {
  const model = initT5(SMALL, 1);
  assert.equal(model.numLayers, 3);
  assert.equal(model.layerOf("shared.weight"), 0);
  assert.equal(model.layerOf("encoder.block.0.layer.0.SelfAttention.q.weight"), 1);
  assert.equal(model.layerOf("encoder.block.1.layer.1.DenseReluDense.wo.weight"), 2);
  assert.equal(model.layerOf("decoder.block.0.layer.1.EncDecAttention.k.weight"), 3);
  assert.equal(model.layerOf("encoder.final_layer_norm.weight"), 4);
  assert.equal(model.layerOf("decoder.final_layer_norm.weight"), 4);
  assert.equal(model.layerOf("lm_head.weight"), 4);
  model.dispose();
});

Deno.test("forward: seeded dropout repeats, eval is dropout-free, gradients reach every parameter", () => {
  const model = initT5({ ...SMALL, dropout_rate: 0.3 }, 3);
  const batch = {
    inputIds: tf.tensor2d([[5, 6, 7, 1], [8, 9, 1, 0]], undefined, "int32"),
    attentionMask: tf.tensor2d([[1, 1, 1, 1], [1, 1, 1, 0]], undefined, "int32"),
    decoderInputIds: tf.tensor2d([[0, 11, 12], [0, 13, 0]], undefined, "int32"),
    decoderAttentionMask: tf.tensor2d([[1, 1, 1], [1, 1, 0]], undefined, "int32"),
  };
  const run = (training: boolean, seed?: number) =>
    tf.tidy(() => model.forward(batch, { training, seed }).dataSync());
  assert.deepEqual(run(true, 11), run(true, 11));
  assert.notDeepEqual(run(true, 11), run(true, 12));
  assert.deepEqual(run(false), run(false));
  assert.notDeepEqual(run(true, 11), run(false));
  const before = tf.memory().numTensors;
  const { grads, value } = tf.variableGrads(() =>
    tf.mean(tf.square(model.forward(batch, { training: true, seed: 1 }))) as tf.Scalar
  );
  for (const [name, variable] of model.params) {
    const g = grads[variable.name];
    assert.ok(g, `no gradient for ${name}`);
    assert.ok(tf.tidy(() => g.abs().max().dataSync()[0]) > 0, `zero gradient for ${name}`);
  }
  tf.dispose([value, ...Object.values(grads)]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose(Object.values(batch));
  model.dispose();
});
