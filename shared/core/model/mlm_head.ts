/**
 * BERT for masked language modelling (HF's BertForMaskedLM): BERT's encoder (encoder.ts, under `bert.`, no
 * pooler) and the prediction head `cls.predictions` (dense → activation → LayerNorm → decoder), whose decoder
 * weight is TIED to `bert.embeddings.word_embeddings.weight` and whose bias is `cls.predictions.bias`. Every
 * weight is a tf.Variable keyed by its Hugging Face name, shaped like PyTorch's. The head runs only on the
 * rows it is asked about (the masked positions), so a batch never pays for [batch*seq, vocab] logits.
 *
 * The encoder is BertStyleClassifier's with an identity "head", so `encode()` returns the last hidden states;
 * initialisation and checkpoint loading reuse load.ts (the encoder's names, shape checks and HF init come from
 * a BertForSequenceClassification built there, whose pooler and classifier are dropped).
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import type { BertBatch, ForwardOptions } from "./classifier.ts";
import type { BertConfig } from "./config.ts";
import { BertStyleClassifier, encoderParameterShapes, linearShape, normShape } from "./encoder.ts";
import { activation, dense, layerNorm } from "./layers.ts";
import {
  canonicalBertName,
  type CheckpointTensor,
  initBertForSequenceClassification,
  loadBertForSequenceClassification,
} from "./load.ts";

export const WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight";
/** HF names of the MLM head's own parameters (the decoder weight is the word embedding matrix). */
export const MLM_HEAD = {
  denseWeight: "cls.predictions.transform.dense.weight",
  denseBias: "cls.predictions.transform.dense.bias",
  normWeight: "cls.predictions.transform.LayerNorm.weight",
  normBias: "cls.predictions.transform.LayerNorm.bias",
  bias: "cls.predictions.bias",
} as const;

/** Every parameter of BertForMaskedLM with its PyTorch shape: the encoder's, then the head's. */
export function maskedLmParameterShapes(config: BertConfig): Map<string, number[]> {
  const shapes = encoderParameterShapes(config, "bert");
  linearShape(shapes, "cls.predictions.transform.dense", config.hidden_size, config.hidden_size);
  normShape(shapes, "cls.predictions.transform.LayerNorm", config.hidden_size);
  shapes.set(MLM_HEAD.bias, [config.vocab_size]);
  return shapes;
}

export class BertForMaskedLM extends BertStyleClassifier {
  readonly family = "bert" as const;
  declare readonly config: BertConfig;

  /** `params`: HF name → variable (no `cls.predictions.decoder.weight`: it is the word embeddings). */
  constructor(config: BertConfig, params: Map<string, tf.Variable>) {
    super(config, 0, params, maskedLmParameterShapes(config));
  }

  protected get prefix(): string {
    return "bert";
  }

  /** The identity: forward() of this class yields the encoder's hidden states (use encode()). */
  protected head(hidden: tf.Tensor2D): tf.Tensor2D {
    return hidden;
  }

  /** The encoder's last hidden states as a [batch*seq, hidden] matrix (row r*seq + s is token s of row r). */
  encode(batch: BertBatch, opts: ForwardOptions): tf.Tensor2D {
    return this.forward(batch, opts);
  }

  /**
   * Vocabulary logits [rows.length, vocab] for the hidden-state rows `rows` (indices into encode()'s
   * [batch*seq, hidden] output): BertPredictionHeadTransform, then the tied decoder plus bias.
   */
  predict(hidden: tf.Tensor2D, rows: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => {
      const picked = tf.gather(hidden, rows);
      const transformed = layerNorm(
        activation(
          this.config.hidden_act,
          dense(picked, this.p2(MLM_HEAD.denseWeight), this.p1(MLM_HEAD.denseBias)),
        ),
        this.p1(MLM_HEAD.normWeight),
        this.p1(MLM_HEAD.normBias),
        this.config.layer_norm_eps,
      );
      return dense(transformed, this.p2(WORD_EMBEDDINGS), this.p1(MLM_HEAD.bias));
    });
  }
}

export interface LoadedMaskedLm {
  model: BertForMaskedLM;
  /** Our parameter names the checkpoint did not provide (freshly initialised, e.g. the head of a base model). */
  initialized: string[];
  /** Checkpoint tensor names that were not used (pooler, a classifier, buffers). */
  ignored: string[];
}

