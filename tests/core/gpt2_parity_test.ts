/**
 * GPT-2 parity with PyTorch: tools/torch_reference/gpt2_reference.py wrote a small random GPT2LMHeadModel
 * (HF folder) with right-padded inputs and their logits, a greedy continuation and beam-search results
 * (HF's BeamSearchScorer, two length penalties). Loaded through loadGpt2, the logits must match to ≤ 1e-4
 * and the generated tokens exactly; the KV-cache path must match the full recompute (logits ≤ 1e-5, same
 * tokens for greedy, beam and seeded sampling). Logits are checked on wasm (stock and native kernels) and cpu.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/backend.ts";
import { installNativeKernels, uninstallNativeKernels } from "../../shared/core/backend/native/mod.ts";
import { readSafetensors } from "../../shared/core/checkpoint/safetensors.ts";
import { generate } from "../../shared/core/generate/generate.ts";
import type { Gpt2LMHeadModel } from "../../shared/core/model/gpt2.ts";
import { loadGpt2 } from "../../shared/core/model/gpt2_load.ts";
import type { CheckpointTensor } from "../../shared/core/model/load.ts";
import { nativeTest } from "./native_support.ts";

await initBackend("wasm");

const dir = new URL("../fixtures/golden/gpt2_tiny/", import.meta.url);
const config = JSON.parse(Deno.readTextFileSync(new URL("config.json", dir)));
const tensors = readSafetensors(Deno.readFileSync(new URL("model.safetensors", dir))) as Map<
  string,
  CheckpointTensor
>;
const expected = JSON.parse(Deno.readTextFileSync(new URL("expected.json", dir))) as {
  input_ids: number[][];
  attention_mask: number[][];
  logits: number[][];
  prompt: number[];
  greedy: { max_new_tokens: number; tokens: number[] };
  beam: {
    num_beams: number;
    max_new_tokens: number;
    by_length_penalty: Record<string, { tokens: number[]; score: number }[]>;
  };
};

function load(): Gpt2LMHeadModel {
  const { model, initialized, ignored } = loadGpt2(config, tensors);
  assert.deepEqual(initialized, []);
  assert.deepEqual(ignored, []);
  return model;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** HF output tokens: ours plus the EOS when generation ended on it. */
const withEos = (tokens: number[], reason: string) =>
  reason === "eos" ? [...tokens, config.eos_token_id] : tokens;

/** Max |Δ| between our logits (every position, padding included) and PyTorch's, on the current backend. */
function logitsDiff(): number {
  const model = load();
  const ids = tf.tensor2d(expected.input_ids, undefined, "int32");
  const mask = tf.tensor2d(expected.attention_mask, undefined, "int32");
  const logits = model.forward(ids, mask, { training: false });
  const diff = maxAbsDiff(logits.dataSync(), expected.logits.flat());
  tf.dispose([ids, mask, logits]);
  model.dispose();
  return diff;
}

Deno.test("GPT-2 logits match PyTorch (right padding, every position) to ≤ 1e-4", () => {
  uninstallNativeKernels();
  const diff = logitsDiff();
  console.log(`gpt2 logits max |Δ| on wasm = ${diff.toExponential(2)}`);
  assert.ok(diff <= 1e-4, `max |Δ| ${diff}`);
});

nativeTest("GPT-2 logits match PyTorch on wasm with the native kernels", async () => {
  await installNativeKernels({ build: true, threads: 2 });
  try {
    const diff = logitsDiff();
    console.log(`gpt2 logits max |Δ| on wasm+native = ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-4, `max |Δ| ${diff}`);
  } finally {
    uninstallNativeKernels();
  }
});

Deno.test("GPT-2 logits match PyTorch on the pure-JS cpu backend", async () => {
  const previous = tf.getBackend();
  assert.ok(await tf.setBackend("cpu"));
  try {
    const diff = logitsDiff();
    console.log(`gpt2 logits max |Δ| on cpu = ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-4, `max |Δ| ${diff}`);
  } finally {
    await tf.setBackend(previous);
  }
});

Deno.test("the GPT-2 fixture is sensitive to its weights (the parity check can fail)", () => {
  const name = "transformer.h.1.mlp.c_proj.weight";
  const original = tensors.get(name)!;
  tensors.set(name, { ...original, data: original.data.map((v) => v * 1.01) });
  try {
    assert.ok(logitsDiff() > 1e-3);
  } finally {
    tensors.set(name, original);
  }
});

