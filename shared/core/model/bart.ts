/**
 * mBART (MBartForConditionalGeneration) and Marian (MarianMTModel) as one Seq2SeqModel
 * (shared/core/generate/types.ts): `forward` runs encoder and decoder with teacher forcing (logits of every
 * decoder position, for training), `encode` runs the encoder once over source rows, and `step` feeds decoder
 * tokens after a key/value cache (self-attention keys/values grow; cross-attention keys/values are computed
 * once from the encoder state and carried in the cache). Parameters are tf.Variables under HF names
 * (`model.shared.weight` is the tied input embedding of both stacks and the LM head); `final_logits_bias` and
 * Marian's sinusoidal position tables are fixed (`fixedParams`). Generation must feed `decoderStartTokenId`
 * first and, when `forcedBosTokenId` is set (mBART-50's target language), force it as the first generated
 * token. Creation, loading and export live in bart_load.ts.
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
import type { BartConfig } from "./bart_config.ts";
import {
  bartParameterShapes,
  crossKeyValues,
  decoderLayer,
  embed,
  encoderLayer,
  FINAL_LOGITS_BIAS,
  type KeyValue,
  type LayerContext,
  norm,
  positionsName,
  SHARED,
} from "./bart_layers.ts";
import type { ForwardOptions } from "./classifier.ts";
import { checkParams } from "./encoder.ts";
import { ATTENTION_MASK_MIN, makeDropout } from "./layers.ts";
import { countParameters, disposeParameters, requireParameter } from "./params.ts";

export { type BartConfig, bartConfigToHfJson, parseBartConfig } from "./bart_config.ts";
export { bartStateDict, initBart, loadBart, type LoadedBart } from "./bart_load.ts";

/** Runs `fn` in a tfjs scope: every tensor it creates is disposed at the end unless tf.keep'd. */
function scoped<T>(fn: () => T): T {
  tf.engine().startScope();
  try {
    return fn();
  } finally {
    tf.engine().endScope();
  }
}

/** [rows, len] 1/0 float mask → additive [rows, 1, 1, len]. */
function paddingMask(mask: tf.Tensor2D): tf.Tensor4D {
  const [rows, len] = mask.shape;
  return tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, "float32")), ATTENTION_MASK_MIN), [rows, 1, 1, len]);
}

/** Causal mask for `n` new positions after `past` cached ones, [1, 1, n, past + n] (0 or the minimum). */
function causalMask(past: number, n: number): tf.Tensor4D {
  const blocked = new Float32Array(n * (past + n));
  for (let i = 0; i < n; i++) {
    for (let j = past + i + 1; j < past + n; j++) blocked[i * (past + n) + j] = ATTENTION_MASK_MIN;
  }
  return tf.tensor4d(blocked, [1, 1, n, past + n]);
}

/** The encoder output of source rows: hidden [rows, S, d] and the additive padding mask [rows, 1, 1, S]. */
export class BartEncoderState implements EncoderState {
  constructor(readonly hidden: tf.Tensor3D, readonly mask: tf.Tensor4D) {}

  get rows(): number {
    return this.hidden.shape[0];
  }

  select(rows: number[]): BartEncoderState {
    return scoped(() => {
      const index = tf.tensor1d(rows, "int32");
      return new BartEncoderState(
        tf.keep(tf.gather(this.hidden, index)),
        tf.keep(tf.gather(this.mask, index)),
      );
    });
  }

  dispose(): void {
    this.hidden.dispose();
    this.mask.dispose();
  }
}

/** Per decoder layer: self-attention keys/values so far and the cross-attention ones, plus the cross mask. */
export class BartDecoderCache implements DecoderCache {
  constructor(readonly self: KeyValue[], readonly cross: KeyValue[], readonly crossMask: tf.Tensor4D) {}

  get length(): number {
    return this.self[0]?.k.shape[2] ?? 0;
  }

  get rows(): number {
    return this.crossMask.shape[0];
  }

  select(rows: number[]): BartDecoderCache {
    return scoped(() => {
      const index = tf.tensor1d(rows, "int32");
      const pick = (kv: KeyValue): KeyValue => ({
        k: tf.keep(tf.gather(kv.k, index)),
        v: tf.keep(tf.gather(kv.v, index)),
      });
      return new BartDecoderCache(
        this.self.map(pick),
        this.cross.map(pick),
        tf.keep(tf.gather(this.crossMask, index)),
      );
    });
  }