/** The HF initial value of a head parameter: dense weight normal(0, initializer_range), LayerNorm 1, biases 0. */
function initialHeadValue(config: BertConfig, name: string, shape: number[], seed: number): tf.Tensor {
  if (name === MLM_HEAD.denseWeight) {
    return tf.randomNormal(shape, 0, config.initializer_range, "float32", seed);
  }
  return name === MLM_HEAD.normWeight ? tf.ones(shape) : tf.zeros(shape);
}

/** Keeps the encoder variables of a classifier built by load.ts and disposes its pooler and classifier. */
function takeEncoder(params: Map<string, tf.Variable>): Map<string, tf.Variable> {
  const kept = new Map<string, tf.Variable>();
  for (const [name, v] of params) {
    if (name.startsWith("bert.embeddings.") || name.startsWith("bert.encoder.")) kept.set(name, v);
    else v.dispose();
  }
  params.clear();
  return kept;
}

function addHead(
  config: BertConfig,
  params: Map<string, tf.Variable>,
  seed: number,
  tensors: Map<string, CheckpointTensor> | null,
): { initialized: string[]; used: Set<string> } {
  const initialized: string[] = [];
  const used = new Set<string>();
  const shapes = maskedLmParameterShapes(config);
  for (const name of Object.values(MLM_HEAD)) {
    const shape = shapes.get(name)!;
    // HF ties cls.predictions.decoder.bias to cls.predictions.bias; old checkpoints may hold only the former.
    const sourceName = [name, ...(name === MLM_HEAD.bias ? ["cls.predictions.decoder.bias"] : [])]
      .find((n) => tensors?.has(n));
    const tensor = sourceName === undefined ? undefined : tensors!.get(sourceName)!;
    if (tensor && tensor.shape.join(",") !== shape.join(",")) {
      throw new ApiError(
        400,
        "invalid_file",
        `checkpoint tensor ${sourceName} is [${tensor.shape}], expected [${shape}] for this config`,
      );
    }
    if (tensor) {
      used.add(sourceName!);
      params.set(name, tf.tidy(() => tf.variable(tf.tensor(tensor.data, shape, "float32"))));
    } else {
      initialized.push(name);
      params.set(name, tf.tidy(() => tf.variable(initialHeadValue(config, name, shape, seed))));
    }
  }
  return { initialized, used };
}

/** A freshly initialised BertForMaskedLM (HF init, seeded: the same seed gives the same weights). */
export function initBertForMaskedLM(config: BertConfig, seed: number): BertForMaskedLM {
  const params = takeEncoder(initBertForSequenceClassification(config, 2, seed).params);
  addHead(config, params, seed ^ 0x5eed, null);
  return new BertForMaskedLM(config, params);
}

/**
 * Loads any BERT checkpoint (BertModel, BertForMaskedLM, BertForPreTraining, BertForSequenceClassification
 * names): the encoder as load.ts maps it, the MLM head from `cls.predictions.*` when present (a fresh head
 * otherwise, e.g. for a randomly initialised or fine-tuned base). The tied decoder weight is not read.
 */
export function loadBertForMaskedLM(
  config: BertConfig,
  tensors: Map<string, CheckpointTensor>,
  seed = 42,
): LoadedMaskedLm {
  const loaded = loadBertForSequenceClassification(config, tensors, 2, seed);
  const isEncoder = (name: string | null) =>
    name !== null && (name.startsWith("bert.embeddings.") || name.startsWith("bert.encoder."));
  const encoderInitialized = loaded.initialized.filter(isEncoder);
  const params = takeEncoder(loaded.model.params);
  const head = addHead(config, params, seed ^ 0x5eed, tensors);
  const ignored = [...tensors.keys()].filter((name) =>
    !isEncoder(canonicalBertName(name)) && !head.used.has(name) && name !== "cls.predictions.decoder.weight"
  );
  return {
    model: new BertForMaskedLM(config, params),
    initialized: [...encoderInitialized, ...head.initialized],
    ignored,
  };
}

/** The checkpoint tensors HF's save_pretrained writes for BertForMaskedLM (the tied decoder weight omitted). */
export function maskedLmStateDict(model: BertForMaskedLM): Map<string, CheckpointTensor> {
  const out = new Map<string, CheckpointTensor>();
  for (const [name, variable] of model.params) {
    out.set(name, { dtype: "F32", shape: [...variable.shape], data: variable.dataSync() as Float32Array });
  }
  return out;
}
