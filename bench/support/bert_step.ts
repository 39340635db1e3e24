/**
 * The benchmarked workload: one fine-tuning step of the product's own BertForSequenceClassification
 * (shared/core/model) with the product's AdamW (shared/core/train/optimizers.ts) on synthetic batches —
 * forward with dropout, softmax cross-entropy, gradients of every parameter, one optimizer update — plus an
 * inference pass. Also writes the initial weights and the batches as raw little-endian files with a JSON
 * manifest, so tools/torch_bench/bert_step.py can run the identical step in PyTorch.
 */
import * as tf from "@tensorflow/tfjs";
import { BERT_DEFAULTS, type BertConfig } from "../../shared/core/model/config.ts";
import { initBertForSequenceClassification } from "../../shared/core/model/load.ts";
import type { BertForSequenceClassification } from "../../shared/core/model/bert.ts";
import { createOptimizer, type Optimizer } from "../../shared/core/train/optimizers.ts";
import { isNoDecayName } from "../../shared/core/train/param_groups.ts";

export interface StepShape {
  name: string;
  layers: number;
  hidden: number;
  heads: number;
  ffn: number;
  vocab: number;
  seq: number;
  batch: number;
}

export const MINI: StepShape = {
  name: "bert-mini",
  layers: 4,
  hidden: 256,
  heads: 4,
  ffn: 1024,
  vocab: 30522,
  seq: 128,
  batch: 32,
};
export const SMALL: StepShape = {
  name: "bert-small",
  layers: 4,
  hidden: 512,
  heads: 8,
  ffn: 2048,
  vocab: 30522,
  seq: 128,
  batch: 32,
};

export const NUM_LABELS = 2;
export const LEARNING_RATE = 5e-5;
export const WEIGHT_DECAY = 0.01;

export function bertConfigFor(shape: StepShape): BertConfig {
  return {
    ...BERT_DEFAULTS,
    vocab_size: shape.vocab,
    hidden_size: shape.hidden,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    intermediate_size: shape.ffn,
    max_position_embeddings: Math.max(512, shape.seq),
  };
}

/** Token ids, mask (last eighth of each row padded in odd rows), token types and labels for one batch. */
export interface RawBatch {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array;
  labels: Int32Array;
}

export function makeBatches(shape: StepShape, count: number, seed: number): RawBatch[] {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const n = shape.batch * shape.seq;
  return Array.from({ length: count }, () => {
    const inputIds = new Int32Array(n), attentionMask = new Int32Array(n), tokenTypeIds = new Int32Array(n);
    for (let b = 0; b < shape.batch; b++) {
      const length = b % 2 === 1 ? shape.seq - (shape.seq >> 3) : shape.seq;
      for (let s = 0; s < shape.seq; s++) {
        const i = b * shape.seq + s;
        attentionMask[i] = s < length ? 1 : 0;
        inputIds[i] = s < length ? 1 + Math.floor(next() * (shape.vocab - 1)) : 0;
        tokenTypeIds[i] = s >= shape.seq / 2 && s < length ? 1 : 0;
      }
    }
    const labels = Int32Array.from({ length: shape.batch }, () => (next() < 0.5 ? 0 : 1));
    return { inputIds, attentionMask, tokenTypeIds, labels };
  });
}

/** A model, its optimizer and a `step` that trains on one batch and returns the loss. */
export interface BenchTrainer {
  model: BertForSequenceClassification;
  step(batch: RawBatch, seed: number): number;
  predict(batch: RawBatch): Float32Array;
  dispose(): void;
}

/**
 * `microBatches` > 1 splits each batch into equal parts and averages their gradients before the single
 * optimizer update (same update as one full batch, up to dropout masks): peak memory drops accordingly,
 * which the BERT-small config needs because tfjs keeps every activation and gradient of a step alive and
 * the wasm heap ends at 4 GB.
 */
