/**
 * Parity of the BART-family encoder-decoders with PyTorch: tools/torch_reference/bart_reference.py wrote a
 * small random mBART (pre-norm, learned positions, gelu, forced BOS) and Marian (post-norm, sinusoidal
 * positions left out of the checkpoint, swish) as HF folders with a padded source/target batch, its
 * teacher-forced decoder logits and greedy decodes. Each folder loads through loadBart; the logits must match
 * to ≤ 1e-4, a greedy loop over step() with the key/value cache must reproduce the decodes token for token,
 * (wasm with stock and native kernels, and the cpu backend), a greedy loop over step() with the key/value cache
 * must reproduce the decodes token for token, and every cached step must equal the full recompute (step over
 * the whole prefix with no cache) to ≤ 1e-5.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/backend.ts";
import { readSafetensors } from "../../shared/core/checkpoint/safetensors.ts";
import { type BartForConditionalGeneration, loadBart } from "../../shared/core/model/bart.ts";
import type { DecoderCache } from "../../shared/core/generate/types.ts";
import { installNativeKernels, uninstallNativeKernels } from "../../shared/core/backend/native/mod.ts";
import { nativeTest } from "./native_support.ts";
import { generate } from "../../shared/core/generate/generate.ts";

await initBackend("wasm");

const root = new URL("../fixtures/golden/", import.meta.url);

interface Expected {
  model_type: string;
  input_ids: number[][];
  attention_mask: number[][];
  decoder_input_ids: number[][];
  decoder_attention_mask: number[][];
  logits: number[][];
  greedy_sources: number[][];
  greedy_max_new_tokens: number;
  greedy_tokens: number[][];
}

function fixture(name: string) {
  const dir = new URL(`${name}_tiny/`, root);
  return {
    config: JSON.parse(Deno.readTextFileSync(new URL("config.json", dir))),
    tensors: readSafetensors(Deno.readFileSync(new URL("model.safetensors", dir))),
    expected: JSON.parse(Deno.readTextFileSync(new URL("expected.json", dir))) as Expected,
  };
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

const argmax = (row: Float32Array) => row.reduce((best, v, i) => (v > row[best] ? i : best), 0);

/** Greedy decoding of one source row over cached steps, each step checked against the full recompute. */
function greedy(model: BartForConditionalGeneration, source: number[], maxNew: number) {
  const encoder = model.encode([source]);
  const tokens = [model.decoderStartTokenId];
  let cache: DecoderCache | null = null;
  let worstCacheDiff = 0;
  try {
    for (let step = 0; step < maxNew; step++) {
      const cached = model.step([[tokens[tokens.length - 1]]], cache, encoder);
      cache?.dispose();
      cache = cached.cache;
      assert.equal(cache.length, tokens.length);
      const full = model.step([tokens], null, encoder);
      full.cache.dispose();
      worstCacheDiff = Math.max(worstCacheDiff, maxAbs(cached.logits[0], full.logits[0]));
      assert.equal(argmax(cached.logits[0]), argmax(full.logits[0]));
      const forced = step === 0 ? model.forcedBosTokenId : null;
      const next = forced ?? argmax(cached.logits[0]);
      tokens.push(next);
      if (next === model.eosTokenId) break;
    }
  } finally {
    cache?.dispose();
    encoder.dispose();
  }
  return { tokens, worstCacheDiff };
}

/** Loads a fixture (optionally with one weight scaled) and returns the max |Δ| of its logits to PyTorch's. */
function logitsDiff(name: string, scale?: { weight: string; factor: number }): number {
  const { config, tensors, expected } = fixture(name);
  if (scale) {
    const tensor = tensors.get(scale.weight)!;
    tensors.set(scale.weight, { ...tensor, data: tensor.data.map((v) => v * scale.factor) });
  }
  const { model, initialized, ignored } = loadBart(config, tensors);
  assert.equal(model.config.model_type, expected.model_type);
  assert.deepEqual(ignored, []);
  assert.deepEqual(
    initialized,
    name === "marian" ? ["model.encoder.embed_positions.weight", "model.decoder.embed_positions.weight"] : [],
  );
  const batch = {
    inputIds: tf.tensor2d(expected.input_ids, undefined, "int32"),
    attentionMask: tf.tensor2d(expected.attention_mask, undefined, "int32"),
    decoderInputIds: tf.tensor2d(expected.decoder_input_ids, undefined, "int32"),
    decoderAttentionMask: tf.tensor2d(expected.decoder_attention_mask, undefined, "int32"),
  };
  try {
    const logits = model.forward(batch, { training: false });
    const rows = expected.decoder_input_ids.length * expected.decoder_input_ids[0].length;
    assert.deepEqual(logits.shape, [rows, model.vocabSize]);
    const diff = maxAbs(logits.dataSync(), expected.logits.flat());
    logits.dispose();
    return diff;
  } finally {
    tf.dispose(Object.values(batch));
    model.dispose();
  }
}