Deno.test("GPT-2 greedy and beam search give PyTorch's tokens and beam scores", async () => {
  const model = load();
  const greedy = await generate(model, expected.prompt, { maxNewTokens: expected.greedy.max_new_tokens });
  assert.deepEqual(withEos(greedy.sequences[0].tokens, greedy.finishReason), expected.greedy.tokens);
  assert.equal(greedy.finishReason, "eos");
  for (const [lp, beams] of Object.entries(expected.beam.by_length_penalty)) {
    const result = await generate(model, expected.prompt, {
      maxNewTokens: expected.beam.max_new_tokens,
      numBeams: expected.beam.num_beams,
      numReturnSequences: beams.length,
      lengthPenalty: Number(lp),
    });
    assert.deepEqual(
      result.sequences.map((s) => withEos(s.tokens, s.finishReason)),
      beams.map((b) => b.tokens),
    );
    const scoreDiff = maxAbsDiff(result.sequences.map((s) => s.score), beams.map((b) => b.score));
    assert.ok(scoreDiff <= 1e-4, `length_penalty ${lp}: beam scores differ by ${scoreDiff}`);
  }
  model.dispose();
});

Deno.test("GPT-2 KV cache: step-by-step logits equal the full recompute (≤ 1e-5)", () => {
  const model = load();
  const rows = [expected.input_ids[0], [...expected.input_ids[0]].reverse()];
  const full = model.step(rows, null);
  let cached = model.step(rows.map((r) => r.slice(0, 3)), null);
  let worst = 0;
  for (let t = 3; t < rows[0].length; t++) {
    const next = model.step(rows.map((r) => [r[t]]), cached.cache);
    cached.cache.dispose();
    cached = next;
    // Each step's logits equal a full pass over that prefix.
    const ref = model.step(rows.map((r) => r.slice(0, t + 1)), null);
    for (let r = 0; r < rows.length; r++) worst = Math.max(worst, maxAbsDiff(next.logits[r], ref.logits[r]));
    ref.cache.dispose();
  }
  assert.equal(cached.cache.length, rows[0].length);
  for (let r = 0; r < rows.length; r++) worst = Math.max(worst, maxAbsDiff(cached.logits[r], full.logits[r]));
  console.log(`cached vs recomputed logits max |Δ| = ${worst.toExponential(2)}`);
  assert.ok(worst <= 1e-5, `max |Δ| ${worst}`);
  // select() reorders/duplicates rows: row i of the selection continues like the original row.
  const swapped = cached.cache.select([1, 1, 0]);
  const a = model.step([[5], [5], [5]], swapped);
  const b = model.step([[5], [5]], cached.cache);
  assert.ok(maxAbsDiff(a.logits[0], b.logits[1]) <= 1e-6);
  assert.ok(maxAbsDiff(a.logits[1], b.logits[1]) <= 1e-6);
  assert.ok(maxAbsDiff(a.logits[2], b.logits[0]) <= 1e-6);
  for (const c of [full.cache, cached.cache, swapped, a.cache, b.cache]) c.dispose();
  model.dispose();
});

Deno.test("GPT-2 generation with and without the cache gives identical tokens", async () => {
  const model = load();
  const before = tf.memory().numTensors;
  const runs = [
    { maxNewTokens: 12, eosTokenId: null },
    { maxNewTokens: 8, numBeams: 3, numReturnSequences: 2 },
    {
      maxNewTokens: 10,
      doSample: true,
      topK: 20,
      topP: 0.9,
      temperature: 0.8,
      seed: 7,
      numReturnSequences: 2,
    },
  ];
  for (const options of runs) {
    const cached = await generate(model, expected.prompt, { ...options, useCache: true });
    const recomputed = await generate(model, expected.prompt, { ...options, useCache: false });
    assert.deepEqual(cached.sequences.map((s) => s.tokens), recomputed.sequences.map((s) => s.tokens));
    assert.ok(
      maxAbsDiff(cached.sequences.map((s) => s.score), recomputed.sequences.map((s) => s.score)) <= 1e-4,
    );
  }
  assert.equal(tf.memory().numTensors, before, "generation leaks no tensors");
  model.dispose();
});

Deno.test("loadGpt2 accepts GPT2Model names, buffers and a tied lm_head.weight", () => {
  const renamed = new Map<string, CheckpointTensor>();
  for (const [name, t] of tensors) renamed.set(name.replace(/^transformer\./, ""), t);
  renamed.set("h.0.attn.bias", { dtype: "F32", shape: [1, 1, 48, 48], data: new Float32Array(48 * 48) });
  renamed.set("h.1.attn.masked_bias", { dtype: "F32", shape: [], data: new Float32Array([-1e4]) });
  renamed.set("lm_head.weight", tensors.get("transformer.wte.weight")!);
  const { model, initialized, ignored } = loadGpt2(config, renamed);
  assert.deepEqual(initialized, []);
  assert.deepEqual(ignored.sort(), ["h.0.attn.bias", "h.1.attn.masked_bias", "lm_head.weight"]);
  const reference = load();
  const a = model.step([expected.prompt], null);
  const b = reference.step([expected.prompt], null);
  assert.equal(maxAbsDiff(a.logits[0], b.logits[0]), 0);
  a.cache.dispose();
  b.cache.dispose();
  model.dispose();
  reference.dispose();
});