export function createTrainer(shape: StepShape, seed: number, microBatches = 1): BenchTrainer {
  if (shape.batch % microBatches !== 0) {
    throw new Error(`batch ${shape.batch} not divisible by ${microBatches}`);
  }
  const model = initBertForSequenceClassification(bertConfigFor(shape), NUM_LABELS, seed);
  const byVariable = new Map<string, string>();
  const params = [...model.params].map(([name, variable]) => {
    byVariable.set(variable.name, name);
    return { name, variable, lrScale: 1, weightDecay: isNoDecayName(name) ? 0 : WEIGHT_DECAY };
  });
  const optimizer: Optimizer = createOptimizer(
    { name: "adamw", beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
    params,
  );
  const variables = params.map((p) => p.variable);
  const rows = shape.batch / microBatches;
  const tensors = (batch: RawBatch, part = 0, count = shape.batch) => {
    const slice = (a: Int32Array) => a.subarray(part * count * shape.seq, (part + 1) * count * shape.seq);
    return {
      inputIds: tf.tensor2d(slice(batch.inputIds), [count, shape.seq], "int32"),
      attentionMask: tf.tensor2d(slice(batch.attentionMask), [count, shape.seq], "int32"),
      tokenTypeIds: tf.tensor2d(slice(batch.tokenTypeIds), [count, shape.seq], "int32"),
    };
  };
  return {
    model,
    step(batch, stepSeed) {
      const summed = new Map<string, tf.Tensor>();
      let loss = 0;
      for (let part = 0; part < microBatches; part++) {
        const value = tf.tidy(() => {
          const inputs = tensors(batch, part, rows);
          const labelIds = batch.labels.subarray(part * rows, (part + 1) * rows);
          const labels = tf.oneHot(tf.tensor1d(labelIds, "int32"), NUM_LABELS);
          const { value, grads } = tf.variableGrads(() => {
            const logits = model.forward(inputs, { training: true, seed: stepSeed * 1009 + part });
            return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
          }, variables);
          for (const [variableName, grad] of Object.entries(grads)) {
            const name = byVariable.get(variableName)!;
            const scaled = microBatches === 1 ? grad : tf.mul(grad, 1 / microBatches);
            const previous = summed.get(name);
            summed.set(name, tf.keep(previous === undefined ? scaled : tf.add(previous, scaled)));
            previous?.dispose();
          }
          return value.dataSync()[0];
        });
        loss += value / microBatches;
      }
      optimizer.step(summed, LEARNING_RATE);
      for (const grad of summed.values()) grad.dispose();
      return loss;
    },
    predict(batch) {
      return tf.tidy(() => model.forward(tensors(batch), { training: false }).dataSync() as Float32Array);
    },
    dispose() {
      optimizer.dispose();
      model.dispose();
    },
  };
}

/** Writes weights.bin/weights.json and batches.bin/batches.json for the PyTorch side; returns the dir. */
export async function exportForTorch(
  trainer: BenchTrainer,
  shape: StepShape,
  batches: RawBatch[],
  dir: string,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const manifest: { name: string; shape: number[]; offset: number }[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const [name, variable] of trainer.model.params) {
    const data = variable.dataSync() as Float32Array;
    manifest.push({ name, shape: variable.shape, offset });
    chunks.push(data);
    offset += data.length;
  }
  const weights = new Float32Array(offset);
  chunks.reduce((at, chunk) => (weights.set(chunk, at), at + chunk.length), 0);
  await Deno.writeFile(`${dir}/weights.bin`, new Uint8Array(weights.buffer));
  await Deno.writeTextFile(`${dir}/weights.json`, JSON.stringify({ shape, numLabels: NUM_LABELS, manifest }));
  const ints = new Int32Array(batches.length * (3 * shape.batch * shape.seq + shape.batch));
  let at = 0;
  for (const b of batches) {
    for (const part of [b.inputIds, b.attentionMask, b.tokenTypeIds, b.labels]) {
      ints.set(part, at);
      at += part.length;
    }
  }
  await Deno.writeFile(`${dir}/batches.bin`, new Uint8Array(ints.buffer));
  await Deno.writeTextFile(`${dir}/batches.json`, JSON.stringify({ count: batches.length }));
}
