/**
 * BERT with a task head (HF's BertForSequenceClassification / BertForTokenClassification /
 * BertForQuestionAnswering): BERT's encoder (encoder.ts) under the `bert.` prefix, then for the sequence head
 * the pooler (tanh(dense(first token))) → dropout → classifier; the token and span heads (task_heads.ts) have
 * no pooler, as HF builds them with add_pooling_layer=False. Every weight is keyed by its Hugging Face name
 * (`bert.encoder.layer.3.attention.self.query.weight`), so checkpoint import/export is a name mapping.
 */
import * as tf from "@tensorflow/tfjs";
import type { HeadKind } from "./classifier.ts";
import type { BertConfig } from "./config.ts";
import { encoderParameterShapes, firstToken, linearShape, type Rates } from "./encoder.ts";
import { type Dropout } from "./layers.ts";
import { EncoderTaskModel, tokenOrSpanHeadShapes } from "./task_heads.ts";

export type { BertBatch, DropoutRates, ForwardOptions } from "./classifier.ts";

/** Every parameter of Bert*For<head> with its PyTorch shape, in forward order. */
export function bertParameterShapes(
  config: BertConfig,
  numLabels: number,
  head: HeadKind = "sequence",
): Map<string, number[]> {
  const shapes = encoderParameterShapes(config, "bert");
  if (head !== "sequence") return tokenOrSpanHeadShapes(shapes, head, config.hidden_size, numLabels);
  linearShape(shapes, "bert.pooler.dense", config.hidden_size, config.hidden_size);
  linearShape(shapes, "classifier", numLabels, config.hidden_size);
  return shapes;
}

/** BERT with any head (the class keeps its historical name; `head` says which). */
export class BertForSequenceClassification extends EncoderTaskModel {
  readonly family = "bert" as const;
  declare readonly config: BertConfig;

  constructor(
    config: BertConfig,
    numLabels: number,
    params: Map<string, tf.Variable>,
    head: HeadKind = "sequence",
  ) {
    super(config, numLabels, params, bertParameterShapes(config, numLabels, head), head);
  }

  protected get prefix(): string {
    return "bert";
  }

  /** pooler: tanh(dense(first token)) → dropout → classifier. */
  protected sequenceHead(
    hidden: tf.Tensor2D,
    b: number,
    s: number,
    drop: Dropout,
    rates: Rates,
  ): tf.Tensor2D {
    const pooled = tf.tanh(this.linear("bert.pooler.dense", firstToken(hidden, b, s)));
    return this.linear("classifier", drop(pooled, rates.classifier));
  }
}
