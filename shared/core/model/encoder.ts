/**
 * BERT's encoder, shared by the families built on it (BERT, RoBERTa, ELECTRA): embeddings (word + position +
 * token type → LayerNorm → dropout, then ELECTRA's projection when its embedding width differs from the
 * hidden size) → N layers of self-attention / output / intermediate / output, written top to bottom in
 * forward order as HF's modeling_bert does. Subclasses name the parameter prefix (`bert.`, `roberta.`,
 * `electra.`), choose the position ids and add a head (task_heads.ts: sequence / token / span; mlm_head.ts:
 * masked LM). Every weight is a 2-D (or 1-D) tf.Variable shaped like PyTorch's and keyed by its HF name;
 * activations flow as [batch*seq, hidden] matrices and only attention reshapes to 4-D.
 */
import * as tf from "@tensorflow/tfjs";
import type { BertBatch, ForwardOptions, ModelFamily } from "./classifier.ts";
import { checkSequenceLength, resolveRates } from "./classifier.ts";
import type { EncoderConfig } from "./config.ts";
import { activation, dense, type Dropout, extendedAttentionMask, layerNorm, makeDropout } from "./layers.ts";
import { countParameters, disposeParameters, requireParameter } from "./params.ts";

export type Rates = { hidden: number; attention: number; classifier: number };

/** Adds a Linear's (`prefix.weight` [out, in], `prefix.bias` [out]) shapes. */
export function linearShape(shapes: Map<string, number[]>, prefix: string, out: number, inp: number): void {
  shapes.set(`${prefix}.weight`, [out, inp]);
  shapes.set(`${prefix}.bias`, [out]);
}

/** Adds a LayerNorm's shapes. */
export function normShape(shapes: Map<string, number[]>, prefix: string, width: number): void {
  shapes.set(`${prefix}.weight`, [width]);
  shapes.set(`${prefix}.bias`, [width]);
}

/** Embeddings and encoder layers under `prefix` (e.g. "bert"), in forward order. */
export function encoderParameterShapes(config: EncoderConfig, prefix: string): Map<string, number[]> {
  const h = config.hidden_size;
  const e = config.embedding_size ?? h;
  const shapes = new Map<string, number[]>();
  shapes.set(`${prefix}.embeddings.word_embeddings.weight`, [config.vocab_size, e]);
  shapes.set(`${prefix}.embeddings.position_embeddings.weight`, [config.max_position_embeddings, e]);
  shapes.set(`${prefix}.embeddings.token_type_embeddings.weight`, [config.type_vocab_size, e]);
  normShape(shapes, `${prefix}.embeddings.LayerNorm`, e);
  if (e !== h) linearShape(shapes, `${prefix}.embeddings_project`, h, e);
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const layer = `${prefix}.encoder.layer.${i}`;
    linearShape(shapes, `${layer}.attention.self.query`, h, h);
    linearShape(shapes, `${layer}.attention.self.key`, h, h);
    linearShape(shapes, `${layer}.attention.self.value`, h, h);
    linearShape(shapes, `${layer}.attention.output.dense`, h, h);
    normShape(shapes, `${layer}.attention.output.LayerNorm`, h);
    linearShape(shapes, `${layer}.intermediate.dense`, config.intermediate_size, h);
    linearShape(shapes, `${layer}.output.dense`, h, config.intermediate_size);
    normShape(shapes, `${layer}.output.LayerNorm`, h);
  }
  return shapes;
}

/** Checks a parameter map against the expected shapes (a programming error if it does not match). */
export function checkParams(
  className: string,
  expected: Map<string, number[]>,
  params: Map<string, tf.Variable>,
): void {
  for (const [name, shape] of expected) {
    const v = params.get(name);
    if (!v) throw new Error(`${className}: missing parameter ${name}`);
    if (v.shape.join(",") !== shape.join(",")) {
      throw new Error(`${className}: ${name} has shape [${v.shape}], expected [${shape}]`);
    }
  }
}

