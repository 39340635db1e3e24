/**
 * The two families that are BERT's encoder under another name, each with any task head (the token and span
 * heads are task_heads.ts'; the sequence heads are below). RoBERTa (Roberta*): `roberta.` prefix, position
 * ids counted from padding_idx + 1 over the non-pad tokens with pads at padding_idx (HF's
 * create_position_ids_from_input_ids), no pooler, and the head dropout → dense → tanh → dropout → out_proj.
 * ELECTRA discriminator (Electra*): `electra.` prefix, embeddings of width embedding_size projected to
 * hidden_size by `embeddings_project` when they differ, no pooler, and the head dropout → dense → GELU →
 * dropout → out_proj.
 */
import * as tf from "@tensorflow/tfjs";
import type { BertBatch, HeadKind } from "./classifier.ts";
import type { ElectraConfig, RobertaConfig } from "./family_config.ts";
import { encoderParameterShapes, firstToken, linearShape, type Rates } from "./encoder.ts";
import { activation, type Dropout } from "./layers.ts";
import { EncoderTaskModel, tokenOrSpanHeadShapes } from "./task_heads.ts";

/** The encoder's shapes, then `classifier.dense` + `classifier.out_proj` (sequence) or a token/span head. */
function withHeadShapes(
  shapes: Map<string, number[]>,
  hidden: number,
  numLabels: number,
  head: HeadKind,
): Map<string, number[]> {
  if (head !== "sequence") return tokenOrSpanHeadShapes(shapes, head, hidden, numLabels);
  linearShape(shapes, "classifier.dense", hidden, hidden);
  linearShape(shapes, "classifier.out_proj", numLabels, hidden);
  return shapes;
}

export function robertaParameterShapes(
  config: RobertaConfig,
  numLabels: number,
  head: HeadKind = "sequence",
): Map<string, number[]> {
  return withHeadShapes(encoderParameterShapes(config, "roberta"), config.hidden_size, numLabels, head);
}

export function electraParameterShapes(
  config: ElectraConfig,
  numLabels: number,
  head: HeadKind = "sequence",
): Map<string, number[]> {
  return withHeadShapes(encoderParameterShapes(config, "electra"), config.hidden_size, numLabels, head);
}

abstract class ProjectionHeadModel extends EncoderTaskModel {
  protected abstract headActivation(x: tf.Tensor2D): tf.Tensor2D;

  /** dropout → dense → activation → dropout → out_proj on the first token. */
  protected sequenceHead(
    hidden: tf.Tensor2D,
    b: number,
    s: number,
    drop: Dropout,
    rates: Rates,
  ): tf.Tensor2D {
    const x = drop(firstToken(hidden, b, s), rates.classifier);
    const y = this.headActivation(this.linear("classifier.dense", x));
    return this.linear("classifier.out_proj", drop(y, rates.classifier));
  }
}

export class RobertaForSequenceClassification extends ProjectionHeadModel {
  readonly family = "roberta" as const;
  declare readonly config: RobertaConfig;

  constructor(
    config: RobertaConfig,
    numLabels: number,
    params: Map<string, tf.Variable>,
    head: HeadKind = "sequence",
  ) {
    super(config, numLabels, params, robertaParameterShapes(config, numLabels, head), head);
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

export class ElectraForSequenceClassification extends ProjectionHeadModel {
  readonly family = "electra" as const;
  declare readonly config: ElectraConfig;

  constructor(
    config: ElectraConfig,
    numLabels: number,
    params: Map<string, tf.Variable>,
    head: HeadKind = "sequence",
  ) {
    super(config, numLabels, params, electraParameterShapes(config, numLabels, head), head);
  }

  protected get prefix(): string {
    return "electra";
  }

  protected headActivation(x: tf.Tensor2D): tf.Tensor2D {
    return activation("gelu", x);
  }
}