function checkLogits(name: string, backend: string): void {
  const diff = logitsDiff(name);
  console.log(`${name} logits max |Δ| vs PyTorch on ${backend}: ${diff.toExponential(2)}`);
  assert.ok(diff <= 1e-4, `max abs diff ${diff}`);
}

for (const name of ["bart", "marian"]) {
  Deno.test(`${name}: teacher-forced decoder logits match PyTorch (≤ 1e-4) on wasm`, () => {
    uninstallNativeKernels();
    checkLogits(name, "wasm");
  });

  nativeTest(`${name}: teacher-forced decoder logits match PyTorch with the native kernels`, async () => {
    await installNativeKernels({ build: true, threads: 2 });
    try {
      checkLogits(name, "wasm+native");
    } finally {
      uninstallNativeKernels();
    }
  });

  Deno.test(`${name}: teacher-forced decoder logits match PyTorch on the pure-JS cpu backend`, async () => {
    const previous = tf.getBackend();
    assert.ok(await tf.setBackend("cpu"));
    try {
      checkLogits(name, "cpu");
    } finally {
      await tf.setBackend(previous);
    }
  });

  Deno.test(`${name}: a 1% change of one decoder weight breaks parity (the check can fail)`, () => {
    const diff = logitsDiff(name, {
      weight: "model.decoder.layers.1.encoder_attn.v_proj.weight",
      factor: 1.01,
    });
    assert.ok(diff > 1e-3, `moved the logits by only ${diff}`);
  });

  Deno.test(`${name}: greedy decoding over the cache matches PyTorch and the full recompute`, () => {
    const { config, tensors, expected } = fixture(name);
    const { model } = loadBart(config, tensors);
    const before = tf.memory().numTensors;
    try {
      let worst = 0;
      expected.greedy_sources.forEach((source, i) => {
        const { tokens, worstCacheDiff } = greedy(model, source, expected.greedy_max_new_tokens);
        assert.deepEqual(tokens, expected.greedy_tokens[i], `row ${i}`);
        worst = Math.max(worst, worstCacheDiff);
      });
      console.log(`${name} cached vs full-recompute step logits max |Δ|: ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-5, `cache diff ${worst}`);
      assert.equal(tf.memory().numTensors, before, "step/encode leak no tensors");
    } finally {
      model.dispose();
    }
  });
}

Deno.test("marian: the shared generate() reproduces PyTorch's greedy decodes; beam search agrees with and without cache", async () => {
  const { config, tensors, expected } = fixture("marian");
  const { model } = loadBart(config, tensors);
  const before = tf.memory().numTensors;
  try {
    for (const [i, source] of expected.greedy_sources.entries()) {
      const maxNewTokens = expected.greedy_max_new_tokens;
      for (const useCache of [true, false]) {
        const greedy = await generate(model, source, { maxNewTokens, useCache });
        assert.deepEqual(
          greedy.sequences[0].tokens,
          expected.greedy_tokens[i].slice(1),
          `row ${i} cache ${useCache}`,
        );
      }
      const cached = await generate(model, source, { maxNewTokens: 6, numBeams: 3, numReturnSequences: 3 });
      const full = await generate(model, source, {
        maxNewTokens: 6,
        numBeams: 3,
        numReturnSequences: 3,
        useCache: false,
      });
      assert.deepEqual(cached.sequences.map((s) => s.tokens), full.sequences.map((s) => s.tokens));
      cached.sequences.forEach((s, k) => assert.ok(Math.abs(s.score - full.sequences[k].score) < 1e-4));
    }
    assert.equal(tf.memory().numTensors, before, "generation leaks no tensors");
  } finally {
    model.dispose();
  }
});
