/**
 * The T5 configuration with Hugging Face's config.json keys and defaults (transformers' T5Config), its
 * parser (model_type "t5", or a T5* class in `architectures`; feed_forward_proj "relu"/"gelu"/"silu",
 * optionally "gated-" as in T5 v1.1, where "gated-gelu" means gelu_new exactly as HF maps it; anything else
 * is refused with ApiError 400 invalid_file naming the key), the config.json we write back, and every
 * parameter of T5ForConditionalGeneration with its PyTorch shape under its HF name, in forward order.
 */
import { ApiError } from "../../schemas/errors.ts";
import { configObject } from "./config.ts";

export type T5Activation = "relu" | "gelu" | "gelu_new" | "silu";

export interface T5Config {
  model_type: "t5";
  vocab_size: number;
  d_model: number;
  d_kv: number;
  d_ff: number;
  num_layers: number;
  num_decoder_layers: number;
  num_heads: number;
  relative_attention_num_buckets: number;
  relative_attention_max_distance: number;
  dropout_rate: number;
  layer_norm_epsilon: number;
  initializer_factor: number;
  feed_forward_proj: string;
  /** Derived from feed_forward_proj as HF does (not read from the file). */
  dense_act_fn: T5Activation;
  is_gated_act: boolean;
  tie_word_embeddings: boolean;
  pad_token_id: number;
  eos_token_id: number;
  decoder_start_token_id: number;
}

/** transformers.T5Config defaults (t5-small). */
export const T5_DEFAULTS: Omit<T5Config, "dense_act_fn" | "is_gated_act"> = {
  model_type: "t5",
  vocab_size: 32128,
  d_model: 512,
  d_kv: 64,
  d_ff: 2048,
  num_layers: 6,
  num_decoder_layers: 6,
  num_heads: 8,
  relative_attention_num_buckets: 32,
  relative_attention_max_distance: 128,
  dropout_rate: 0.1,
  layer_norm_epsilon: 1e-6,
  initializer_factor: 1.0,
  feed_forward_proj: "relu",
  tie_word_embeddings: true,
  pad_token_id: 0,
  eos_token_id: 1,
  decoder_start_token_id: 0,
};

const ACTIVATIONS: readonly string[] = ["relu", "gelu", "silu"];

const invalid = (message: string, details?: unknown) => new ApiError(400, "invalid_file", message, details);

function integer(raw: Record<string, unknown>, key: string, fallback: number, min: number): number {
  const value = raw[key] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw invalid(`config.json: ${key} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`, { key });
  }
  return value;
}

function real(raw: Record<string, unknown>, key: string, fallback: number, min: number, max: number): number {
  const value = raw[key] ?? fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(`config.json: ${key} must be a number in [${min}, ${max}], got ${JSON.stringify(value)}`, {
      key,
    });
  }
  return value;
}

/** HF's split of feed_forward_proj into (activation, gated), or 400 naming the key. */
export function parseFeedForwardProj(proj: unknown): { act: T5Activation; gated: boolean } {
  if (typeof proj !== "string") {
    throw invalid(`config.json: feed_forward_proj must be a string, got ${JSON.stringify(proj)}`, {
      key: "feed_forward_proj",
    });
  }
  const parts = proj.split("-");
  const gated = parts.length === 2 && parts[0] === "gated";
  const act = parts[parts.length - 1];
  if ((parts.length !== 1 && !gated) || !ACTIVATIONS.includes(act)) {
    throw invalid(
      `config.json: feed_forward_proj '${proj}' is not supported (expected relu, gelu, silu, or gated-relu, ` +
        `gated-gelu, gated-silu)`,
      { key: "feed_forward_proj" },
    );
  }
  // transformers maps "gated-gelu" to gelu_new for backwards compatibility (T5 v1.1 checkpoints).
  return { act: proj === "gated-gelu" ? "gelu_new" : act as T5Activation, gated };
}

