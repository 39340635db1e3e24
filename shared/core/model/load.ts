/**
 * Creating a BertForSequenceClassification: from scratch with HF's initialisation (normal(0,
 * initializer_range) for dense and embedding weights, the padding row zeroed, LayerNorm 1/0, biases 0; seeded,
 * so the same seed gives the same weights), or from checkpoint tensors. Loading maps checkpoint names onto
 * ours: BertModel names (no prefix), BertForMaskedLM/BertForPreTraining (`bert.` prefix, `cls.*` heads
 * dropped) and BertForSequenceClassification names, plus old TF-style LayerNorm `gamma`/`beta`.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import { BertForSequenceClassification, bertParameterShapes } from "./bert.ts";
import type { BertConfig } from "./config.ts";
import { mixSeed } from "./layers.ts";

export interface CheckpointTensor {
  dtype: string;
  shape: number[];
  data: Float32Array;
}

export interface LoadedBert {
  model: BertForSequenceClassification;
  /** Our parameter names the checkpoint did not provide (freshly initialised, e.g. a new classifier). */
  initialized: string[];
  /** Checkpoint tensor names that were not used (MLM head, buffers, a classifier of another label count). */
  ignored: string[];
}

/** The HF initial value of one parameter (see module comment). */
function initialValue(config: BertConfig, name: string, shape: number[], seed: number): tf.Tensor {
  if (name.endsWith("LayerNorm.weight")) return tf.ones(shape);
  if (name.endsWith(".bias")) return tf.zeros(shape);
  const weight = tf.randomNormal(shape, 0, config.initializer_range, "float32", seed);
  if (name !== "bert.embeddings.word_embeddings.weight") return weight;
  // nn.Embedding(padding_idx=pad_token_id): HF zeroes that row after the normal init.
  const isPad = tf.oneHot([config.pad_token_id], shape[0]).reshape([shape[0], 1]);
  const zeroed = tf.mul(weight, tf.sub(1, isPad));
  weight.dispose();
  isPad.dispose();
  return zeroed;
}

/** A freshly initialised classifier; each parameter's values depend only on (seed, name). */
export function initBertForSequenceClassification(
  config: BertConfig,
  numLabels: number,
  seed: number,
): BertForSequenceClassification {
  checkNumLabels(numLabels);
  const params = new Map<string, tf.Variable>();
  for (const [name, shape] of bertParameterShapes(config, numLabels)) {
    params.set(name, tf.tidy(() => tf.variable(initialValue(config, name, shape, seedFor(seed, name)))));
  }
  return new BertForSequenceClassification(config, numLabels, params);
}

function seedFor(seed: number, name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = mixSeed(h, name.charCodeAt(i));
  return mixSeed(seed, h);
}

function checkNumLabels(numLabels: number): void {
  if (!Number.isInteger(numLabels) || numLabels < 2) {
    throw new ApiError(400, "invalid_request", `a classifier needs at least 2 labels, got ${numLabels}`);
  }
}

/**
 * Our name for a checkpoint tensor, or null for tensors a sequence classifier does not use. Handles the
 * `bert.` prefix (or its absence) and TF-era `gamma`/`beta`.
 */
export function canonicalBertName(checkpointName: string): string | null {
  let name = checkpointName.replace(/LayerNorm\.gamma$/, "LayerNorm.weight")
    .replace(/LayerNorm\.beta$/, "LayerNorm.bias");
  if (name.startsWith("classifier.")) return name;
  if (name.startsWith("bert.")) name = name.slice("bert.".length);
  if (/^(embeddings|encoder|pooler)\./.test(name)) {
    if (name === "embeddings.position_ids") return null; // a buffer, not a weight
    return `bert.${name}`;
  }
  return null;
}

export function loadBertForSequenceClassification(
  config: BertConfig,
  tensors: Map<string, CheckpointTensor>,
  numLabels: number,
  seed = 42,
): LoadedBert {
  checkNumLabels(numLabels);
  const expected = bertParameterShapes(config, numLabels);
  const found = new Map<string, CheckpointTensor>();
  const ignored: string[] = [];
  const mismatches: { name: string; checkpoint: number[]; expected: number[] }[] = [];
  for (const [checkpointName, tensor] of tensors) {
    const name = canonicalBertName(checkpointName);
    const shape = name === null ? undefined : expected.get(name);
    if (name === null || shape === undefined || found.has(name)) {
      ignored.push(checkpointName);
      continue;
    }
    if (tensor.shape.join(",") !== shape.join(",")) {
      // A classifier trained for another label count is replaced, as HF's ignore_mismatched_sizes does.
      if (name.startsWith("classifier.")) {
        ignored.push(checkpointName);
        continue;
      }
      mismatches.push({ name: checkpointName, checkpoint: tensor.shape, expected: shape });
      continue;
    }
    if (tensor.data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new ApiError(400, "invalid_file", `checkpoint tensor ${checkpointName} has the wrong data size`);
    }
    found.set(name, tensor);
  }
  if (mismatches.length > 0) {
    throw new ApiError(
      400,
      "invalid_file",
      `checkpoint shapes do not match config.json: ${
        mismatches.slice(0, 5).map((m) => `${m.name} is [${m.checkpoint}], expected [${m.expected}]`).join(
          "; ",
        )
      }${mismatches.length > 5 ? ` (and ${mismatches.length - 5} more)` : ""}`,
      { mismatches },
    );
  }
  const encoderFound = [...found.keys()].some((n) => n.startsWith("bert.encoder."));
  if (!encoderFound && config.num_hidden_layers > 0) {
    throw new ApiError(
      400,
      "invalid_file",
      "the checkpoint contains no BERT encoder weights (expected names like " +
        "'bert.encoder.layer.0.attention.self.query.weight' or 'encoder.layer.0...')",
      { sample: [...tensors.keys()].slice(0, 10) },
    );
  }
  const params = new Map<string, tf.Variable>();
  const initialized: string[] = [];
  for (const [name, shape] of expected) {
    const tensor = found.get(name);
    if (tensor) {
      params.set(name, tf.tidy(() => tf.variable(tf.tensor(tensor.data, shape, "float32"))));
    } else {
      initialized.push(name);
      params.set(name, tf.tidy(() => tf.variable(initialValue(config, name, shape, seedFor(seed, name)))));
    }
  }
  return { model: new BertForSequenceClassification(config, numLabels, params), initialized, ignored };
}

/** Our parameters as checkpoint tensors (HF BertForSequenceClassification names). */
export function bertStateDict(model: BertForSequenceClassification): Map<string, CheckpointTensor> {
  const out = new Map<string, CheckpointTensor>();
  for (const [name, variable] of model.params) {
    out.set(name, { dtype: "F32", shape: [...variable.shape], data: variable.dataSync() as Float32Array });
  }
  return out;
}
