/**
 * Forward parity with PyTorch: tools/torch_reference/forward.py wrote small random BERT, RoBERTa, ELECTRA
 * (embedding_size ≠ hidden_size) and DistilBERT sequence classifiers as HF folders with inputs (padding,
 * attention masks, token types) and their eval-mode logits. Each folder is loaded through the family
 * registry (config.json → parseModelConfig, model.safetensors → loadSequenceClassifier) and its logits must
 * match to ≤ 1e-4 max abs difference on the wasm backend with stock kernels, with the native kernels, and on
 * the pure-JS cpu backend (switched to and back within the test).
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/backend.ts";
import { installNativeKernels, uninstallNativeKernels } from "../../shared/core/backend/native/mod.ts";
import { readSafetensors } from "../../shared/core/checkpoint/safetensors.ts";
import { loadSequenceClassifier } from "../../shared/core/model/load.ts";
import { nativeTest } from "./native_support.ts";

await initBackend("wasm");

const FAMILIES = ["bert", "roberta", "electra", "distilbert"] as const;
const TOLERANCE = 1e-4;
const root = new URL("../fixtures/golden/", import.meta.url);

interface Expected {
  family: string;
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  logits: number[][];
}

function fixture(family: string) {
  const dir = new URL(`forward_${family}/`, root);
  return {
    config: JSON.parse(Deno.readTextFileSync(new URL("config.json", dir))),
    tensors: readSafetensors(Deno.readFileSync(new URL("model.safetensors", dir))),
    expected: JSON.parse(Deno.readTextFileSync(new URL("expected.json", dir))) as Expected,
  };
}

/** Loads the fixture on the current backend and returns the max abs logit difference to PyTorch's. */
function maxAbsDiff(family: string): number {
  const { config, tensors, expected } = fixture(family);
  const { model, initialized, ignored } = loadSequenceClassifier(config, tensors, expected.logits[0].length);
  assert.equal(model.family, family);
  assert.deepEqual(initialized, [], "every parameter comes from the checkpoint");
  assert.ok(ignored.every((name) => name.endsWith("position_ids")), `ignored: ${ignored}`);
  const batch = {
    inputIds: tf.tensor2d(expected.input_ids, undefined, "int32"),
    attentionMask: tf.tensor2d(expected.attention_mask, undefined, "int32"),
    tokenTypeIds: tf.tensor2d(expected.token_type_ids, undefined, "int32"),
  };
  try {
    const logits = model.forward(batch, { training: false });
    const actual = logits.arraySync();
    logits.dispose();
    assert.equal(actual.length, expected.logits.length);
    let worst = 0;
    actual.forEach((row, i) =>
      row.forEach((value, j) => (worst = Math.max(worst, Math.abs(value - expected.logits[i][j]))))
    );
    return worst;
  } finally {
    tf.dispose(Object.values(batch));
    model.dispose();
  }
}

function check(family: string, backend: string): void {
  const diff = maxAbsDiff(family);
  console.log(`parity ${family} on ${backend}: max abs diff ${diff.toExponential(2)}`);
  assert.ok(diff <= TOLERANCE, `${family} on ${backend}: max abs diff ${diff} > ${TOLERANCE}`);
}

for (const family of FAMILIES) {
  Deno.test(`${family}: logits match PyTorch on wasm with stock kernels`, () => {
    uninstallNativeKernels();
    assert.equal(tf.getBackend(), "wasm");
    check(family, "wasm");
  });

  nativeTest(`${family}: logits match PyTorch on wasm with the native kernels`, async () => {
    await installNativeKernels({ build: true, threads: 2 });
    try {
      check(family, "wasm+native");
    } finally {
      uninstallNativeKernels();
    }
  });

  Deno.test(`${family}: logits match PyTorch on the pure-JS cpu backend`, async () => {
    const previous = tf.getBackend();
    assert.ok(await tf.setBackend("cpu"));
    try {
      check(family, "cpu");
    } finally {
      await tf.setBackend(previous);
    }
  });
}

Deno.test("a fixture's logits are sensitive to its weights (the parity check can fail)", () => {
  const { config, tensors, expected } = fixture("roberta");
  const name = "roberta.encoder.layer.1.output.dense.weight";
  const tensor = tensors.get(name)!;
  tensors.set(name, { ...tensor, data: tensor.data.map((v) => v * 1.01) });
  const { model } = loadSequenceClassifier(config, tensors, 3);
  const ids = tf.tensor2d(expected.input_ids, undefined, "int32");
  const mask = tf.tensor2d(expected.attention_mask, undefined, "int32");
  try {
    const logits = model.forward({ inputIds: ids, attentionMask: mask, tokenTypeIds: tf.zerosLike(ids) }, {
      training: false,
    });
    const diff = Math.max(...logits.dataSync().map((v, i) => Math.abs(v - expected.logits.flat()[i])));
    logits.dispose();
    assert.ok(diff > 10 * TOLERANCE, `a 1% weight change moved the logits by only ${diff}`);
  } finally {
    tf.dispose([ids, mask]);
    model.dispose();
  }
});
