/**
 * The pieces of the BART-family forward pass (HF modeling_mbart / modeling_marian), as plain functions of
 * tensors over a parameter lookup: the parameter shapes under their HF names, the Marian sinusoidal table
 * (sin in the first half of each row, cos in the second), token + position embeddings, multi-head attention
 * over pre-split keys/values (so the decoder can reuse cached ones), and one encoder / decoder layer in
 * either layout — mBART pre-norm (LayerNorm before attention and FFN) or Marian post-norm (LayerNorm after
 * each residual). Activations flow as [rows*len, d_model] matrices; only attention works on
 * [rows, heads, len, head_dim]. q is scaled by head_dim^-0.5 after its projection, as in HF.
 */
import * as tf from "@tensorflow/tfjs";
import type { BartActivation, BartConfig } from "./bart_config.ts";
import { linearShape, normShape } from "./encoder.ts";
import { activation as bertActivation, dense, type Dropout, layerNorm } from "./layers.ts";

export const LN_EPS = 1e-5;
export const SHARED = "model.shared.weight";
export const FINAL_LOGITS_BIAS = "final_logits_bias";
export type Side = "encoder" | "decoder";
export const positionsName = (side: Side) => `model.${side}.embed_positions.weight`;

/** mBART's learned position table has 2 extra rows (HF's offset); Marian's starts at position 0. */
export const positionOffset = (config: BartConfig) => config.model_type === "mbart" ? 2 : 0;

/** Every parameter (and the fixed final_logits_bias buffer) with its PyTorch shape, in forward order. */
export function bartParameterShapes(config: BartConfig): Map<string, number[]> {
  const d = config.d_model;
  const pre = config.model_type === "mbart";
  const shapes = new Map<string, number[]>();
  shapes.set(SHARED, [config.vocab_size, d]);
  for (const side of ["encoder", "decoder"] as const) {
    shapes.set(positionsName(side), [config.max_position_embeddings + positionOffset(config), d]);
    if (pre) normShape(shapes, `model.${side}.layernorm_embedding`, d);
    const ffn = config[`${side}_ffn_dim`];
    for (let i = 0; i < config[`${side}_layers`]; i++) {
      const p = `model.${side}.layers.${i}`;
      for (const attn of side === "decoder" ? ["self_attn", "encoder_attn"] : ["self_attn"]) {
        for (const proj of ["q_proj", "k_proj", "v_proj", "out_proj"]) {
          linearShape(shapes, `${p}.${attn}.${proj}`, d, d);
        }
        normShape(shapes, `${p}.${attn}_layer_norm`, d);
      }
      linearShape(shapes, `${p}.fc1`, ffn, d);
      linearShape(shapes, `${p}.fc2`, d, ffn);
      normShape(shapes, `${p}.final_layer_norm`, d);
    }
    if (pre) normShape(shapes, `model.${side}.layer_norm`, d);
  }
  shapes.set(FINAL_LOGITS_BIAS, [1, config.vocab_size]);
  return shapes;
}

