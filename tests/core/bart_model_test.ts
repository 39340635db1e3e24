/**
 * The BART-family model beyond PyTorch parity: config parsing (defaults, the decoder start fallback, every
 * refusal is a 400 naming the key), HF initialisation (zeroed padding row, LayerNorm 1/0, Marian's
 * sin-then-cos table, fixed parameters), layer groups, loading (prefix-less names, tied copies, shape
 * mismatches and missing weights → 400), state-dict round trip, cache/encoder row selection for beam search,
 * position limits and a training step through `forward` that lowers the loss.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/backend.ts";
import { readSafetensors } from "../../shared/core/checkpoint/safetensors.ts";
import {
  bartConfigToHfJson,
  type BartForConditionalGeneration,
  bartStateDict,
  initBart,
  loadBart,
  parseBartConfig,
} from "../../shared/core/model/bart.ts";
import { marianSinusoidalTable } from "../../shared/core/model/bart_layers.ts";
import type { CheckpointTensor } from "../../shared/core/model/load.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

await initBackend("wasm");

const root = new URL("../fixtures/golden/", import.meta.url);
const configOf = (name: string) =>
  JSON.parse(Deno.readTextFileSync(new URL(`${name}_tiny/config.json`, root)));
const tensorsOf = (name: string) =>
  readSafetensors(Deno.readFileSync(new URL(`${name}_tiny/model.safetensors`, root)));

const is400 = (pattern: RegExp) => (e: unknown) =>
  e instanceof ApiError && e.status === 400 && pattern.test(e.message);

Deno.test("bart config: family defaults, decoder start fallback, HF JSON round trip", () => {
  const mbart = parseBartConfig({ model_type: "mbart", eos_token_id: 5, vocab_size: 10 });
  assert.equal(mbart.decoder_start_token_id, 5, "mBART without decoder_start_token_id starts with eos");
  assert.equal(mbart.d_model, 1024);
  const marian = parseBartConfig({ architectures: ["MarianMTModel"] });
  assert.equal(marian.model_type, "marian");
  assert.equal(marian.decoder_start_token_id, 58100);
  const tiny = parseBartConfig(configOf("bart"));
  assert.equal(tiny.forced_bos_token_id, 7);
  assert.deepEqual(parseBartConfig(bartConfigToHfJson(tiny)), tiny);
  assert.deepEqual(bartConfigToHfJson(parseBartConfig(configOf("marian"))).architectures, ["MarianMTModel"]);
});

Deno.test("bart config: unsupported values are 400 naming the key", () => {
  const base = configOf("marian");
  assert.throws(
    () => parseBartConfig({ ...base, activation_function: "tanh" }),
    is400(/activation_function 'tanh'/),
  );
  assert.throws(() => parseBartConfig({ ...base, model_type: "t5" }), is400(/model_type 't5'/));
  assert.throws(() => parseBartConfig({ ...base, normalize_before: true }), is400(/normalize_before/));
  assert.throws(() => parseBartConfig({ ...base, d_model: 30 }), is400(/d_model 30/));
  assert.throws(() => parseBartConfig({ ...base, encoder_layerdrop: 0.1 }), is400(/encoder_layerdrop/));
  assert.throws(
    () => parseBartConfig({ ...base, share_encoder_decoder_embeddings: false }),
    is400(/share_encoder/),
  );
  assert.throws(() => parseBartConfig({ ...base, decoder_vocab_size: 50 }), is400(/decoder_vocab_size/));
  assert.throws(() => parseBartConfig({ ...base, pad_token_id: 100 }), is400(/pad_token_id 100/));
  assert.throws(() => parseBartConfig({ ...base, encoder_layers: 0 }), is400(/encoder_layers/));
  assert.throws(() => parseBartConfig("{"), is400(/not valid JSON/));
});

Deno.test("bart init: HF initialisation, fixed parameters and layer groups", () => {
  const model = initBart(configOf("marian"), 3);
  try {
    const shared = model.params.get("model.shared.weight")!.arraySync() as number[][];
    assert.ok(shared[model.padTokenId].every((v) => v === 0), "padding row zeroed");
    assert.ok(shared[0].some((v) => v !== 0));
    const std = Math.sqrt(shared.flat().reduce((s, v) => s + v * v, 0) / (shared.length * 32));
    assert.ok(Math.abs(std - 0.02) < 0.003, `init std ${std}`);
    assert.ok(model.params.get("model.encoder.layers.0.fc1.bias")!.dataSync().every((v) => v === 0));
    assert.ok(
      model.params.get("model.decoder.layers.1.final_layer_norm.weight")!.dataSync().every((v) => v === 1),
    );
    // Marian: row p holds sin(p/10000^(2k/d)) in column k and cos(...) in column d/2 + k
    const table = model.params.get("model.decoder.embed_positions.weight")!.arraySync() as number[][];
    const angle = 5 / Math.pow(10000, (2 * 3) / 32);
    assert.ok(
      Math.abs(table[5][3] - Math.sin(angle)) < 1e-6 && Math.abs(table[5][16 + 3] - Math.cos(angle)) < 1e-6,
    );
    assert.deepEqual([...marianSinusoidalTable(2, 4)], [
      0,
      0,
      1,
      1,
      Math.fround(Math.sin(1)),
      Math.fround(Math.sin(0.01)),
      Math.fround(Math.cos(1)),
      Math.fround(Math.cos(0.01)),
    ]);
    assert.deepEqual(
      [...model.fixedParams].sort(),
      ["final_logits_bias", "model.decoder.embed_positions.weight", "model.encoder.embed_positions.weight"],
    );
    assert.equal(model.numLayers, 4);
    assert.equal(model.maxPositions, 64);
    const groups = Object.fromEntries(
      [
        "model.shared.weight",
        "model.encoder.layers.1.fc2.weight",
        "model.decoder.layers.0.encoder_attn.q_proj.bias",
        "model.decoder.layers.1.fc1.weight",
        "final_logits_bias",
      ].map((n) => [n, model.layerOf(n)]),
    );
    assert.deepEqual(Object.values(groups), [0, 2, 3, 4, 5]);
    const again = initBart(configOf("marian"), 3);
    assert.deepEqual(
      again.params.get("model.encoder.layers.0.fc1.weight")!.dataSync(),
      model.params.get("model.encoder.layers.0.fc1.weight")!.dataSync(),
    );
    again.dispose();
  } finally {
    model.dispose();
  }
  const mbart = initBart(configOf("bart"), 1);
  assert.deepEqual([...mbart.fixedParams], ["final_logits_bias"]);
  assert.equal(mbart.layerOf("model.decoder.layernorm_embedding.weight"), 0);
  assert.equal(mbart.layerOf("model.encoder.layer_norm.weight"), 5);
  assert.deepEqual(mbart.params.get("model.encoder.embed_positions.weight")!.shape, [66, 32]);
  mbart.dispose();
});

/** Logits of a small fixed batch. */
function logitsOf(model: BartForConditionalGeneration): Float32Array {
  return tf.tidy(() =>
    model.forward({
      inputIds: tf.tensor2d([[5, 6, 7, 2], [8, 9, 2, 1]], undefined, "int32"),
      attentionMask: tf.tensor2d([[1, 1, 1, 1], [1, 1, 1, 0]], undefined, "int32"),
      decoderInputIds: tf.tensor2d([[2, 7, 11], [2, 12, 1]], undefined, "int32"),
      decoderAttentionMask: tf.tensor2d([[1, 1, 1], [1, 1, 0]], undefined, "int32"),
    }, { training: false }).dataSync() as Float32Array
  );
}

