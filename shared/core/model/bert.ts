/**
 * BERT for sequence classification (HF's BertForSequenceClassification), written top to bottom in forward
 * order: embeddings → encoder layers (self-attention, output, intermediate, output) → pooler → dropout →
 * classifier. Every weight is a 2-D (or 1-D) tf.Variable shaped like PyTorch's and keyed by its Hugging Face
 * name (`bert.encoder.layer.3.attention.self.query.weight`), so checkpoint import/export is a name mapping.
 * Activations flow as [batch*seq, hidden] matrices; only attention reshapes to 4-D.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import type { BertConfig } from "./config.ts";
import { activation, dense, type Dropout, extendedAttentionMask, layerNorm, makeDropout } from "./layers.ts";

export interface BertBatch {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  tokenTypeIds: tf.Tensor2D;
}

/** Dropout probabilities for one forward pass; unset fields come from the config. */
export interface DropoutRates {
  hidden?: number;
  attention?: number;
  classifier?: number;
}

export interface ForwardOptions {
  training: boolean;
  /** Seeds this pass's dropout masks (training only); unseeded dropout is random. */
  seed?: number;
  dropout?: DropoutRates;
}

/** Every parameter of BertForSequenceClassification with its PyTorch shape, in forward order. */
export function bertParameterShapes(config: BertConfig, numLabels: number): Map<string, number[]> {
  const h = config.hidden_size;
  const shapes = new Map<string, number[]>();
  const linear = (prefix: string, out: number, inp: number) => {
    shapes.set(`${prefix}.weight`, [out, inp]);
    shapes.set(`${prefix}.bias`, [out]);
  };
  const norm = (prefix: string) => {
    shapes.set(`${prefix}.weight`, [h]);
    shapes.set(`${prefix}.bias`, [h]);
  };
  shapes.set("bert.embeddings.word_embeddings.weight", [config.vocab_size, h]);
  shapes.set("bert.embeddings.position_embeddings.weight", [config.max_position_embeddings, h]);
  shapes.set("bert.embeddings.token_type_embeddings.weight", [config.type_vocab_size, h]);
  norm("bert.embeddings.LayerNorm");
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const layer = `bert.encoder.layer.${i}`;
    linear(`${layer}.attention.self.query`, h, h);
    linear(`${layer}.attention.self.key`, h, h);
    linear(`${layer}.attention.self.value`, h, h);
    linear(`${layer}.attention.output.dense`, h, h);
    norm(`${layer}.attention.output.LayerNorm`);
    linear(`${layer}.intermediate.dense`, config.intermediate_size, h);
    linear(`${layer}.output.dense`, h, config.intermediate_size);
    norm(`${layer}.output.LayerNorm`);
  }
  linear("bert.pooler.dense", h, h);
  linear("classifier", numLabels, h);
  return shapes;
}

export class BertForSequenceClassification {
  readonly config: BertConfig;
  readonly numLabels: number;
  /** HF parameter name → variable. */
  readonly params: Map<string, tf.Variable>;

  constructor(config: BertConfig, numLabels: number, params: Map<string, tf.Variable>) {
    const expected = bertParameterShapes(config, numLabels);
    for (const [name, shape] of expected) {
      const v = params.get(name);
      if (!v) throw new Error(`BertForSequenceClassification: missing parameter ${name}`);
      if (v.shape.join(",") !== shape.join(",")) {
        throw new Error(`BertForSequenceClassification: ${name} has shape [${v.shape}], expected [${shape}]`);
      }
    }
    this.config = config;
    this.numLabels = numLabels;
    this.params = params;
  }

  /** Logits [batch, numLabels]. */
  forward(batch: BertBatch, opts: ForwardOptions): tf.Tensor2D {
    const [batchSize, seqLength] = batch.inputIds.shape;
    if (seqLength > this.config.max_position_embeddings) {
      throw new ApiError(
        400,
        "invalid_request",
        `sequence length ${seqLength} exceeds the model's max_position_embeddings ` +
          `${this.config.max_position_embeddings}`,
      );
    }
    const rates = {
      hidden: opts.dropout?.hidden ?? this.config.hidden_dropout_prob,
      attention: opts.dropout?.attention ?? this.config.attention_probs_dropout_prob,
      classifier: opts.dropout?.classifier ?? this.config.classifier_dropout ??
        opts.dropout?.hidden ?? this.config.hidden_dropout_prob,
    };
    return tf.tidy(() => {
      const drop = makeDropout(opts.training, opts.seed);
      let hidden = this.embeddings(batch, drop, rates.hidden);
      const mask = extendedAttentionMask(batch.attentionMask);
      for (let i = 0; i < this.config.num_hidden_layers; i++) {
        hidden = this.encoderLayer(i, hidden, mask, batchSize, seqLength, drop, rates);
      }
      const pooled = this.pooler(hidden, batchSize, seqLength);
      return dense(drop(pooled, rates.classifier), this.p2("classifier.weight"), this.p1("classifier.bias"));
    });
  }

