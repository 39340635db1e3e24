/**
 * The two families that are BERT's encoder under another name. RoBERTa (RobertaForSequenceClassification):
 * `roberta.` prefix, position ids counted from padding_idx + 1 over the non-pad tokens with pads at
 * padding_idx (HF's create_position_ids_from_input_ids), no pooler, and the head dropout → dense → tanh →
 * dropout → out_proj. ELECTRA discriminator (ElectraForSequenceClassification): `electra.` prefix, embeddings
 * of width embedding_size projected to hidden_size by `embeddings_project` when they differ, no pooler, and
 * the head dropout → dense → GELU → dropout → out_proj.
 */
import * as tf from "@tensorflow/tfjs";
import type { BertBatch } from "./classifier.ts";
import type { ElectraConfig, RobertaConfig } from "./family_config.ts";
import {
  BertStyleClassifier,
  encoderParameterShapes,
  firstToken,
  linearShape,
  type Rates,
} from "./encoder.ts";
import { activation, dense, type Dropout } from "./layers.ts";

/** `classifier.dense` + `classifier.out_proj` (RoBERTa's and ELECTRA's classification head). */
function projectionHeadShapes(shapes: Map<string, number[]>, hidden: number, numLabels: number) {
  linearShape(shapes, "classifier.dense", hidden, hidden);
  linearShape(shapes, "classifier.out_proj", numLabels, hidden);
  return shapes;
}

export function robertaParameterShapes(config: RobertaConfig, numLabels: number): Map<string, number[]> {
  return projectionHeadShapes(encoderParameterShapes(config, "roberta"), config.hidden_size, numLabels);
}

export function electraParameterShapes(config: ElectraConfig, numLabels: number): Map<string, number[]> {
  return projectionHeadShapes(encoderParameterShapes(config, "electra"), config.hidden_size, numLabels);
}

abstract class ProjectionHeadClassifier extends BertStyleClassifier {
  protected abstract headActivation(x: tf.Tensor2D): tf.Tensor2D;

  /** dropout → dense → activation → dropout → out_proj on the first token. */
  protected head(hidden: tf.Tensor2D, b: number, s: number, drop: Dropout, rates: Rates): tf.Tensor2D {
    const x = drop(firstToken(hidden, b, s), rates.classifier);
    const y = this.headActivation(
      dense(x, this.p2("classifier.dense.weight"), this.p1("classifier.dense.bias")),
    );
    return dense(
      drop(y, rates.classifier),
      this.p2("classifier.out_proj.weight"),
      this.p1("classifier.out_proj.bias"),
    );
  }
}

export class RobertaForSequenceClassification extends ProjectionHeadClassifier {
  readonly family = "roberta" as const;
  declare readonly config: RobertaConfig;

  constructor(config: RobertaConfig, numLabels: number, params: Map<string, tf.Variable>) {
    super(config, numLabels, params, robertaParameterShapes(config, numLabels));
  }

  protected get prefix(): string {
    return "roberta";
  }

  /** Positions 0..padding_idx are never used by real tokens: the longest input is shorter by that many. */
  override get maxSequenceLength(): number {
    return this.config.max_position_embeddings - this.config.pad_token_id - 1;
  }

  /** HF create_position_ids_from_input_ids: cumsum(ids != pad) * (ids != pad) + pad, per token. */
  protected override positionEmbeddings(batch: BertBatch): tf.Tensor2D {
    const pad = this.config.pad_token_id;
    const notPad = tf.cast(tf.notEqual(batch.inputIds, pad), "int32");
    const ids = tf.add(tf.mul(tf.cumsum(notPad, 1), notPad), tf.scalar(pad, "int32"));
    return tf.gather(this.p2("roberta.embeddings.position_embeddings.weight"), tf.reshape(ids, [-1]));
  }

  protected headActivation(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tanh(x);
  }
}

export class ElectraForSequenceClassification extends ProjectionHeadClassifier {
  readonly family = "electra" as const;
  declare readonly config: ElectraConfig;

  constructor(config: ElectraConfig, numLabels: number, params: Map<string, tf.Variable>) {
    super(config, numLabels, params, electraParameterShapes(config, numLabels));
  }

  protected get prefix(): string {
    return "electra";
  }

  protected headActivation(x: tf.Tensor2D): tf.Tensor2D {
    return activation("gelu", x);
  }
}