/** Multi-head scaled dot-product attention over [B*S, H] projections; returns the context [B*S, H]. */
export function attention(
  query: tf.Tensor2D,
  key: tf.Tensor2D,
  value: tf.Tensor2D,
  mask: tf.Tensor4D,
  dims: { b: number; s: number; heads: number; hidden: number },
  drop: Dropout,
  rate: number,
): tf.Tensor2D {
  const { b, s, heads, hidden } = dims;
  const headSize = hidden / heads;
  const split = (y: tf.Tensor2D) => tf.transpose(tf.reshape(y, [b, s, heads, headSize]), [0, 2, 1, 3]);
  const scores = tf.add(
    tf.mul(tf.matMul(split(query), split(key), false, true), 1 / Math.sqrt(headSize)),
    mask,
  );
  const probs = drop(tf.softmax(scores, -1), rate);
  const context = tf.matMul(probs, split(value)); // [B, heads, S, d]
  return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [b * s, hidden]);
}

/** The hidden state of each sequence's first token: [B*S, H] → [B, H]. */
export function firstToken(hidden: tf.Tensor2D, b: number, s: number): tf.Tensor2D {
  const h = hidden.shape[1];
  return tf.reshape(tf.slice(tf.reshape(hidden, [b, s, h]), [0, 0, 0], [b, 1, h]), [b, h]);
}

/**
 * The encoder part of every BERT-style model: parameters, embeddings and layers (`runEncoder`: the last
 * hidden states). Subclasses add a head: BertStyleClassifier (a head method, used by BertForMaskedLM) or
 * the task models of task_heads.ts (sequence / token / span heads).
 */
export abstract class BertStyleEncoder {
  abstract readonly family: ModelFamily;
  readonly config: EncoderConfig;
  readonly numLabels: number;
  readonly params: Map<string, tf.Variable>;
  readonly fixedParams: ReadonlySet<string> = new Set();

  constructor(
    config: EncoderConfig,
    numLabels: number,
    params: Map<string, tf.Variable>,
    expected: Map<string, number[]>,
  ) {
    checkParams(new.target.name, expected, params);
    this.config = config;
    this.numLabels = numLabels;
    this.params = params;
  }

  /** The HF parameter prefix of the encoder ("bert", "roberta", "electra"). */
  protected abstract get prefix(): string;

  get numLayers(): number {
    return this.config.num_hidden_layers;
  }

  get vocabSize(): number {
    return this.config.vocab_size;
  }

  get maxSequenceLength(): number {
    return this.config.max_position_embeddings;
  }

  /** The dropout rates of one pass (after checking the batch length). */
  protected passRates(batch: BertBatch, opts: ForwardOptions): Rates {
    checkSequenceLength(this, batch.inputIds.shape[1]);
    return resolveRates(opts, {
      hidden: this.config.hidden_dropout_prob,
      attention: this.config.attention_probs_dropout_prob,
      classifier: this.config.classifier_dropout,
    });
  }

  /** Embeddings → every encoder layer: the last hidden states [B*S, H] (call inside tf.tidy). */
  protected runEncoder(batch: BertBatch, drop: Dropout, rates: Rates): tf.Tensor2D {
    const [batchSize, seqLength] = batch.inputIds.shape;
    let hidden = this.embeddings(batch, drop, rates.hidden);
    const mask = extendedAttentionMask(batch.attentionMask);
    for (let i = 0; i < this.config.num_hidden_layers; i++) {
      hidden = this.encoderLayer(i, hidden, mask, batchSize, seqLength, drop, rates);
    }
    return hidden;
  }

  /** Position embeddings, per token [B*S, E] or shared by every row [S, E]: rows 0..S-1 unless overridden. */
  protected positionEmbeddings(batch: BertBatch): tf.Tensor2D {
    const s = batch.inputIds.shape[1];
    const table = this.p2(`${this.prefix}.embeddings.position_embeddings.weight`);
    return tf.slice(table, [0, 0], [s, table.shape[1]]);
  }

