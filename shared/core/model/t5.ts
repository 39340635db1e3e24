/**
 * T5ForConditionalGeneration (HF modeling_t5) as a Seq2SeqModel (generate/types.ts): the shared embedding,
 * an encoder stack and a decoder stack of pre-norm blocks (T5LayerNorm → attention/feed-forward → dropout →
 * residual) with relative position biases computed by block 0 of each stack and reused by every block, and
 * the lm head (tied: the shared embedding applied to the decoder output scaled by d_model^-0.5, as HF does).
 * `forward` is teacher forcing; `encode` runs the encoder once and keeps its states (the cross-attention
 * keys/values are computed once per encoder state, lazily); `step` feeds decoder tokens after a key/value
 * cache. Weights are 2-D tf.Variables under their HF names; activations flow as [B*S, d_model] matrices.
 * Initialisation, loading and the state dict are in t5_load.ts.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import type {
  DecoderCache,
  EncoderState,
  Seq2SeqBatch,
  Seq2SeqModel,
  StepResult,
} from "../generate/types.ts";
import type { ForwardOptions } from "./classifier.ts";
import { checkParams } from "./encoder.ts";
import { type Dropout, makeDropout } from "./layers.ts";
import { type T5Config, t5ParameterShapes } from "./t5_config.ts";
import {
  causalMaskBias,
  feedForward,
  keyMaskBias,
  positionBias,
  rmsNorm,
  splitHeads,
  t5Attention,
} from "./t5_layers.ts";
import { countParameters, disposeParameters, requireParameter } from "./params.ts";

type Rates = { hidden: number; attention: number };
type KeyValues = { keys: tf.Tensor4D[]; values: tf.Tensor4D[] };

const selectRows = <T extends tf.Tensor>(t: T, rows: number[]): T =>
  tf.tidy(() => tf.gather(t, tf.tensor1d(rows, "int32"), 0)) as T;

/** The decoder's self-attention keys/values per layer, [rows, heads, length, d_kv]. */
export class T5DecoderCache implements DecoderCache {
  constructor(readonly length: number, readonly kv: KeyValues) {}

  get rows(): number {
    return this.kv.keys[0]?.shape[0] ?? 0;
  }

  select(rows: number[]): T5DecoderCache {
    return new T5DecoderCache(this.length, {
      keys: this.kv.keys.map((k) => selectRows(k, rows)),
      values: this.kv.values.map((v) => selectRows(v, rows)),
    });
  }

  dispose(): void {
    tf.dispose([...this.kv.keys, ...this.kv.values]);
  }
}

/** Encoder output [rows, S, d], its key mask [rows, S] and, once a step needed them, cross-attention K/V. */
export class T5EncoderState implements EncoderState {
  constructor(
    readonly hidden: tf.Tensor3D,
    readonly mask: tf.Tensor2D,
    public crossKv: KeyValues | null = null,
  ) {}

  get rows(): number {
    return this.hidden.shape[0];
  }

  select(rows: number[]): T5EncoderState {
    const kv = this.crossKv;
    return new T5EncoderState(
      selectRows(this.hidden, rows),
      selectRows(this.mask, rows),
      kv &&
        { keys: kv.keys.map((k) => selectRows(k, rows)), values: kv.values.map((v) => selectRows(v, rows)) },
    );
  }

  dispose(): void {
    tf.dispose([this.hidden, this.mask, ...(this.crossKv?.keys ?? []), ...(this.crossKv?.values ?? [])]);
    this.crossKv = null;
  }
}

export class T5ForConditionalGeneration implements Seq2SeqModel {
  readonly kind = "seq2seq" as const;
  readonly config: T5Config;
  readonly params: Map<string, tf.Variable>;
  readonly fixedParams: ReadonlySet<string> = new Set();
  readonly maxPositions = Infinity;

  constructor(config: T5Config, params: Map<string, tf.Variable>) {
    checkParams("T5ForConditionalGeneration", t5ParameterShapes(config), params);
    this.config = config;
    this.params = params;
  }