/** HF MarianSinusoidalPositionalEmbedding._init_weight (float64 angles, then float32). */
export function marianSinusoidalTable(positions: number, dim: number): Float32Array {
  const out = new Float32Array(positions * dim);
  const sentinel = dim % 2 === 0 ? dim / 2 : Math.floor(dim / 2) + 1;
  for (let pos = 0; pos < positions; pos++) {
    for (let j = 0; j < dim; j++) {
      const angle = pos / Math.pow(10000, (2 * Math.floor(j / 2)) / dim);
      // even columns j = 2k → sin at k; odd columns j = 2k+1 → cos at sentinel + k
      const column = j % 2 === 0 ? j / 2 : sentinel + (j - 1) / 2;
      out[pos * dim + column] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return out;
}

export function bartActivation(name: BartActivation, x: tf.Tensor2D): tf.Tensor2D {
  if (name === "swish" || name === "silu") return tf.mul(x, tf.sigmoid(x));
  return bertActivation(name, x);
}

/** Parameter lookup (throws on a missing or disposed name). */
export type Params = (name: string) => tf.Tensor;

export interface Rates {
  hidden: number;
  attention: number;
  activation: number;
}

export interface LayerContext {
  config: BartConfig;
  p: Params;
  drop: Dropout;
  rates: Rates;
}

/** Keys and values of one attention, [rows, heads, len, head_dim]. */
export interface KeyValue {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
}

export function linear(p: Params, prefix: string, x: tf.Tensor2D): tf.Tensor2D {
  return dense(x, p(`${prefix}.weight`) as tf.Tensor2D, p(`${prefix}.bias`) as tf.Tensor1D);
}

export function norm(p: Params, prefix: string, x: tf.Tensor2D): tf.Tensor2D {
  return layerNorm(x, p(`${prefix}.weight`) as tf.Tensor1D, p(`${prefix}.bias`) as tf.Tensor1D, LN_EPS);
}

/** [rows*len, d] → [rows, heads, len, head_dim]. */
export function splitHeads(x: tf.Tensor2D, rows: number, heads: number): tf.Tensor4D {
  const [n, d] = x.shape;
  return tf.transpose(tf.reshape(x, [rows, n / rows, heads, d / heads]), [0, 2, 1, 3]);
}

/** k_proj / v_proj of `x` ([rows*len, d]), split into heads. */
export function projectKeyValue(
  p: Params,
  prefix: string,
  x: tf.Tensor2D,
  rows: number,
  heads: number,
): KeyValue {
  return {
    k: splitHeads(linear(p, `${prefix}.k_proj`, x), rows, heads),
    v: splitHeads(linear(p, `${prefix}.v_proj`, x), rows, heads),
  };
}

/** softmax(q·kᵀ + mask)·v → out_proj, for queries [rows*T, d] against `kv`; returns [rows*T, d]. */
export function attend(
  ctx: LayerContext,
  prefix: string,
  query: tf.Tensor2D,
  kv: KeyValue,
  mask: tf.Tensor4D,
  heads: number,
): tf.Tensor2D {
  const rows = kv.k.shape[0];
  const d = query.shape[1];
  const q = splitHeads(
    tf.mul(linear(ctx.p, `${prefix}.q_proj`, query), Math.pow(d / heads, -0.5)),
    rows,
    heads,
  );
  const probs = ctx.drop(tf.softmax(tf.add(tf.matMul(q, kv.k, false, true), mask), -1), ctx.rates.attention);
  const context = tf.reshape(tf.transpose(tf.matMul(probs, kv.v), [0, 2, 1, 3]), [query.shape[0], d]);
  return linear(ctx.p, `${prefix}.out_proj`, context as tf.Tensor2D);
}

/** fc1 → activation → activation dropout → fc2. */
function feedForward(ctx: LayerContext, prefix: string, x: tf.Tensor2D): tf.Tensor2D {
  const inner = ctx.drop(
    bartActivation(ctx.config.activation_function, linear(ctx.p, `${prefix}.fc1`, x)),
    ctx.rates.activation,
  );
  return linear(ctx.p, `${prefix}.fc2`, inner);
}

/**
 * A residual block: pre-norm `x + drop(f(LN(x)))` (mBART) or post-norm `LN(x + drop(f(x)))` (Marian).
 */
function residual(
  ctx: LayerContext,
  normName: string,
  x: tf.Tensor2D,
  f: (y: tf.Tensor2D) => tf.Tensor2D,
): tf.Tensor2D {
  if (ctx.config.model_type === "mbart") {
    return tf.add(x, ctx.drop(f(norm(ctx.p, normName, x)), ctx.rates.hidden));
  }
  return norm(ctx.p, normName, tf.add(x, ctx.drop(f(x), ctx.rates.hidden)));
}

/** Token embeddings × embed_scale + positions past..past+len-1 (→ layernorm_embedding for mBART) → dropout. */
export function embed(ctx: LayerContext, side: Side, ids: tf.Tensor2D, past: number): tf.Tensor2D {
  const [rows, len] = ids.shape;
  const d = ctx.config.d_model;
  const scale = ctx.config.scale_embedding ? Math.sqrt(d) : 1;
  const words = tf.mul(tf.gather(ctx.p(SHARED) as tf.Tensor2D, tf.reshape(ids, [-1])), scale);
  const table = ctx.p(positionsName(side)) as tf.Tensor2D;
  const positions = tf.slice(table, [past + positionOffset(ctx.config), 0], [len, d]);
  let hidden = tf.reshape(tf.add(tf.reshape(words, [rows, len, d]), positions), [
    rows * len,
    d,
  ]) as tf.Tensor2D;
  if (ctx.config.model_type === "mbart") hidden = norm(ctx.p, `model.${side}.layernorm_embedding`, hidden);
  return ctx.drop(hidden, ctx.rates.hidden);
}

/** One encoder layer over [rows*S, d] with the additive padding mask [rows, 1, 1, S]. */
export function encoderLayer(
  ctx: LayerContext,
  i: number,
  x: tf.Tensor2D,
  mask: tf.Tensor4D,
  rows: number,
): tf.Tensor2D {
  const p = `model.encoder.layers.${i}`;
  const heads = ctx.config.encoder_attention_heads;
  const attended = residual(
    ctx,
    `${p}.self_attn_layer_norm`,
    x,
    (y) =>
      attend(ctx, `${p}.self_attn`, y, projectKeyValue(ctx.p, `${p}.self_attn`, y, rows, heads), mask, heads),
  );
  return residual(ctx, `${p}.final_layer_norm`, attended, (y) => feedForward(ctx, p, y));
}

/**
 * One decoder layer over the new positions [rows*T, d]: self-attention over `past` keys/values (or none)
 * followed by the new ones, cross-attention over the encoder's `cross` keys/values, FFN. Returns the output
 * and the self-attention keys/values extended with the new positions.
 */
export function decoderLayer(
  ctx: LayerContext,
  j: number,
  x: tf.Tensor2D,
  past: KeyValue | null,
  cross: KeyValue,
  masks: { self: tf.Tensor4D; cross: tf.Tensor4D },
): { hidden: tf.Tensor2D; self: KeyValue } {
  const p = `model.decoder.layers.${j}`;
  const heads = ctx.config.decoder_attention_heads;
  const rows = cross.k.shape[0];
  let self: KeyValue | null = null;
  const afterSelf = residual(ctx, `${p}.self_attn_layer_norm`, x, (y) => {
    const fresh = projectKeyValue(ctx.p, `${p}.self_attn`, y, rows, heads);
    self = past === null ? fresh : { k: tf.concat([past.k, fresh.k], 2), v: tf.concat([past.v, fresh.v], 2) };
    return attend(ctx, `${p}.self_attn`, y, self, masks.self, heads);
  });
  const afterCross = residual(
    ctx,
    `${p}.encoder_attn_layer_norm`,
    afterSelf,
    (y) => attend(ctx, `${p}.encoder_attn`, y, cross, masks.cross, heads),
  );
  const hidden = residual(ctx, `${p}.final_layer_norm`, afterCross, (y) => feedForward(ctx, p, y));
  return { hidden, self: self! };
}

/** Cross-attention keys/values of every decoder layer from the encoder output [rows*S, d]. */
export function crossKeyValues(ctx: LayerContext, encoded: tf.Tensor2D, rows: number): KeyValue[] {
  const out: KeyValue[] = [];
  for (let j = 0; j < ctx.config.decoder_layers; j++) {
    out.push(
      projectKeyValue(
        ctx.p,
        `model.decoder.layers.${j}.encoder_attn`,
        encoded,
        rows,
        ctx.config.decoder_attention_heads,
      ),
    );
  }
  return out;
}
