/**
 * DistilBERT with a task head (HF's DistilBertForSequenceClassification / DistilBertForTokenClassification /
 * DistilBertForQuestionAnswering, modeling_distilbert): embeddings (word + position, no token types →
 * LayerNorm → dropout), N transformer blocks (q_lin/k_lin/v_lin attention → out_lin → residual →
 * sa_layer_norm; ffn lin1 → activation → lin2 → dropout → residual → output_layer_norm; LayerNorm eps 1e-12),
 * then the head: sequence = first token → pre_classifier → ReLU → dropout (seq_classif_dropout) → classifier;
 * token = dropout (dropout) → classifier on every token; span = dropout (qa_dropout, default 0.1) →
 * qa_outputs on every token. With sinusoidal_pos_embds the position table is fixed in HF, so it is reported
 * in `fixedParams` for the trainer to leave alone.
 */
import * as tf from "@tensorflow/tfjs";
import type { BertBatch, ForwardOptions, HeadKind, SequenceClassifier } from "./classifier.ts";
import { checkSequenceLength, resolveRates } from "./classifier.ts";
import { attention, checkParams, firstToken, linearShape, normShape } from "./encoder.ts";
import type { DistilBertConfig } from "./family_config.ts";
import { activation, dense, type Dropout, extendedAttentionMask, layerNorm, makeDropout } from "./layers.ts";
import { headOutputs, tokenOrSpanHeadShapes, tokenOrSpanLogits } from "./task_heads.ts";
import { countParameters, disposeParameters, requireParameter } from "./params.ts";

const EPS = 1e-12;
export const DISTILBERT_POSITIONS = "distilbert.embeddings.position_embeddings.weight";

/** HF DistilBertConfig's qa_dropout default (the parsed config does not carry the key). */
const QA_DROPOUT = 0.1;

export function distilbertParameterShapes(
  config: DistilBertConfig,
  numLabels: number,
  head: HeadKind = "sequence",
): Map<string, number[]> {
  const d = config.dim;
  const shapes = new Map<string, number[]>();
  shapes.set("distilbert.embeddings.word_embeddings.weight", [config.vocab_size, d]);
  shapes.set(DISTILBERT_POSITIONS, [config.max_position_embeddings, d]);
  normShape(shapes, "distilbert.embeddings.LayerNorm", d);
  for (let i = 0; i < config.n_layers; i++) {
    const layer = `distilbert.transformer.layer.${i}`;
    for (const name of ["q_lin", "k_lin", "v_lin", "out_lin"]) {
      linearShape(shapes, `${layer}.attention.${name}`, d, d);
    }
    normShape(shapes, `${layer}.sa_layer_norm`, d);
    linearShape(shapes, `${layer}.ffn.lin1`, config.hidden_dim, d);
    linearShape(shapes, `${layer}.ffn.lin2`, d, config.hidden_dim);
    normShape(shapes, `${layer}.output_layer_norm`, d);
  }
  if (head !== "sequence") return tokenOrSpanHeadShapes(shapes, head, d, numLabels);
  linearShape(shapes, "pre_classifier", d, d);
  linearShape(shapes, "classifier", numLabels, d);
  return shapes;
}