  dispose(): void {
    for (const kv of [...this.self, ...this.cross]) tf.dispose([kv.k, kv.v]);
    this.crossMask.dispose();
  }
}

export class BartForConditionalGeneration implements Seq2SeqModel {
  readonly kind = "seq2seq" as const;
  readonly config: BartConfig;
  readonly params: Map<string, tf.Variable>;
  readonly fixedParams: ReadonlySet<string>;

  constructor(config: BartConfig, params: Map<string, tf.Variable>) {
    checkParams("BartForConditionalGeneration", bartParameterShapes(config), params);
    this.config = config;
    this.params = params;
    const fixed = [FINAL_LOGITS_BIAS];
    if (config.model_type === "marian") fixed.push(positionsName("encoder"), positionsName("decoder"));
    this.fixedParams = new Set(fixed);
  }

  get vocabSize(): number {
    return this.config.vocab_size;
  }
  get maxPositions(): number {
    return this.config.max_position_embeddings;
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
  /** The token generation must emit first (mBART-50's target language), or null. */
  get forcedBosTokenId(): number | null {
    return this.config.forced_bos_token_id;
  }
  get numLayers(): number {
    return this.config.encoder_layers + this.config.decoder_layers;
  }

  layerOf(name: string): number {
    if (
      name === SHARED ||
      /^model\.(encoder|decoder)\.(embed_positions|layernorm_embedding|embed_tokens)\./.test(name)
    ) {
      return 0;
    }
    const encoder = /^model\.encoder\.layers\.(\d+)\./.exec(name);
    if (encoder) return Number(encoder[1]) + 1;
    const decoder = /^model\.decoder\.layers\.(\d+)\./.exec(name);
    if (decoder) return this.config.encoder_layers + Number(decoder[1]) + 1;
    return this.numLayers + 1;
  }

  forward(batch: Seq2SeqBatch, opts: ForwardOptions): tf.Tensor2D {
    const [rows, sourceLength] = batch.inputIds.shape;
    const targetLength = batch.decoderInputIds.shape[1];
    this.checkLength("source", sourceLength);
    this.checkLength("decoder", targetLength);
    return tf.tidy(() => {
      const ctx = this.context(opts);
      const encoded = this.runEncoder(ctx, batch.inputIds, batch.attentionMask);
      const decoderMask = tf.cast(batch.decoderAttentionMask, "float32");
      const allowed = tf.mul(
        tf.linalg.bandPart(tf.ones([targetLength, targetLength]), -1, 0),
        tf.reshape(decoderMask, [rows, 1, 1, targetLength]),
      );
      const masks = {
        self: tf.mul(tf.sub(1, allowed), ATTENTION_MASK_MIN) as tf.Tensor4D,
        cross: paddingMask(batch.attentionMask),
      };
      let hidden = embed(ctx, "decoder", batch.decoderInputIds, 0);
      const cross = crossKeyValues(ctx, encoded, rows);
      for (let j = 0; j < this.config.decoder_layers; j++) {
        hidden = decoderLayer(ctx, j, hidden, null, cross[j], masks).hidden;
      }
      return this.lmHead(ctx, hidden);
    });
  }

  encode(inputIds: number[][]): BartEncoderState {
    if (inputIds.length === 0) throw new ApiError(400, "invalid_request", "no source rows to encode");
    const width = Math.max(1, ...inputIds.map((row) => row.length));
    this.checkLength("source", width);
    return scoped(() => {
      const ids = inputIds.map((
        row,
      ) => [...row, ...new Array(width - row.length).fill(this.config.pad_token_id)]);
      const mask = inputIds.map((row) => Array.from({ length: width }, (_, i) => (i < row.length ? 1 : 0)));
      const maskTensor = tf.tensor2d(mask, [inputIds.length, width], "float32");
      const ctx = this.context({ training: false });
      const encoded = this.runEncoder(ctx, tf.tensor2d(ids, [inputIds.length, width], "int32"), maskTensor);
      const hidden = tf.reshape(encoded, [inputIds.length, width, this.config.d_model]) as tf.Tensor3D;
      return new BartEncoderState(tf.keep(hidden), tf.keep(paddingMask(maskTensor)));
    });
  }

  step(tokens: number[][], cache: DecoderCache | null, encoder: EncoderState): StepResult {
    if (!(encoder instanceof BartEncoderState)) {
      throw new Error("BART step needs the state from this model's encode()");
    }
    if (cache !== null && !(cache instanceof BartDecoderCache)) {
      throw new Error("BART step needs this model's cache");
    }
    const rows = tokens.length;
    const n = tokens[0]?.length ?? 0;
    if (n === 0 || tokens.some((row) => row.length !== n)) {
      throw new Error("step: every row needs the same number (≥ 1) of tokens");
    }
    if (encoder.rows !== rows || (cache !== null && cache.rows !== rows)) {
      throw new Error(
        `step: ${rows} token rows but ${encoder.rows} encoder rows / ${cache?.rows} cache rows`,
      );
    }
    const past = cache?.length ?? 0;
    this.checkLength("decoder", past + n);
    const ctx = this.context({ training: false });
    const { logits, next } = scoped(() => {
      const cross = cache?.cross ??
        crossKeyValues(ctx, tf.reshape(encoder.hidden, [-1, this.config.d_model]) as tf.Tensor2D, rows);
      const masks = { self: causalMask(past, n), cross: cache?.crossMask ?? encoder.mask };
      let hidden = embed(ctx, "decoder", tf.tensor2d(tokens, [rows, n], "int32"), past);
      const self: KeyValue[] = [];
      for (let j = 0; j < this.config.decoder_layers; j++) {
        const out = decoderLayer(ctx, j, hidden, cache?.self[j] ?? null, cross[j], masks);
        hidden = out.hidden;
        self.push(out.self);
      }
      const d = this.config.d_model;
      const last = tf.reshape(tf.slice(tf.reshape(hidden, [rows, n, d]), [0, n - 1, 0], [rows, 1, d]), [
        rows,
        d,
      ]);
      // clones alias the same data (reference counted), so disposing the old cache leaves the new one intact
      const keepKv = (kv: KeyValue): KeyValue => ({ k: tf.keep(tf.clone(kv.k)), v: tf.keep(tf.clone(kv.v)) });
      const next = new BartDecoderCache(self.map(keepKv), cross.map(keepKv), tf.keep(tf.clone(masks.cross)));
      return { logits: tf.keep(this.lmHead(ctx, last as tf.Tensor2D)), next };
    });
    const flat = logits.dataSync() as Float32Array;
    logits.dispose();
    const v = this.config.vocab_size;
    return { logits: Array.from({ length: rows }, (_, r) => flat.slice(r * v, (r + 1) * v)), cache: next };
  }

  parameterCount(): number {
    return countParameters(this.params);
  }

  dispose(): void {
    disposeParameters(this.params);
  }

  private context(opts: ForwardOptions): LayerContext {
    return {
      config: this.config,
      p: (name) => this.param(name),
      drop: makeDropout(opts.training, opts.seed),
      rates: {
        hidden: opts.dropout?.hidden ?? this.config.dropout,
        attention: opts.dropout?.attention ?? this.config.attention_dropout,
        activation: this.config.activation_dropout,
      },
    };
  }

  /** Encoder stack → [rows*S, d] (mBART: final layer_norm). */
  private runEncoder(ctx: LayerContext, ids: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
    const rows = ids.shape[0];
    const additive = paddingMask(mask);
    let hidden = embed(ctx, "encoder", ids, 0);
    for (let i = 0; i < this.config.encoder_layers; i++) {
      hidden = encoderLayer(ctx, i, hidden, additive, rows);
    }
    return this.config.model_type === "mbart" ? norm(ctx.p, "model.encoder.layer_norm", hidden) : hidden;
  }

  /** (mBART: decoder layer_norm →) hidden · sharedᵀ + final_logits_bias → [rows, vocab]. */
  private lmHead(ctx: LayerContext, hidden: tf.Tensor2D): tf.Tensor2D {
    const h = this.config.model_type === "mbart" ? norm(ctx.p, "model.decoder.layer_norm", hidden) : hidden;
    return tf.add(
      tf.matMul(h, this.param(SHARED) as tf.Tensor2D, false, true),
      this.param(FINAL_LOGITS_BIAS),
    );
  }

  private checkLength(what: string, length: number): void {
    if (length <= this.config.max_position_embeddings) return;
    throw new ApiError(
      400,
      "invalid_request",
      `${what} length ${length} exceeds the model's maximum ${this.config.max_position_embeddings} ` +
        "(max_position_embeddings)",
    );
  }

  private param(name: string): tf.Variable {
    return requireParameter(this.params, "BartForConditionalGeneration", name);
  }
}
