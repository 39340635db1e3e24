/**
 * GPT-2 (GPT2LMHeadModel) as a CausalLanguageModel, written top to bottom in forward order as HF's
 * modeling_gpt2 (eager attention) does: token + position embeddings → dropout → N pre-LN blocks
 * (ln_1 → causal self-attention with Conv1D c_attn/c_proj → residual, ln_2 → MLP c_fc/act/c_proj →
 * residual) → ln_f → logits through the tied word embeddings (or a separate lm_head when the config unties
 * them). Conv1D weights are [in, out] as in the checkpoint (y = x·W + b, no transpose). `forward` is the
 * teacher-forced pass over right-padded rows (positions 0..S-1, padding masked as keys); `step` feeds new
 * tokens after a key/value cache (per layer K and V shaped [rows, heads, length, headSize]), so generation
 * costs one token per step; `step(tokens, null)` is the full recompute over the same code path. Weights are
 * tf.Variables keyed by HF names (`transformer.h.0.attn.c_attn.weight`, …); activations flow as 2-D
 * [rows*len, E] matrices and only attention reshapes to 4-D.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import type { CausalLanguageModel, DecoderCache, StepResult } from "../generate/types.ts";
import type { ForwardOptions } from "./classifier.ts";
import { type Gpt2Activation, type Gpt2Config, innerSize } from "./gpt2_config.ts";
import { activation, ATTENTION_MASK_MIN, type Dropout, layerNorm, makeDropout } from "./layers.ts";
import { countParameters, disposeParameters, requireParameter } from "./params.ts";

interface LayerKv {
  key: tf.Tensor4D;
  value: tf.Tensor4D;
}

/** GPT-2's key/value cache: per layer [rows, heads, length, headSize]; owns its tensors. */
export class Gpt2Cache implements DecoderCache {
  constructor(readonly layers: LayerKv[], readonly length: number) {}

  get rows(): number {
    return this.layers[0]?.key.shape[0] ?? 0;
  }

  select(rows: number[]): Gpt2Cache {
    const index = tf.tensor1d(rows, "int32");
    const layers = this.layers.map(({ key, value }) => ({
      key: tf.gather(key, index) as tf.Tensor4D,
      value: tf.gather(value, index) as tf.Tensor4D,
    }));
    index.dispose();
    return new Gpt2Cache(layers, this.length);
  }

  dispose(): void {
    for (const { key, value } of this.layers) {
      key.dispose();
      value.dispose();
    }
  }
}

/** Every parameter of GPT2LMHeadModel with its PyTorch shape, in forward order (lm_head only when untied). */
export function gpt2ParameterShapes(config: Gpt2Config): Map<string, number[]> {
  const e = config.n_embd;
  const inner = innerSize(config);
  const shapes = new Map<string, number[]>();
  shapes.set("transformer.wte.weight", [config.vocab_size, e]);
  shapes.set("transformer.wpe.weight", [config.n_positions, e]);
  const conv = (prefix: string, inp: number, out: number) => {
    shapes.set(`${prefix}.weight`, [inp, out]);
    shapes.set(`${prefix}.bias`, [out]);
  };
  const norm = (prefix: string) => {
    shapes.set(`${prefix}.weight`, [e]);
    shapes.set(`${prefix}.bias`, [e]);
  };
  for (let i = 0; i < config.n_layer; i++) {
    const h = `transformer.h.${i}`;
    norm(`${h}.ln_1`);
    conv(`${h}.attn.c_attn`, e, 3 * e);
    conv(`${h}.attn.c_proj`, e, e);
    norm(`${h}.ln_2`);
    conv(`${h}.mlp.c_fc`, e, inner);
    conv(`${h}.mlp.c_proj`, inner, e);
  }
  norm("transformer.ln_f");
  if (!config.tie_word_embeddings) shapes.set("lm_head.weight", [config.vocab_size, e]);
  return shapes;
}

/** HF's ACT2FN[activation_function] on a 2-D tensor. */
function gpt2Activation(name: Gpt2Activation, x: tf.Tensor2D): tf.Tensor2D {
  switch (name) {
    case "gelu_new":
    case "gelu_pytorch_tanh":
    case "gelu_fast":
      return activation("gelu_new", x);
    case "gelu":
    case "gelu_python":
      return activation("gelu", x);
    case "quick_gelu":
      return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
    case "relu":
      return tf.relu(x);
    case "silu":
    case "swish":
      return tf.mul(x, tf.sigmoid(x));
    case "tanh":
      return tf.tanh(x);
    case "sigmoid":
      return tf.sigmoid(x);
    case "linear":
      return x;
  }
}

/** Conv1D: y = x·W + b with W shaped [in, out]. */
function conv1d(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.add(tf.matMul(x, weight), bias);
}

/**
 * Additive attention mask [B|1, 1, n, past+n]: query i (absolute position past+i) sees keys ≤ past+i, and
 * no key whose `keyMask` entry is 0; masked scores get ATTENTION_MASK_MIN.
 */