  get vocabSize(): number {
    return this.config.vocab_size;
  }
  get eosTokenId(): number {
    return this.config.eos_token_id;
  }
  get padTokenId(): number {
    return this.config.pad_token_id;
  }
  get decoderStartTokenId(): number {
    return this.config.decoder_start_token_id;
  }
  get numLayers(): number {
    return this.config.num_layers + this.config.num_decoder_layers;
  }

  layerOf(name: string): number {
    if (name === "shared.weight" || name.endsWith("embed_tokens.weight")) return 0;
    const encoder = /^encoder\.block\.(\d+)\./.exec(name);
    if (encoder) return Number(encoder[1]) + 1;
    const decoder = /^decoder\.block\.(\d+)\./.exec(name);
    if (decoder) return this.config.num_layers + Number(decoder[1]) + 1;
    return this.numLayers + 1;
  }

  forward(batch: Seq2SeqBatch, opts: ForwardOptions): tf.Tensor2D {
    const rates = this.rates(opts);
    return tf.tidy(() => {
      const drop = makeDropout(opts.training, opts.seed);
      const [b, t] = batch.decoderInputIds.shape;
      const encoded = this.encoderStack(batch.inputIds, batch.attentionMask, drop, rates);
      const crossKv = (layer: number) => this.crossProjection(layer, encoded, b);
      const { hidden } = this.decoderStack(
        tf.reshape(batch.decoderInputIds, [-1]) as tf.Tensor1D,
        { b, n: t, past: null, selfMask: batch.decoderAttentionMask },
        crossKv,
        keyMaskBias(batch.attentionMask),
        drop,
        rates,
      );
      return this.lmHead(hidden);
    });
  }

  encode(inputIds: number[][]): T5EncoderState {
    const width = Math.max(0, ...inputIds.map((r) => r.length));
    if (inputIds.length === 0 || width === 0) {
      throw new ApiError(400, "invalid_request", "encode needs at least one non-empty source row");
    }
    const ids = inputIds.map((r) => [...r, ...new Array(width - r.length).fill(this.padTokenId)]);
    const mask = inputIds.map((r) => Array.from({ length: width }, (_, i) => (i < r.length ? 1 : 0)));
    const maskTensor = tf.tensor2d(mask, [ids.length, width], "int32");
    const hidden = tf.tidy(() => {
      const h = this.encoderStack(
        tf.tensor2d(ids, [ids.length, width], "int32"),
        maskTensor,
        makeDropout(false, 0),
        {
          hidden: 0,
          attention: 0,
        },
      );
      return tf.reshape(h, [ids.length, width, this.config.d_model]) as tf.Tensor3D;
    });
    return new T5EncoderState(hidden, maskTensor);
  }

  step(tokens: number[][], cache: DecoderCache | null, encoder: EncoderState): StepResult {
    if (!(encoder instanceof T5EncoderState)) throw new Error("T5 step: the encoder state is not a T5 one");
    if (cache !== null && !(cache instanceof T5DecoderCache)) throw new Error("T5 step: foreign cache");
    const b = tokens.length;
    const n = tokens[0]?.length ?? 0;
    if (b !== encoder.rows || n === 0 || tokens.some((r) => r.length !== n)) {
      throw new Error(
        `T5 step: expected ${encoder.rows} rows of one non-zero length, got ${tokens.map((r) => r.length)}`,
      );
    }
    if (cache && cache.rows !== b && this.config.num_decoder_layers > 0) {
      throw new Error(`T5 step: the cache has ${cache.rows} rows, the step ${b}`);
    }
    if (!encoder.crossKv) {
      const flat = tf.reshape(encoder.hidden, [-1, this.config.d_model]) as tf.Tensor2D;
      const kv: KeyValues = { keys: [], values: [] };
      for (let j = 0; j < this.config.num_decoder_layers; j++) {
        const [k, v] = this.crossProjection(j, flat, b);
        kv.keys.push(k);
        kv.values.push(v);
      }
      flat.dispose();
      encoder.crossKv = kv;
    }
    const cross = encoder.crossKv;
    const past = cache?.length ?? 0;
    const { logits, kv } = tf.tidy(() => {
      const { hidden, kv } = this.decoderStack(
        tf.tensor1d(tokens.flat(), "int32"),
        { b, n, past: cache ? { length: past, kv: cache.kv } : null, selfMask: null },
        (j) => [cross.keys[j], cross.values[j]],
        keyMaskBias(encoder.mask),
        makeDropout(false, 0),
        { hidden: 0, attention: 0 },
      );
      const d = this.config.d_model;
      const last = tf.reshape(tf.slice(tf.reshape(hidden, [b, n, d]), [0, n - 1, 0], [b, 1, d]), [b, d]);
      return { logits: this.lmHead(last as tf.Tensor2D), kv };
    });
    const data = logits.dataSync() as Float32Array;
    logits.dispose();
    const v = this.vocabSize;
    return {
      logits: Array.from({ length: b }, (_, r) => data.slice(r * v, (r + 1) * v)),
      cache: new T5DecoderCache(past + n, kv),
    };
  }