Deno.test("bart load: prefix-less names, tied copies, state dict round trip", () => {
  const tensors = tensorsOf("bart");
  const reference = loadBart(configOf("bart"), tensors).model;
  const expected = logitsOf(reference);
  const exported = bartStateDict(reference);
  assert.deepEqual(
    [...exported.keys()].sort(),
    [...tensors.keys()].sort(),
    "exports what the HF checkpoint holds",
  );
  reference.dispose();
  // a base-model checkpoint: no "model." prefix, the embedding only as tied copies
  const renamed = new Map<string, CheckpointTensor>();
  for (const [name, t] of exported) {
    if (name === "model.shared.weight") {
      renamed.set("lm_head.weight", t);
      renamed.set("encoder.embed_tokens.weight", t);
    } else renamed.set(name.replace(/^model\./, ""), t);
  }
  const { model, initialized, ignored } = loadBart(configOf("bart"), renamed);
  assert.deepEqual(initialized, []);
  assert.deepEqual(ignored.sort(), ["encoder.embed_tokens.weight", "lm_head.weight"]);
  assert.deepEqual(logitsOf(model), expected);
  model.dispose();
});

Deno.test("bart load: shape mismatches and missing weights are 400", () => {
  const tensors = tensorsOf("marian");
  const bad = new Map(tensors);
  bad.set("model.encoder.layers.0.fc1.weight", {
    dtype: "F32",
    shape: [32, 64],
    data: new Float32Array(2048),
  });
  assert.throws(
    () => loadBart(configOf("marian"), bad),
    is400(/model\.encoder\.layers\.0\.fc1\.weight is \[32,64\], expected \[64,32\]/),
  );
  assert.throws(
    () =>
      loadBart(
        { ...configOf("marian"), d_model: 16, encoder_attention_heads: 2, decoder_attention_heads: 2 },
        tensors,
      ),
    is400(/do not match config/),
  );
  const noEmbedding = new Map([...tensors].filter(([n]) => n !== "model.shared.weight"));
  assert.throws(() => loadBart(configOf("marian"), noEmbedding), is400(/no token embedding/));
  const noDecoder = new Map([...tensors].filter(([n]) => !n.startsWith("model.decoder.layers.")));
  assert.throws(() => loadBart(configOf("marian"), noDecoder), is400(/no marian decoder layers/));
  assert.throws(
    () => loadBart({ ...configOf("marian"), activation_function: "tanh" }, tensors),
    is400(/activation_function/),
  );
});

