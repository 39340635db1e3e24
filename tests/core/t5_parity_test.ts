/**
 * T5 parity with PyTorch: tools/torch_reference/t5_reference.py wrote two small random T5s (ReLU + tied
 * embeddings; gated-gelu + untied lm_head with heads·d_kv ≠ d_model) as HF folders with a padded source
 * batch, decoder inputs with a decoder mask, their eval-mode logits and greedy tokens. Each folder loads via
 * loadT5; the teacher-forced logits must match to ≤ 1e-4, greedy decoding over `step` with the KV cache must
 * give the same tokens, and the cached step must equal the full recompute (cache null) to ≤ 1e-5. The
 * relative position buckets match torch's for -200..200 in several settings and hand-computed values.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/backend.ts";
import { readSafetensors } from "../../shared/core/checkpoint/safetensors.ts";
import type { DecoderCache } from "../../shared/core/generate/types.ts";
import type { T5ForConditionalGeneration } from "../../shared/core/model/t5.ts";
import { relativePositionBucket } from "../../shared/core/model/t5_layers.ts";
import { loadT5 } from "../../shared/core/model/t5_load.ts";

await initBackend("wasm");

const root = new URL("../fixtures/golden/", import.meta.url);

interface Expected {
  input_ids: number[][];
  attention_mask: number[][];
  decoder_input_ids: number[][];
  decoder_attention_mask: number[][];
  logits: number[][];
  greedy_max_new_tokens: number;
  greedy_tokens: number[][];
}

function fixture(variant: string) {
  const dir = new URL(`t5_${variant}/`, root);
  const config = JSON.parse(Deno.readTextFileSync(new URL("config.json", dir)));
  const tensors = readSafetensors(Deno.readFileSync(new URL("model.safetensors", dir)));
  const expected = JSON.parse(Deno.readTextFileSync(new URL("expected.json", dir))) as Expected;
  return { config, tensors, expected };
}

function argMax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Greedy decoding with the KV cache (finished rows continue with pad, as HF's greedy search). */
function greedy(model: T5ForConditionalGeneration, sources: number[][], maxNew: number): number[][] {
  const encoder = model.encode(sources);
  const out: number[][] = sources.map(() => []);
  const done = sources.map(() => false);
  let cache: DecoderCache | null = null;
  let next = sources.map(() => [model.decoderStartTokenId]);
  for (let t = 0; t < maxNew && !done.every(Boolean); t++) {
    const result = model.step(next, cache, encoder);
    cache?.dispose();
    cache = result.cache;
    next = result.logits.map((row, r) => [done[r] ? model.padTokenId : argMax(row)]);
    next.forEach(([id], r) => {
      out[r].push(id);
      if (id === model.eosTokenId) done[r] = true;
    });
  }
  cache?.dispose();
  encoder.dispose();
  return out;
}

/** Max |Δ| between our teacher-forced logits and PyTorch's, optionally after scaling one weight. */
function maxDiff(variant: string, perturb?: { name: string; factor: number }): number {
  const { config, tensors, expected } = fixture(variant);
  if (perturb) {
    const t = tensors.get(perturb.name)!;
    tensors.set(perturb.name, { ...t, data: t.data.map((v) => v * perturb.factor) });
  }
  const { model, ignored } = loadT5(config, tensors);
  assert.deepEqual(ignored, variant === "relu" ? ["encoder.embed_tokens.weight"] : []);
  const before = tf.memory().numTensors;
  const paramCount = model.params.size;
  const batch = {
    inputIds: tf.tensor2d(expected.input_ids, undefined, "int32"),
    attentionMask: tf.tensor2d(expected.attention_mask, undefined, "int32"),
    decoderInputIds: tf.tensor2d(expected.decoder_input_ids, undefined, "int32"),
    decoderAttentionMask: tf.tensor2d(expected.decoder_attention_mask, undefined, "int32"),
  };
  const logits = model.forward(batch, { training: false });
  const actual = logits.arraySync();
  tf.dispose([logits, ...Object.values(batch)]);
  model.dispose();
  assert.equal(tf.memory().numTensors, before - paramCount, "forward leaks no tensors");
  assert.equal(actual.length, expected.logits.length);
  let worst = 0;
  actual.forEach((row, i) =>
    row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - expected.logits[i][j]))))
  );
  return worst;
}

