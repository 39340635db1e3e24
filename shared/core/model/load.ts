/**
 * Creating a model of any family with any task head (sequence / token / span, task_heads.ts): from scratch
 * with HF's initialisation (normal(0, initializer_range) for dense and embedding weights, padding rows
 * zeroed, LayerNorm 1/0, biases 0, DistilBERT's sinusoidal table when configured; seeded, so the same seed
 * gives the same weights), or from checkpoint tensors. Loading maps checkpoint names onto ours: base-model
 * names without prefix (BertModel, RobertaModel, …), pre-training/MLM checkpoints (prefix kept, `cls.*` /
 * `lm_head.*` / other heads dropped) and *ForSequenceClassification / *ForTokenClassification /
 * *ForQuestionAnswering names, plus old TF-style LayerNorm `gamma`/`beta`. A head whose shape does not fit
 * the label count is re-initialised (HF's ignore_mismatched_sizes); any other mismatch is a 400. A checkpoint
 * trained with ANOTHER head kind (config.json `architectures`, else its tensor names: task_heads.ts
 * headKindOfTensors) keeps only its encoder: its head is ignored and ours initialised, even where names and
 * shapes happen to agree (BERT's sequence `classifier` vs the token one), because HF would load such a tensor
 * but it was trained on different features. BERT's pooler is loaded for sequence heads and ignored by
 * token/span heads (they have none, as in HF).
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import { BertForSequenceClassification, bertParameterShapes } from "./bert.ts";
import {
  ElectraForSequenceClassification,
  electraParameterShapes,
  RobertaForSequenceClassification,
  robertaParameterShapes,
} from "./bert_variants.ts";
import type { HeadKind, ModelFamily, SequenceClassifier } from "./classifier.ts";
import type { BertConfig } from "./config.ts";
import {
  DISTILBERT_POSITIONS,
  DistilBertForSequenceClassification,
  distilbertParameterShapes,
  sinusoidalTable,
} from "./distilbert.ts";
import { type ModelConfig, parseModelConfig } from "./family_config.ts";
import { mixSeed } from "./layers.ts";
import { headKindOfConfig, headKindOfTensors, headOutputs } from "./task_heads.ts";

export interface CheckpointTensor {
  dtype: string;
  shape: number[];
  data: Float32Array;
}

export interface Loaded<M extends SequenceClassifier> {
  model: M;
  /** Our parameter names the checkpoint did not provide (freshly initialised, e.g. a new classifier). */
  initialized: string[];
  /** Checkpoint tensor names that were not used (MLM head, buffers, another head or label count). */
  ignored: string[];
  /** The head the checkpoint was trained with (null: none, e.g. a base or MLM checkpoint). */
  checkpointHead?: HeadKind | null;
}
export type LoadedBert = Loaded<BertForSequenceClassification>;
export type LoadedClassifier = Loaded<SequenceClassifier>;

/** Every task head's top-level modules, in any family (BERT's pooler is part of `bert.`). */
const HEAD_MODULES = /^(classifier|qa_outputs|pre_classifier)\./;

/** How a family's HF names look: the model prefix, its sub-module roots, and its encoder body. */
const DISPLAY: Record<ModelFamily, string> = {
  bert: "BERT",
  roberta: "RoBERTa",
  electra: "ELECTRA",
  distilbert: "DistilBERT",
};

const LAYOUT: Record<ModelFamily, { prefix: string; roots: RegExp; body: RegExp }> = {
  bert: {
    prefix: "bert",
    roots: /^(embeddings|encoder|pooler)\./,
    body: /^bert\.encoder\./,
  },
  roberta: {
    prefix: "roberta",
    roots: /^(embeddings|encoder)\./,
    body: /^roberta\.encoder\./,
  },
  electra: {
    prefix: "electra",
    roots: /^(embeddings|embeddings_project|encoder)\./,
    body: /^electra\.encoder\./,
  },
  distilbert: {
    prefix: "distilbert",
    roots: /^(embeddings|transformer)\./,
    body: /^distilbert\.transformer\./,
  },
};