  /** word + position + token-type embeddings → LayerNorm → dropout; returns [B*S, H]. */
  private embeddings(batch: BertBatch, drop: Dropout, rate: number): tf.Tensor2D {
    const [b, s] = batch.inputIds.shape;
    const h = this.config.hidden_size;
    const words = tf.gather(
      this.p2("bert.embeddings.word_embeddings.weight"),
      tf.reshape(batch.inputIds, [-1]),
    );
    const types = tf.gather(
      this.p2("bert.embeddings.token_type_embeddings.weight"),
      tf.reshape(batch.tokenTypeIds, [-1]),
    );
    const positions = tf.slice(this.p2("bert.embeddings.position_embeddings.weight"), [0, 0], [s, h]);
    const summed = tf.add(tf.reshape(tf.add(words, types), [b, s, h]), positions);
    const normed = layerNorm(
      tf.reshape(summed, [b * s, h]),
      this.p1("bert.embeddings.LayerNorm.weight"),
      this.p1("bert.embeddings.LayerNorm.bias"),
      this.config.layer_norm_eps,
    );
    return drop(normed, rate);
  }

  private encoderLayer(
    i: number,
    x: tf.Tensor2D,
    mask: tf.Tensor4D,
    b: number,
    s: number,
    drop: Dropout,
    rates: { hidden: number; attention: number },
  ): tf.Tensor2D {
    const prefix = `bert.encoder.layer.${i}`;
    // attention.self
    const context = this.selfAttention(`${prefix}.attention.self`, x, mask, b, s, drop, rates.attention);
    // attention.output: dense → dropout → residual → LayerNorm
    const attnOut = this.denseResidualNorm(`${prefix}.attention.output`, context, x, drop, rates.hidden);
    // intermediate: dense → activation
    const intermediate = activation(
      this.config.hidden_act,
      dense(
        attnOut,
        this.p2(`${prefix}.intermediate.dense.weight`),
        this.p1(`${prefix}.intermediate.dense.bias`),
      ),
    );
    // output: dense → dropout → residual → LayerNorm
    return this.denseResidualNorm(`${prefix}.output`, intermediate, attnOut, drop, rates.hidden);
  }

  private selfAttention(
    prefix: string,
    x: tf.Tensor2D,
    mask: tf.Tensor4D,
    b: number,
    s: number,
    drop: Dropout,
    rate: number,
  ): tf.Tensor2D {
    const heads = this.config.num_attention_heads;
    const headSize = this.config.hidden_size / heads;
    const project = (name: string) => {
      const y = dense(x, this.p2(`${prefix}.${name}.weight`), this.p1(`${prefix}.${name}.bias`));
      return tf.transpose(tf.reshape(y, [b, s, heads, headSize]), [0, 2, 1, 3]); // [B, heads, S, d]
    };
    const query = project("query");
    const key = project("key");
    const value = project("value");
    const scores = tf.add(tf.mul(tf.matMul(query, key, false, true), 1 / Math.sqrt(headSize)), mask);
    const probs = drop(tf.softmax(scores, -1), rate);
    const context = tf.matMul(probs, value); // [B, heads, S, d]
    return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [b * s, this.config.hidden_size]);
  }

  /** BertSelfOutput / BertOutput: LayerNorm(dropout(dense(x)) + residual). */
  private denseResidualNorm(
    prefix: string,
    x: tf.Tensor2D,
    residual: tf.Tensor2D,
    drop: Dropout,
    rate: number,
  ): tf.Tensor2D {
    const y = drop(dense(x, this.p2(`${prefix}.dense.weight`), this.p1(`${prefix}.dense.bias`)), rate);
    return layerNorm(
      tf.add(y, residual),
      this.p1(`${prefix}.LayerNorm.weight`),
      this.p1(`${prefix}.LayerNorm.bias`),
      this.config.layer_norm_eps,
    );
  }

  /** tanh(dense(hidden state of the first token)). */
  private pooler(hidden: tf.Tensor2D, b: number, s: number): tf.Tensor2D {
    const h = this.config.hidden_size;
    const first = tf.reshape(tf.slice(tf.reshape(hidden, [b, s, h]), [0, 0, 0], [b, 1, h]), [
      b,
      h,
    ]) as tf.Tensor2D;
    return tf.tanh(dense(first, this.p2("bert.pooler.dense.weight"), this.p1("bert.pooler.dense.bias")));
  }

  parameterCount(): number {
    let total = 0;
    for (const v of this.params.values()) total += v.size;
    return total;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }

  private p2(name: string): tf.Tensor2D {
    return this.param(name) as tf.Tensor2D;
  }

  private p1(name: string): tf.Tensor1D {
    return this.param(name) as tf.Tensor1D;
  }

  private param(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`BertForSequenceClassification: no parameter ${name} (disposed?)`);
    return v;
  }
}