  /** word + position + token-type embeddings → LayerNorm → dropout (→ projection); returns [B*S, H]. */
  private embeddings(batch: BertBatch, drop: Dropout, rate: number): tf.Tensor2D {
    const [b, s] = batch.inputIds.shape;
    const p = `${this.prefix}.embeddings`;
    const e = this.p2(`${p}.word_embeddings.weight`).shape[1];
    const words = tf.gather(this.p2(`${p}.word_embeddings.weight`), tf.reshape(batch.inputIds, [-1]));
    // A one-row type table (RoBERTa, some BERT variants) has only segment 0: pair inputs map onto it, as HF
    // tokenizers of such models produce all-zero token type ids.
    const typeIds = this.config.type_vocab_size > 1
      ? tf.reshape(batch.tokenTypeIds, [-1])
      : tf.zeros([b * s], "int32");
    const types = tf.gather(this.p2(`${p}.token_type_embeddings.weight`), typeIds);
    const positions = this.positionEmbeddings(batch);
    const tokens = tf.add(words, types);
    // Per-token positions ([B*S, E], e.g. RoBERTa's) add directly; a shared [S, E] table broadcasts over B.
    const summed: tf.Tensor2D = positions.shape[0] === b * s
      ? tf.add(tokens, positions)
      : tf.reshape(tf.add(tf.reshape(tokens, [b, s, e]), positions), [b * s, e]);
    const normed = layerNorm(
      summed,
      this.p1(`${p}.LayerNorm.weight`),
      this.p1(`${p}.LayerNorm.bias`),
      this.config.layer_norm_eps,
    );
    const dropped = drop(normed, rate);
    const project = `${this.prefix}.embeddings_project`;
    if (!this.params.has(`${project}.weight`)) return dropped;
    return dense(dropped, this.p2(`${project}.weight`), this.p1(`${project}.bias`));
  }

  private encoderLayer(
    i: number,
    x: tf.Tensor2D,
    mask: tf.Tensor4D,
    b: number,
    s: number,
    drop: Dropout,
    rates: Rates,
  ): tf.Tensor2D {
    const prefix = `${this.prefix}.encoder.layer.${i}`;
    const self = `${prefix}.attention.self`;
    const project = (name: string) =>
      dense(x, this.p2(`${self}.${name}.weight`), this.p1(`${self}.${name}.bias`));
    const dims = { b, s, heads: this.config.num_attention_heads, hidden: this.config.hidden_size };
    const context = attention(
      project("query"),
      project("key"),
      project("value"),
      mask,
      dims,
      drop,
      rates.attention,
    );
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

  parameterCount(): number {
    return countParameters(this.params);
  }

  dispose(): void {
    disposeParameters(this.params);
  }

  protected p2(name: string): tf.Tensor2D {
    return this.param(name) as tf.Tensor2D;
  }

  protected p1(name: string): tf.Tensor1D {
    return this.param(name) as tf.Tensor1D;
  }

  private param(name: string): tf.Variable {
    return requireParameter(this.params, this.constructor.name, name);
  }
}

/** An encoder with one head method; forward = head(encoder). BertForMaskedLM builds on it. */
export abstract class BertStyleClassifier extends BertStyleEncoder {
  /** The head on the encoder output [B*S, H]. */
  protected abstract head(
    hidden: tf.Tensor2D,
    b: number,
    s: number,
    drop: Dropout,
    rates: Rates,
  ): tf.Tensor2D;

  forward(batch: BertBatch, opts: ForwardOptions): tf.Tensor2D {
    const [b, s] = batch.inputIds.shape;
    const rates = this.passRates(batch, opts);
    return tf.tidy(() => {
      const drop = makeDropout(opts.training, opts.seed);
      return this.head(this.runEncoder(batch, drop, rates), b, s, drop, rates);
    });
  }
}