function causalMask(n: number, past: number, keyMask: tf.Tensor2D | null): tf.Tensor4D {
  const total = past + n;
  const allowed = new Float32Array(n * total);
  for (let i = 0; i < n; i++) for (let j = 0; j <= past + i; j++) allowed[i * total + j] = 1;
  let visible: tf.Tensor = tf.tensor4d(allowed, [1, 1, n, total]);
  if (keyMask) {
    const [b] = keyMask.shape;
    visible = tf.mul(visible, tf.reshape(tf.cast(keyMask, "float32"), [b, 1, 1, total]));
  }
  return tf.mul(tf.sub(1, visible), ATTENTION_MASK_MIN) as tf.Tensor4D;
}

type Rates = { embd: number; resid: number; attn: number };

export class Gpt2LMHeadModel implements CausalLanguageModel {
  readonly kind = "causal" as const;
  readonly config: Gpt2Config;
  readonly params: Map<string, tf.Variable>;
  readonly fixedParams: ReadonlySet<string> = new Set();

  constructor(config: Gpt2Config, params: Map<string, tf.Variable>) {
    for (const [name, shape] of gpt2ParameterShapes(config)) {
      const v = params.get(name);
      if (!v) throw new Error(`Gpt2LMHeadModel: missing parameter ${name}`);
      if (v.shape.join(",") !== shape.join(",")) {
        throw new Error(`Gpt2LMHeadModel: ${name} has shape [${v.shape}], expected [${shape}]`);
      }
    }
    this.config = config;
    this.params = params;
  }

  get vocabSize(): number {
    return this.config.vocab_size;
  }
  get maxPositions(): number {
    return this.config.n_positions;
  }
  get eosTokenId(): number | null {
    return this.config.eos_token_id;
  }
  /** pad_token_id, else EOS (what HF's generate pads with for GPT-2), else 0. */
  get padTokenId(): number {
    return this.config.pad_token_id ?? this.config.eos_token_id ?? 0;
  }
  get numLayers(): number {
    return this.config.n_layer;
  }

  layerOf(name: string): number {
    const bare = name.replace(/^transformer\./, "");
    if (/^(wte|wpe)\./.test(bare)) return 0;
    const block = /^h\.(\d+)\./.exec(bare);
    if (block) return Number(block[1]) + 1;
    return this.config.n_layer + 1;
  }

  forward(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, opts: ForwardOptions): tf.Tensor2D {
    const s = inputIds.shape[1];
    this.checkLength(s);
    const rates: Rates = {
      embd: opts.dropout?.hidden ?? this.config.embd_pdrop,
      resid: opts.dropout?.hidden ?? this.config.resid_pdrop,
      attn: opts.dropout?.attention ?? this.config.attn_pdrop,
    };
    return tf.tidy(() => {
      const drop = makeDropout(opts.training, opts.seed);
      const mask = causalMask(s, 0, attentionMask);
      const { hidden } = this.decode(inputIds, 0, mask, null, drop, rates);
      return this.logits(hidden);
    });
  }