/** Every parameter of the family's model with `head`, with its PyTorch shape, in forward order. */
export function parameterShapes(
  config: ModelConfig,
  numLabels: number,
  head: HeadKind = "sequence",
): Map<string, number[]> {
  switch (config.model_type) {
    case "bert":
      return bertParameterShapes(config, numLabels, head);
    case "roberta":
      return robertaParameterShapes(config, numLabels, head);
    case "electra":
      return electraParameterShapes(config, numLabels, head);
    case "distilbert":
      return distilbertParameterShapes(config, numLabels, head);
  }
}

/** Whether `name` (one of ours) belongs to a task head (or BERT's pooler): not part of the encoder. */
export function isHeadParameter(_family: ModelFamily, name: string): boolean {
  return HEAD_MODULES.test(name) || name.startsWith("bert.pooler.");
}

/**
 * Our name for a checkpoint tensor of `family`, or null for tensors a sequence classifier does not use
 * (buffers such as position_ids, other models' heads).
 */
export function canonicalName(family: ModelFamily, checkpointName: string): string | null {
  const { prefix, roots } = LAYOUT[family];
  let name = checkpointName.replace(/LayerNorm\.gamma$/, "LayerNorm.weight")
    .replace(/LayerNorm\.beta$/, "LayerNorm.bias");
  if (HEAD_MODULES.test(name)) return name;
  if (name.startsWith(`${prefix}.`)) name = name.slice(prefix.length + 1);
  if (!roots.test(name) || /\.(position_ids|token_type_ids)$/.test(name)) return null;
  return `${prefix}.${name}`;
}

/** BERT's canonicalName (kept for callers of the BERT-only API). */
export function canonicalBertName(checkpointName: string): string | null {
  return canonicalName("bert", checkpointName);
}

/** The HF initial value of one parameter (see module comment). */
function initialValue(config: ModelConfig, name: string, shape: number[], seed: number): tf.Tensor {
  if (/(LayerNorm|layer_norm)\.weight$/.test(name)) return tf.ones(shape);
  if (name.endsWith(".bias")) return tf.zeros(shape);
  if (config.model_type === "distilbert" && name === DISTILBERT_POSITIONS && config.sinusoidal_pos_embds) {
    return tf.tensor(sinusoidalTable(shape[0], shape[1]), shape);
  }
  const weight = tf.randomNormal(shape, 0, config.initializer_range, "float32", seed);
  // nn.Embedding(padding_idx=pad_token_id) rows are zeroed after the normal init (RoBERTa's positions too).
  const padded = name.endsWith("embeddings.word_embeddings.weight") ||
    (config.model_type === "roberta" && name.endsWith("embeddings.position_embeddings.weight"));
  if (!padded) return weight;
  const isPad = tf.oneHot([config.pad_token_id], shape[0]).reshape([shape[0], 1]);
  const zeroed = tf.mul(weight, tf.sub(1, isPad));
  weight.dispose();
  isPad.dispose();
  return zeroed;
}

function seedFor(seed: number, name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = mixSeed(h, name.charCodeAt(i));
  return mixSeed(seed, h);
}

/** The outputs of a head: a span head always has 2; others need ≥ 1 label (1 = regression). */
function checkedOutputs(numLabels: number, head: HeadKind): number {
  if (head === "span") return headOutputs(head, numLabels);
  if (!Number.isInteger(numLabels) || numLabels < 1) {
    throw new ApiError(400, "invalid_request", `a ${head} head needs at least 1 label, got ${numLabels}`);
  }
  return numLabels;
}

/** The family's model with `head` over ready parameters. */
export function buildClassifier(
  config: ModelConfig,
  numLabels: number,
  params: Map<string, tf.Variable>,
  head: HeadKind = "sequence",
): SequenceClassifier {
  switch (config.model_type) {
    case "bert":
      return new BertForSequenceClassification(config, numLabels, params, head);
    case "roberta":
      return new RobertaForSequenceClassification(config, numLabels, params, head);
    case "electra":
      return new ElectraForSequenceClassification(config, numLabels, params, head);
    case "distilbert":
      return new DistilBertForSequenceClassification(config, numLabels, params, head);
  }
}