for (const variant of ["relu", "gated"]) {
  Deno.test(`T5 ${variant}: teacher-forced logits match PyTorch to 1e-4 (wasm and cpu backends)`, async () => {
    const wasm = maxDiff(variant);
    const previous = tf.getBackend();
    assert.ok(await tf.setBackend("cpu"));
    let cpu: number;
    try {
      cpu = maxDiff(variant);
    } finally {
      await tf.setBackend(previous);
    }
    console.log(`T5 ${variant} parity: max |Δ| wasm ${wasm.toExponential(2)}, cpu ${cpu.toExponential(2)}`);
    assert.ok(wasm <= 1e-4 && cpu <= 1e-4, `max abs diff wasm ${wasm}, cpu ${cpu}`);
  });

  Deno.test(`T5 ${variant}: the parity check can fail (a 1% change of one weight shows)`, () => {
    const name = variant === "relu"
      ? "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
      : "encoder.block.1.layer.1.DenseReluDense.wi_1.weight";
    const diff = maxDiff(variant, { name, factor: 1.01 });
    assert.ok(diff > 1e-3, `a 1% change of ${name} moved the logits by only ${diff}`);
  });

  Deno.test(`T5 ${variant}: greedy decoding with the KV cache gives PyTorch's tokens`, () => {
    const { config, tensors, expected } = fixture(variant);
    const { model } = loadT5(config, tensors);
    const sources = expected.input_ids.map((row, r) =>
      row.filter((_, i) => expected.attention_mask[r][i] === 1)
    );
    const before = tf.memory().numTensors;
    const tokens = greedy(model, sources, expected.greedy_max_new_tokens);
    assert.equal(tf.memory().numTensors, before, "decoding leaks no tensors");
    assert.deepEqual(tokens, expected.greedy_tokens);
    model.dispose();
  });

  Deno.test(`T5 ${variant}: a cached step equals the full recompute (cache null)`, () => {
    const { config, tensors, expected } = fixture(variant);
    const { model } = loadT5(config, tensors);
    const sources = expected.input_ids.map((row, r) =>
      row.filter((_, i) => expected.attention_mask[r][i] === 1)
    );
    let encoder = model.encode(sources);
    const prefixes = sources.map(() => [model.decoderStartTokenId]);
    let cache: DecoderCache | null = null;
    let worst = 0;
    for (let t = 0; t < 6; t++) {
      const fed = cache ? prefixes.map((p) => [p[p.length - 1]]) : prefixes;
      const cached = model.step(fed, cache, encoder);
      const full = model.step(prefixes, null, encoder);
      assert.equal(cached.cache.length, t + 1);
      cached.logits.forEach((row, r) => {
        row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - full.logits[r][j]))));
        assert.equal(argMax(row), argMax(full.logits[r]));
      });
      full.cache.dispose();
      cache?.dispose();
      cache = cached.cache;
      // Reorder rows as beam search does, then extend every prefix with its argmax.
      const order = [2, 0, 1];
      const reordered: DecoderCache = cache.select(order);
      cache.dispose();
      cache = reordered;
      const next = cached.logits.map(argMax);
      const extended = order.map((r) => [...prefixes[r], next[r]]);
      prefixes.splice(0, prefixes.length, ...extended);
      const selected = encoder.select(order);
      encoder.dispose();
      encoder = selected;
    }
    cache?.dispose();
    encoder.dispose();
    console.log(`T5 ${variant}: cached vs full step max |Δ| ${worst.toExponential(2)}`);
    assert.ok(worst <= 1e-5, `cached vs full recompute: ${worst}`);
    model.dispose();
  });
}

Deno.test("relative position buckets match torch for -200..200 (bidirectional and causal)", () => {
  const golden = JSON.parse(Deno.readTextFileSync(new URL("t5_buckets.json", root)));
  for (const table of golden.tables) {
    const actual = golden.relative_positions.map((p: number) =>
      relativePositionBucket(p, table.bidirectional, table.num_buckets, table.max_distance)
    );
    assert.deepEqual(
      actual,
      table.buckets,
      `${table.num_buckets}/${table.max_distance}/${table.bidirectional}`,
    );
  }
});

Deno.test("relative position buckets: hand-computed values", () => {
  // Bidirectional, 32 buckets, max_distance 128: 16 per direction, exact below 8, keys after the query +16.
  assert.equal(relativePositionBucket(0, true, 32, 128), 0);
  assert.equal(relativePositionBucket(-3, true, 32, 128), 3);
  assert.equal(relativePositionBucket(3, true, 32, 128), 19);
  // |p| = 16: 8 + floor(log(16/8) / log(128/8) · 8) = 8 + floor(0.25 · 8) = 10.
  assert.equal(relativePositionBucket(-16, true, 32, 128), 10);
  assert.equal(relativePositionBucket(16, true, 32, 128), 26);
  // |p| = 127 → 8 + floor(log(127/8)/log(16) · 8) = 8 + 7 = 15; beyond max_distance clamps to 15.
  assert.equal(relativePositionBucket(-127, true, 32, 128), 15);
  assert.equal(relativePositionBucket(-1000, true, 32, 128), 15);
  assert.equal(relativePositionBucket(1000, true, 32, 128), 31);
  // Causal, 32 buckets: future keys share bucket 0; exact below 16; |p| = 32 → 16 + floor(log 2/log 8 · 16) = 21.
  assert.equal(relativePositionBucket(5, false, 32, 128), 0);
  assert.equal(relativePositionBucket(-5, false, 32, 128), 5);
  assert.equal(relativePositionBucket(-15, false, 32, 128), 15);
  assert.equal(relativePositionBucket(-32, false, 32, 128), 21);
  assert.equal(relativePositionBucket(-500, false, 32, 128), 31);
});