  private rates(opts: ForwardOptions): Rates {
    const base = opts.training ? this.config.dropout_rate : 0;
    return { hidden: opts.dropout?.hidden ?? base, attention: opts.dropout?.attention ?? base };
  }

  /** The encoder stack: [B, S] ids → final-normed states [B*S, d]. */
  private encoderStack(ids: tf.Tensor2D, mask: tf.Tensor2D, drop: Dropout, rates: Rates): tf.Tensor2D {
    const [b, s] = ids.shape;
    const heads = this.config.num_heads;
    let h = drop(tf.gather(this.p2("shared.weight"), tf.reshape(ids, [-1])) as tf.Tensor2D, rates.hidden);
    let bias = keyMaskBias(mask);
    if (this.config.num_layers > 0) {
      const table = this.p2("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
      bias = tf.add(positionBias(table, 0, s, s, true, this.config.relative_attention_max_distance), bias);
    }
    for (let i = 0; i < this.config.num_layers; i++) {
      const p = `encoder.block.${i}`;
      const a = `${p}.layer.0.SelfAttention`;
      const normed = this.norm(`${p}.layer.0.layer_norm`, h);
      const proj = (m: string) =>
        splitHeads(tf.matMul(normed, this.p2(`${a}.${m}.weight`), false, true), b, heads);
      const out = t5Attention(
        proj("q"),
        proj("k"),
        proj("v"),
        bias,
        this.p2(`${a}.o.weight`),
        drop,
        rates.attention,
      );
      h = tf.add(h, drop(out, rates.hidden));
      h = this.feedForwardBlock(`${p}.layer.1`, h, drop, rates);
    }
    return drop(this.norm("encoder.final_layer_norm", h), rates.hidden);
  }

  /** Cross-attention keys/values of decoder layer j over encoder states [B*S, d]. */
  private crossProjection(j: number, encoded: tf.Tensor2D, b: number): [tf.Tensor4D, tf.Tensor4D] {
    const a = `decoder.block.${j}.layer.1.EncDecAttention`;
    return tf.tidy(() => {
      const proj = (m: string) =>
        splitHeads(tf.matMul(encoded, this.p2(`${a}.${m}.weight`), false, true), b, this.config.num_heads);
      return [proj("k"), proj("v")];
    });
  }

  /**
   * The decoder stack over n new tokens per row ([B*n] ids) after `past` cached positions (none: a fresh
   * prefix); returns the final-normed states [B*n, d] and every layer's self-attention K/V including the new
   * positions.
   */
  private decoderStack(
    ids: tf.Tensor1D,
    shape: {
      b: number;
      n: number;
      past: { length: number; kv: KeyValues } | null;
      selfMask: tf.Tensor2D | null;
    },
    crossKv: (layer: number) => [tf.Tensor4D, tf.Tensor4D],
    crossBias: tf.Tensor4D,
    drop: Dropout,
    rates: Rates,
  ): { hidden: tf.Tensor2D; kv: KeyValues } {
    const { b, n, past } = shape;
    const pastLength = past?.length ?? 0;
    const heads = this.config.num_heads;
    let h = drop(tf.gather(this.p2("shared.weight"), ids) as tf.Tensor2D, rates.hidden);
    let selfBias = causalMaskBias(pastLength, n, shape.selfMask, b);
    if (this.config.num_decoder_layers > 0) {
      const table = this.p2("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
      const rel = positionBias(
        table,
        pastLength,
        n,
        pastLength + n,
        false,
        this.config.relative_attention_max_distance,
      );
      selfBias = tf.add(rel, selfBias);
    }
    const kv: KeyValues = { keys: [], values: [] };
    for (let j = 0; j < this.config.num_decoder_layers; j++) {
      const p = `decoder.block.${j}`;
      const a = `${p}.layer.0.SelfAttention`;
      let normed = this.norm(`${p}.layer.0.layer_norm`, h);
      const proj = (name: string, m: string) =>
        splitHeads(tf.matMul(normed, this.p2(`${name}.${m}.weight`), false, true), b, heads);
      let k = proj(a, "k");
      let v = proj(a, "v");
      if (past) {
        k = tf.concat([past.kv.keys[j], k], 2);
        v = tf.concat([past.kv.values[j], v], 2);
      }
      kv.keys.push(k);
      kv.values.push(v);
      let out = t5Attention(proj(a, "q"), k, v, selfBias, this.p2(`${a}.o.weight`), drop, rates.attention);
      h = tf.add(h, drop(out, rates.hidden));
      const c = `${p}.layer.1.EncDecAttention`;
      normed = this.norm(`${p}.layer.1.layer_norm`, h);
      const [ck, cv] = crossKv(j);
      out = t5Attention(proj(c, "q"), ck, cv, crossBias, this.p2(`${c}.o.weight`), drop, rates.attention);
      h = tf.add(h, drop(out, rates.hidden));
      h = this.feedForwardBlock(`${p}.layer.2`, h, drop, rates);
    }
    return { hidden: drop(this.norm("decoder.final_layer_norm", h), rates.hidden), kv };
  }

  /** T5LayerFF: x + dropout(DenseReluDense(layer_norm(x))). */
  private feedForwardBlock(p: string, h: tf.Tensor2D, drop: Dropout, rates: Rates): tf.Tensor2D {
    const w = `${p}.DenseReluDense`;
    const weights = this.config.is_gated_act
      ? { wi0: this.p2(`${w}.wi_0.weight`), wi1: this.p2(`${w}.wi_1.weight`), wo: this.p2(`${w}.wo.weight`) }
      : { wi: this.p2(`${w}.wi.weight`), wo: this.p2(`${w}.wo.weight`) };
    const out = feedForward(
      this.norm(`${p}.layer_norm`, h),
      weights,
      this.config.dense_act_fn,
      drop,
      rates.hidden,
    );
    return tf.add(h, drop(out, rates.hidden));
  }

  /** Decoder states [N, d] → logits [N, vocab]. */
  private lmHead(hidden: tf.Tensor2D): tf.Tensor2D {
    if (!this.config.tie_word_embeddings) return tf.matMul(hidden, this.p2("lm_head.weight"), false, true);
    return tf.matMul(tf.mul(hidden, this.config.d_model ** -0.5), this.p2("shared.weight"), false, true);
  }

  private norm(prefix: string, x: tf.Tensor2D): tf.Tensor2D {
    return rmsNorm(x, this.param(`${prefix}.weight`) as tf.Tensor1D, this.config.layer_norm_epsilon);
  }

  private p2(name: string): tf.Tensor2D {
    return this.param(name) as tf.Tensor2D;
  }

  private param(name: string): tf.Variable {
    return requireParameter(this.params, "T5ForConditionalGeneration", name);
  }

  parameterCount(): number {
    return countParameters(this.params);
  }

  dispose(): void {
    disposeParameters(this.params);
  }
}
