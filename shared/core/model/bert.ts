/**
 * BERT for sequence classification (HF's BertForSequenceClassification): BERT's encoder (encoder.ts) under the
 * `bert.` prefix, then the pooler (tanh(dense(first token))) → dropout → classifier. Every weight is keyed by
 * its Hugging Face name (`bert.encoder.layer.3.attention.self.query.weight`), so checkpoint import/export is
 * a name mapping.
 */
import * as tf from "@tensorflow/tfjs";
import type { BertConfig } from "./config.ts";
import {
  BertStyleClassifier,
  encoderParameterShapes,
  firstToken,
  linearShape,
  type Rates,
} from "./encoder.ts";
import { dense, type Dropout } from "./layers.ts";

export type { BertBatch, DropoutRates, ForwardOptions } from "./classifier.ts";

/** Every parameter of BertForSequenceClassification with its PyTorch shape, in forward order. */
export function bertParameterShapes(config: BertConfig, numLabels: number): Map<string, number[]> {
  const shapes = encoderParameterShapes(config, "bert");
  linearShape(shapes, "bert.pooler.dense", config.hidden_size, config.hidden_size);
  linearShape(shapes, "classifier", numLabels, config.hidden_size);
  return shapes;
}

export class BertForSequenceClassification extends BertStyleClassifier {
  readonly family = "bert" as const;
  declare readonly config: BertConfig;

  constructor(config: BertConfig, numLabels: number, params: Map<string, tf.Variable>) {
    super(config, numLabels, params, bertParameterShapes(config, numLabels));
  }

  protected get prefix(): string {
    return "bert";
  }

  /** pooler: tanh(dense(first token)) → dropout → classifier. */
  protected head(hidden: tf.Tensor2D, b: number, s: number, drop: Dropout, rates: Rates): tf.Tensor2D {
    const pooled = tf.tanh(
      dense(firstToken(hidden, b, s), this.p2("bert.pooler.dense.weight"), this.p1("bert.pooler.dense.bias")),
    );
    return dense(drop(pooled, rates.classifier), this.p2("classifier.weight"), this.p1("classifier.bias"));
  }
}