Deno.test("bart step: selected cache and encoder rows equal a fresh run of those rows; limits are 400", () => {
  const model = loadBart(configOf("marian"), tensorsOf("marian")).model;
  const before = tf.memory().numTensors;
  try {
    const sources = [[5, 6, 7, 0], [9, 0]];
    const prefixes = [[99, 11, 12], [99, 13, 14]];
    const encoder = model.encode(sources);
    const first = model.step(prefixes.map((p) => p.slice(0, 2)), null, encoder);
    const order = [1, 1, 0];
    const cache = first.cache.select(order);
    const picked = encoder.select(order);
    const next = model.step(order.map((r) => [prefixes[r][2]]), cache, picked);
    const freshEncoder = model.encode(order.map((r) => sources[r]));
    const fresh = model.step(order.map((r) => prefixes[r]), null, freshEncoder);
    next.logits.forEach((row, i) => {
      const worst = row.reduce((w, v, j) => Math.max(w, Math.abs(v - fresh.logits[i][j])), 0);
      assert.ok(worst <= 1e-5, `row ${i}: ${worst}`);
    });
    assert.equal(next.cache.length, 3);
    assert.throws(() => model.step([[1]], null, encoder), /rows/);
    const long = model.encode([[5]]);
    const c = model.step([Array.from({ length: 64 }, () => 5)], null, long).cache;
    assert.throws(() => model.step([[5]], c, long), is400(/decoder length 65 exceeds/));
    assert.throws(() => model.encode([Array.from({ length: 65 }, () => 5)]), is400(/source length 65/));
    for (const x of [encoder, picked, freshEncoder, long, first.cache, cache, next.cache, fresh.cache, c]) {
      x.dispose();
    }
    assert.equal(tf.memory().numTensors, before, "no tensor leaks");
  } finally {
    model.dispose();
  }
});

Deno.test("bart forward: seeded training dropout is deterministic and a few Adam steps lower the loss", () => {
  const model = initBart({
    ...configOf("bart"),
    dropout: 0.1,
    attention_dropout: 0.1,
    activation_dropout: 0.1,
  }, 7);
  const batch = {
    inputIds: tf.tensor2d([[5, 6, 7, 2], [8, 9, 2, 1]], undefined, "int32"),
    attentionMask: tf.tensor2d([[1, 1, 1, 1], [1, 1, 1, 0]], undefined, "int32"),
    decoderInputIds: tf.tensor2d([[2, 7, 11], [2, 12, 13]], undefined, "int32"),
    decoderAttentionMask: tf.tensor2d([[1, 1, 1], [1, 1, 1]], undefined, "int32"),
  };
  const labels = tf.oneHot(tf.tensor1d([7, 11, 2, 12, 13, 2], "int32"), 100);
  try {
    const a = tf.tidy(() => model.forward(batch, { training: true, seed: 11 }).dataSync());
    const b = tf.tidy(() => model.forward(batch, { training: true, seed: 11 }).dataSync());
    const c = tf.tidy(() => model.forward(batch, { training: false }).dataSync());
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    const trainable = [...model.params].filter(([n]) => !model.fixedParams.has(n)).map(([, v]) => v);
    const loss = () =>
      tf.losses.softmaxCrossEntropy(labels, model.forward(batch, { training: false })) as tf.Scalar;
    const optimizer = tf.train.adam(0.01);
    const start = tf.tidy(() => loss().dataSync()[0]);
    for (let i = 0; i < 5; i++) tf.tidy(() => void optimizer.minimize(loss, false, trainable));
    const end = tf.tidy(() => loss().dataSync()[0]);
    assert.ok(end < start - 0.5, `loss ${start} → ${end}`);
    optimizer.dispose();
  } finally {
    tf.dispose([...Object.values(batch), labels]);
    model.dispose();
  }
});