  step(tokens: number[][], cache: DecoderCache | null): StepResult {
    const rows = tokens.length;
    const n = tokens[0]?.length ?? 0;
    if (rows === 0 || n === 0 || tokens.some((t) => t.length !== n)) {
      throw new Error("step: tokens must be a non-empty rectangle [rows][n]");
    }
    const past = cache as Gpt2Cache | null;
    if (past !== null && !(past instanceof Gpt2Cache)) throw new Error("step: not a GPT-2 cache");
    if (past && past.length > 0 && past.rows !== rows) {
      throw new Error(`step: ${rows} rows but the cache has ${past.rows}`);
    }
    const pastLength = past?.length ?? 0;
    this.checkLength(pastLength + n);
    for (const row of tokens) {
      for (const id of row) {
        if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
          throw new ApiError(
            400,
            "invalid_request",
            `token id ${id} is outside the vocabulary [0, ${this.vocabSize})`,
          );
        }
      }
    }
    const [logits, ...kv] = tf.tidy(() => {
      const ids = tf.tensor2d(tokens, [rows, n], "int32");
      const mask = causalMask(n, pastLength, null);
      const noDrop = makeDropout(false, undefined);
      const result = this.decode(ids, pastLength, mask, past, noDrop, { embd: 0, resid: 0, attn: 0 });
      const e = this.config.n_embd;
      const last = tf.reshape(
        tf.slice(tf.reshape(result.hidden, [rows, n, e]), [0, n - 1, 0], [rows, 1, e]),
        [
          rows,
          e,
        ],
      ) as tf.Tensor2D;
      return [this.logits(last), ...result.layers.flatMap(({ key, value }) => [key, value])];
    });
    const layers: LayerKv[] = [];
    for (let i = 0; i < kv.length; i += 2) {
      layers.push({ key: kv[i] as tf.Tensor4D, value: kv[i + 1] as tf.Tensor4D });
    }
    const flat = logits.dataSync() as Float32Array;
    logits.dispose();
    const v = this.vocabSize;
    const perRow = Array.from({ length: rows }, (_, r) => flat.slice(r * v, (r + 1) * v));
    return { logits: perRow, cache: new Gpt2Cache(layers, pastLength + n) };
  }

  private checkLength(length: number): void {
    if (length <= this.config.n_positions) return;
    throw new ApiError(
      400,
      "invalid_request",
      `sequence length ${length} exceeds the model's maximum ${this.config.n_positions} (n_positions)`,
    );
  }

  /** Embeddings and blocks over ids [B, n] at positions past..past+n-1; returns ln_f(hidden) and new K/V. */
  private decode(
    ids: tf.Tensor2D,
    past: number,
    mask: tf.Tensor4D,
    cache: Gpt2Cache | null,
    drop: Dropout,
    rates: Rates,
  ): { hidden: tf.Tensor2D; layers: LayerKv[] } {
    const [b, n] = ids.shape;
    const e = this.config.n_embd;
    const words = tf.gather(this.p2("transformer.wte.weight"), tf.reshape(ids, [-1]));
    const positions = tf.slice(this.p2("transformer.wpe.weight"), [past, 0], [n, e]);
    let hidden = drop(
      tf.reshape(tf.add(tf.reshape(words, [b, n, e]), positions), [b * n, e]) as tf.Tensor2D,
      rates.embd,
    );
    const layers: LayerKv[] = [];
    for (let i = 0; i < this.config.n_layer; i++) {
      const out = this.block(i, hidden, b, n, mask, cache?.layers[i] ?? null, drop, rates);
      hidden = out.hidden;
      layers.push(out.kv);
    }
    return { hidden: this.norm("transformer.ln_f", hidden), layers };
  }

  private block(
    i: number,
    x: tf.Tensor2D,
    b: number,
    n: number,
    mask: tf.Tensor4D,
    past: LayerKv | null,
    drop: Dropout,
    rates: Rates,
  ): { hidden: tf.Tensor2D; kv: LayerKv } {
    const h = `transformer.h.${i}`;
    const e = this.config.n_embd;
    const heads = this.config.n_head;
    const d = e / heads;
    // attn: ln_1 → c_attn → split q, k, v → heads → (cache) → scores → softmax → dropout → merge → c_proj
    const qkv = this.conv(`${h}.attn.c_attn`, this.norm(`${h}.ln_1`, x));
    const split = (part: number) =>
      tf.transpose(tf.reshape(tf.slice(qkv, [0, part * e], [b * n, e]), [b, n, heads, d]), [
        0,
        2,
        1,
        3,
      ]) as tf.Tensor4D;
    const query = split(0);
    let key = split(1);
    let value = split(2);
    if (past) {
      key = tf.concat([past.key, key], 2);
      value = tf.concat([past.value, value], 2);
    }
    let scores = tf.matMul(query, key, false, true);
    if (this.config.scale_attn_weights) scores = tf.mul(scores, 1 / Math.sqrt(d));
    const probs = drop(tf.softmax(tf.add(scores, mask), -1), rates.attn);
    const context = tf.reshape(tf.transpose(tf.matMul(probs, value), [0, 2, 1, 3]), [
      b * n,
      e,
    ]) as tf.Tensor2D;
    const attended = tf.add(x, drop(this.conv(`${h}.attn.c_proj`, context), rates.resid)) as tf.Tensor2D;
    // mlp: ln_2 → c_fc → act → c_proj → dropout → residual
    const inner = gpt2Activation(
      this.config.activation_function,
      this.conv(`${h}.mlp.c_fc`, this.norm(`${h}.ln_2`, attended)),
    );
    const hidden = tf.add(attended, drop(this.conv(`${h}.mlp.c_proj`, inner), rates.resid)) as tf.Tensor2D;
    return { hidden, kv: { key, value } };
  }

  /** [rows, E] → [rows, V] through the tied word embeddings (or lm_head.weight, both [V, E]). */
  private logits(hidden: tf.Tensor2D): tf.Tensor2D {
    const head = this.config.tie_word_embeddings ? "transformer.wte.weight" : "lm_head.weight";
    return tf.matMul(hidden, this.p2(head), false, true);
  }

  private conv(prefix: string, x: tf.Tensor2D): tf.Tensor2D {
    return conv1d(x, this.p2(`${prefix}.weight`), this.p1(`${prefix}.bias`));
  }

  private norm(prefix: string, x: tf.Tensor2D): tf.Tensor2D {
    return layerNorm(
      x,
      this.p1(`${prefix}.weight`),
      this.p1(`${prefix}.bias`),
      this.config.layer_norm_epsilon,
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

  private p1(name: string): tf.Tensor1D {
    return this.param(name) as tf.Tensor1D;
  }

  private param(name: string): tf.Variable {
    return requireParameter(this.params, "Gpt2LMHeadModel", name);
  }
}