/** config.json text/object or an already parsed config (parsing is idempotent). */
const asConfig = (config: unknown): ModelConfig => parseModelConfig(config);

/** A freshly initialised model with `head`; each parameter's values depend only on (seed, name). */
export function initSequenceClassifier(
  configJson: unknown,
  numLabels: number,
  seed: number,
  head: HeadKind = "sequence",
): SequenceClassifier {
  const config = asConfig(configJson);
  const outputs = checkedOutputs(numLabels, head);
  const params = new Map<string, tf.Variable>();
  for (const [name, shape] of parameterShapes(config, outputs, head)) {
    params.set(name, tf.tidy(() => tf.variable(initialValue(config, name, shape, seedFor(seed, name)))));
  }
  return buildClassifier(config, outputs, params, head);
}

export function initBertForSequenceClassification(
  config: BertConfig,
  numLabels: number,
  seed: number,
): BertForSequenceClassification {
  return initSequenceClassifier(config, numLabels, seed) as BertForSequenceClassification;
}

/**
 * Loads checkpoint tensors (HF names, any supported layout) into a model of config.json's family with `head`
 * (see the module comment for what happens to the checkpoint's own head).
 */
export function loadSequenceClassifier(
  configJson: unknown,
  tensors: Map<string, CheckpointTensor>,
  numLabels: number,
  seed = 42,
  head: HeadKind = "sequence",
): LoadedClassifier {
  const config = asConfig(configJson);
  const outputs = checkedOutputs(numLabels, head);
  const family = config.model_type;
  const expected = parameterShapes(config, outputs, head);
  const checkpointHead = headKindOfConfig(configJson) ?? headKindOfTensors(family, tensors.keys());
  const foreignHead = checkpointHead !== null && checkpointHead !== head;
  const found = new Map<string, CheckpointTensor>();
  const ignored: string[] = [];
  const mismatches: { name: string; checkpoint: number[]; expected: number[] }[] = [];
  for (const [checkpointName, tensor] of tensors) {
    const name = canonicalName(family, checkpointName);
    const shape = name === null ? undefined : expected.get(name);
    const otherHead = name !== null && foreignHead && HEAD_MODULES.test(name);
    if (name === null || shape === undefined || found.has(name) || otherHead) {
      ignored.push(checkpointName);
      continue;
    }
    if (tensor.shape.join(",") !== shape.join(",")) {
      if (isHeadParameter(family, name)) { // a head trained for another label count is replaced
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
  const layers = config.model_type === "distilbert" ? config.n_layers : config.num_hidden_layers;
  if (layers > 0 && ![...found.keys()].some((n) => LAYOUT[family].body.test(n))) {
    const example = [...expected.keys()].find((n) => LAYOUT[family].body.test(n));
    throw new ApiError(
      400,
      "invalid_file",
      `the checkpoint contains no ${
        DISPLAY[family]
      } encoder weights (expected names like '${example}', with or ` +
        `without the '${LAYOUT[family].prefix}.' prefix)`,
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
  return { model: buildClassifier(config, outputs, params, head), initialized, ignored, checkpointHead };
}

export function loadBertForSequenceClassification(
  config: BertConfig,
  tensors: Map<string, CheckpointTensor>,
  numLabels: number,
  seed = 42,
): LoadedBert {
  return loadSequenceClassifier(config, tensors, numLabels, seed) as LoadedBert;
}

/** Our parameters as checkpoint tensors (HF *ForSequenceClassification names). */
export function stateDict(model: SequenceClassifier): Map<string, CheckpointTensor> {
  const out = new Map<string, CheckpointTensor>();
  for (const [name, variable] of model.params) {
    out.set(name, { dtype: "F32", shape: [...variable.shape], data: variable.dataSync() as Float32Array });
  }
  return out;
}

export const bertStateDict: (model: BertForSequenceClassification) => Map<string, CheckpointTensor> =
  stateDict;