/** HF create_sinusoidal_embeddings: sin on even columns, cos on odd ones, position / 10000^(2⌊j/2⌋/dim). */
export function sinusoidalTable(positions: number, dim: number): Float32Array {
  const out = new Float32Array(positions * dim);
  for (let pos = 0; pos < positions; pos++) {
    for (let j = 0; j < dim; j++) {
      const angle = pos / Math.pow(10000, (2 * Math.floor(j / 2)) / dim);
      out[pos * dim + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return out;
}

export class DistilBertForSequenceClassification implements SequenceClassifier {
  readonly family = "distilbert" as const;
  readonly head: HeadKind;
  readonly config: DistilBertConfig;
  readonly numLabels: number;
  readonly params: Map<string, tf.Variable>;
  readonly fixedParams: ReadonlySet<string>;

  constructor(
    config: DistilBertConfig,
    numLabels: number,
    params: Map<string, tf.Variable>,
    head: HeadKind = "sequence",
  ) {
    checkParams(
      "DistilBertForSequenceClassification",
      distilbertParameterShapes(config, numLabels, head),
      params,
    );
    this.head = head;
    this.config = config;
    this.numLabels = headOutputs(head, numLabels);
    this.params = params;
    this.fixedParams = new Set(config.sinusoidal_pos_embds ? [DISTILBERT_POSITIONS] : []);
  }

  get numLayers(): number {
    return this.config.n_layers;
  }

  get vocabSize(): number {
    return this.config.vocab_size;
  }

  get maxSequenceLength(): number {
    return this.config.max_position_embeddings;
  }

  forward(batch: BertBatch, opts: ForwardOptions): tf.Tensor2D {
    const [b, s] = batch.inputIds.shape;
    const rates = this.passRates(batch, opts);
    return tf.tidy(() => {
      const drop = makeDropout(opts.training, opts.seed);
      const hidden = this.runEncoder(batch, drop, rates);
      if (this.head !== "sequence") {
        return tokenOrSpanLogits(this.head, hidden, (p, x) => this.linear(p, x), drop, rates.classifier);
      }
      const pooled = tf.relu(this.linear("pre_classifier", firstToken(hidden, b, s)));
      return this.linear("classifier", drop(pooled, rates.classifier));
    });
  }

  /** The last hidden states [B*S, dim] (row r*S + s = token s of row r). */
  encode(batch: BertBatch, opts: ForwardOptions): tf.Tensor2D {
    const rates = this.passRates(batch, opts);
    return tf.tidy(() => this.runEncoder(batch, makeDropout(opts.training, opts.seed), rates));
  }

  /** The head's dropout: seq_classif_dropout (sequence), dropout (token) or qa_dropout (span). */
  private passRates(batch: BertBatch, opts: ForwardOptions) {
    checkSequenceLength(this, batch.inputIds.shape[1]);
    const qaDropout = (this.config as { qa_dropout?: number }).qa_dropout ?? QA_DROPOUT;
    const classifier = this.head === "sequence"
      ? this.config.seq_classif_dropout
      : this.head === "token"
      ? this.config.dropout
      : qaDropout;
    return resolveRates(opts, {
      hidden: this.config.dropout,
      attention: this.config.attention_dropout,
      classifier,
    });
  }

  /** embeddings (word + position → LayerNorm → dropout) → every transformer block: [B*S, dim]. */
  private runEncoder(
    batch: BertBatch,
    drop: Dropout,
    rates: { hidden: number; attention: number },
  ): tf.Tensor2D {
    const [b, s] = batch.inputIds.shape;
    const d = this.config.dim;
    const words = tf.gather(
      this.p2("distilbert.embeddings.word_embeddings.weight"),
      tf.reshape(batch.inputIds, [-1]),
    );
    const positions = tf.slice(this.p2(DISTILBERT_POSITIONS), [0, 0], [s, d]);
    const summed = tf.reshape(tf.add(tf.reshape(words, [b, s, d]), positions), [b * s, d]) as tf.Tensor2D;
    let hidden = drop(this.norm("distilbert.embeddings.LayerNorm", summed), rates.hidden);
    const mask = extendedAttentionMask(batch.attentionMask);
    for (let i = 0; i < this.config.n_layers; i++) hidden = this.block(i, hidden, mask, b, s, drop, rates);
    return hidden;
  }

  private block(
    i: number,
    x: tf.Tensor2D,
    mask: tf.Tensor4D,
    b: number,
    s: number,
    drop: Dropout,
    rates: { hidden: number; attention: number },
  ): tf.Tensor2D {
    const p = `distilbert.transformer.layer.${i}`;
    const dims = { b, s, heads: this.config.n_heads, hidden: this.config.dim };
    const context = attention(
      this.linear(`${p}.attention.q_lin`, x),
      this.linear(`${p}.attention.k_lin`, x),
      this.linear(`${p}.attention.v_lin`, x),
      mask,
      dims,
      drop,
      rates.attention,
    );
    const sa = this.norm(`${p}.sa_layer_norm`, tf.add(this.linear(`${p}.attention.out_lin`, context), x));
    const ffn = this.linear(
      `${p}.ffn.lin2`,
      activation(this.config.activation, this.linear(`${p}.ffn.lin1`, sa)),
    );
    return this.norm(`${p}.output_layer_norm`, tf.add(drop(ffn, rates.hidden), sa));
  }

  private linear(prefix: string, x: tf.Tensor2D): tf.Tensor2D {
    return dense(x, this.p2(`${prefix}.weight`), this.param(`${prefix}.bias`) as tf.Tensor1D);
  }

  private norm(prefix: string, x: tf.Tensor2D): tf.Tensor2D {
    return layerNorm(
      x,
      this.param(`${prefix}.weight`) as tf.Tensor1D,
      this.param(`${prefix}.bias`) as tf.Tensor1D,
      EPS,
    );
  }

  parameterCount(): number {
    return countParameters(this.params);
  }

  dispose(): void {
    disposeParameters(this.params);
  }

  private p2(name: string): tf.Tensor2D {
    return this.param(name) as tf.Tensor2D;
  }

  private param(name: string): tf.Variable {
    return requireParameter(this.params, "DistilBertForSequenceClassification", name);
  }
}