/** config.json (text, object or an already parsed T5Config) → T5Config, or 400 invalid_file. */
export function parseT5Config(json: unknown): T5Config {
  const raw = configObject(json);
  const architectures = Array.isArray(raw.architectures) ? raw.architectures : [];
  const isT5 = raw.model_type === "t5" ||
    (raw.model_type === undefined && architectures.some((a) => typeof a === "string" && a.startsWith("T5")));
  if (!isT5) {
    throw invalid(`config.json: model_type '${String(raw.model_type)}' is not a T5 model (expected "t5")`, {
      key: "model_type",
    });
  }
  const d = T5_DEFAULTS;
  const numLayers = integer(raw, "num_layers", d.num_layers, 0);
  const feedForwardProj = raw.feed_forward_proj ?? d.feed_forward_proj;
  const { act, gated } = parseFeedForwardProj(feedForwardProj);
  const tie = raw.tie_word_embeddings ?? d.tie_word_embeddings;
  if (typeof tie !== "boolean") throw invalid("config.json: tie_word_embeddings must be a boolean");
  const pad = integer(raw, "pad_token_id", d.pad_token_id, 0);
  const config: T5Config = {
    model_type: "t5",
    vocab_size: integer(raw, "vocab_size", d.vocab_size, 1),
    d_model: integer(raw, "d_model", d.d_model, 1),
    d_kv: integer(raw, "d_kv", d.d_kv, 1),
    d_ff: integer(raw, "d_ff", d.d_ff, 1),
    num_layers: numLayers,
    num_decoder_layers: integer(raw, "num_decoder_layers", numLayers, 0),
    num_heads: integer(raw, "num_heads", d.num_heads, 1),
    relative_attention_num_buckets: integer(
      raw,
      "relative_attention_num_buckets",
      d.relative_attention_num_buckets,
      2,
    ),
    relative_attention_max_distance: integer(
      raw,
      "relative_attention_max_distance",
      d.relative_attention_max_distance,
      1,
    ),
    dropout_rate: real(raw, "dropout_rate", d.dropout_rate, 0, 0.95),
    layer_norm_epsilon: real(raw, "layer_norm_epsilon", d.layer_norm_epsilon, 0, 1),
    initializer_factor: real(raw, "initializer_factor", d.initializer_factor, 0, 1e6),
    feed_forward_proj: feedForwardProj as string,
    dense_act_fn: act,
    is_gated_act: gated,
    tie_word_embeddings: tie,
    pad_token_id: pad,
    eos_token_id: integer(raw, "eos_token_id", d.eos_token_id, 0),
    decoder_start_token_id: integer(raw, "decoder_start_token_id", pad, 0),
  };
  for (const key of ["pad_token_id", "eos_token_id", "decoder_start_token_id"] as const) {
    if (config[key] >= config.vocab_size) {
      throw invalid(`config.json: ${key} ${config[key]} is outside the vocabulary (${config.vocab_size})`, {
        key,
      });
    }
  }
  if (config.relative_attention_num_buckets < 4) {
    throw invalid("config.json: relative_attention_num_buckets must be at least 4", {
      key: "relative_attention_num_buckets",
    });
  }
  return config;
}

/** The config.json HF's T5ForConditionalGeneration loads. */
export function t5ConfigToHfJson(config: T5Config): Record<string, unknown> {
  const { dense_act_fn, is_gated_act, ...keys } = config;
  return {
    architectures: ["T5ForConditionalGeneration"],
    ...keys,
    dense_act_fn,
    is_gated_act,
    is_encoder_decoder: true,
    use_cache: true,
  };
}

/** Every parameter of T5ForConditionalGeneration with its PyTorch shape, in forward order. */
export function t5ParameterShapes(config: T5Config): Map<string, number[]> {
  const d = config.d_model;
  const inner = config.num_heads * config.d_kv;
  const shapes = new Map<string, number[]>();
  const attention = (prefix: string, relativeBias: boolean) => {
    shapes.set(`${prefix}.q.weight`, [inner, d]);
    shapes.set(`${prefix}.k.weight`, [inner, d]);
    shapes.set(`${prefix}.v.weight`, [inner, d]);
    shapes.set(`${prefix}.o.weight`, [d, inner]);
    if (relativeBias) {
      shapes.set(`${prefix}.relative_attention_bias.weight`, [
        config.relative_attention_num_buckets,
        config.num_heads,
      ]);
    }
  };
  const feedForward = (prefix: string) => {
    if (config.is_gated_act) {
      shapes.set(`${prefix}.DenseReluDense.wi_0.weight`, [config.d_ff, d]);
      shapes.set(`${prefix}.DenseReluDense.wi_1.weight`, [config.d_ff, d]);
    } else {
      shapes.set(`${prefix}.DenseReluDense.wi.weight`, [config.d_ff, d]);
    }
    shapes.set(`${prefix}.DenseReluDense.wo.weight`, [d, config.d_ff]);
    shapes.set(`${prefix}.layer_norm.weight`, [d]);
  };
  shapes.set("shared.weight", [config.vocab_size, d]);
  for (let i = 0; i < config.num_layers; i++) {
    attention(`encoder.block.${i}.layer.0.SelfAttention`, i === 0);
    shapes.set(`encoder.block.${i}.layer.0.layer_norm.weight`, [d]);
    feedForward(`encoder.block.${i}.layer.1`);
  }
  shapes.set("encoder.final_layer_norm.weight", [d]);
  for (let i = 0; i < config.num_decoder_layers; i++) {
    attention(`decoder.block.${i}.layer.0.SelfAttention`, i === 0);
    shapes.set(`decoder.block.${i}.layer.0.layer_norm.weight`, [d]);
    attention(`decoder.block.${i}.layer.1.EncDecAttention`, false);
    shapes.set(`decoder.block.${i}.layer.1.layer_norm.weight`, [d]);
    feedForward(`decoder.block.${i}.layer.2`);
  }
  shapes.set("decoder.final_layer_norm.weight", [d]);
  if (!config.tie_word_embeddings) shapes.set("lm_head.weight", [config.vocab_size, d]);
  return shapes;
}
