/**
 * The configuration of the BART-family encoder-decoders edgetune implements — mBART
 * (MBartForConditionalGeneration: pre-norm, learned positions with offset 2, layernorm_embedding and final
 * layer norms) and Marian (MarianMTModel: post-norm, fixed sinusoidal positions) — with transformers'
 * MBartConfig / MarianConfig keys and defaults, and the parser for a user's config.json. Values this
 * implementation cannot honour (another model_type, an unknown activation, layerdrop, untied or separate
 * decoder embeddings, legacy BART flags that contradict the family's layout) are refused with ApiError 400
 * invalid_file naming the key. `bartConfigToHfJson` writes the config.json a fine-tuned model is exported with.
 */
import { configObject, invalid } from "./config.ts";

export type BartModelType = "mbart" | "marian";
export const BART_ACTIVATIONS = ["gelu", "relu", "swish", "silu", "gelu_new"] as const;
export type BartActivation = typeof BART_ACTIVATIONS[number];

export interface BartConfig {
  model_type: BartModelType;
  vocab_size: number;
  d_model: number;
  encoder_layers: number;
  decoder_layers: number;
  encoder_attention_heads: number;
  decoder_attention_heads: number;
  encoder_ffn_dim: number;
  decoder_ffn_dim: number;
  max_position_embeddings: number;
  dropout: number;
  attention_dropout: number;
  activation_dropout: number;
  activation_function: BartActivation;
  init_std: number;
  scale_embedding: boolean;
  pad_token_id: number;
  bos_token_id: number | null;
  eos_token_id: number;
  /** First decoder input; absent in config.json → eos_token_id (mBART's convention). */
  decoder_start_token_id: number;
  /** mBART-50: the target-language token generation must emit first; null when none. */
  forced_bos_token_id: number | null;
  forced_eos_token_id: number | null;
}

const SHARED_DEFAULTS = {
  max_position_embeddings: 1024,
  encoder_layers: 12,
  decoder_layers: 12,
  encoder_attention_heads: 16,
  decoder_attention_heads: 16,
  encoder_ffn_dim: 4096,
  decoder_ffn_dim: 4096,
  d_model: 1024,
  dropout: 0.1,
  attention_dropout: 0,
  activation_dropout: 0,
  activation_function: "gelu" as BartActivation,
  init_std: 0.02,
  scale_embedding: false,
  forced_bos_token_id: null,
};

export const BART_DEFAULTS: Record<BartModelType, BartConfig> = {
  mbart: {
    ...SHARED_DEFAULTS,
    model_type: "mbart",
    vocab_size: 50265,
    pad_token_id: 1,
    bos_token_id: 0,
    eos_token_id: 2,
    decoder_start_token_id: 2,
    forced_eos_token_id: 2,
  },
  marian: {
    ...SHARED_DEFAULTS,
    model_type: "marian",
    vocab_size: 58101,
    pad_token_id: 58100,
    bos_token_id: 0,
    eos_token_id: 0,
    decoder_start_token_id: 58100,
    forced_eos_token_id: 0,
  },
};

const ARCHITECTURES: [string, BartModelType][] = [["MBart", "mbart"], ["Marian", "marian"]];

/** The legacy BART layout flags and the value each family's layout implies. */
const LAYOUT_FLAGS: Record<string, Record<BartModelType, boolean>> = {
  normalize_before: { mbart: true, marian: false },
  add_final_layer_norm: { mbart: true, marian: false },
  normalize_embedding: { mbart: true, marian: false },
  static_position_embeddings: { mbart: false, marian: true },
};

const INTEGER_KEYS = [
  "vocab_size",
  "d_model",
  "encoder_layers",
  "decoder_layers",
  "encoder_attention_heads",
  "decoder_attention_heads",
  "encoder_ffn_dim",
  "decoder_ffn_dim",
  "max_position_embeddings",
] as const;

function modelTypeOf(obj: Record<string, unknown>): BartModelType {
  const modelType = obj.model_type;
  if (modelType === "mbart" || modelType === "marian") return modelType;
  if (modelType === undefined || modelType === null) {
    const architectures = Array.isArray(obj.architectures) ? obj.architectures.map(String) : [];
    const found = ARCHITECTURES.find(([prefix]) => architectures.some((a) => a.startsWith(prefix)));
    if (found) return found[1];
  }
  throw invalid(
    `unsupported model_type '${String(modelType)}' for an encoder-decoder of the BART family ` +
      "(supported: mbart, marian)",
    { model_type: modelType ?? null },
  );
}

function tokenId(obj: Record<string, unknown>, key: string, fallback: number | null): number | null {
  const value = obj[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw invalid(`config.json: '${key}' must be a non-negative integer`, { key, value });
  }
  return value;
}

/** Parses a config.json object (or its text) into a complete BartConfig. */
export function parseBartConfig(json: unknown): BartConfig {
  const obj = configObject(json);
  const type = modelTypeOf(obj);
  const config: BartConfig = { ...BART_DEFAULTS[type] };
  for (const key of INTEGER_KEYS) {
    const value = obj[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw invalid(`config.json: '${key}' must be a positive integer`, { key, value });
    }
    config[key] = value;
  }
  for (const key of ["dropout", "attention_dropout", "activation_dropout"] as const) {
    const value = obj[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== "number" || !(value >= 0 && value < 1)) {
      throw invalid(`config.json: '${key}' must be a number in [0, 1)`, { key, value });
    }
    config[key] = value;
  }
  if (obj.init_std !== undefined) {
    if (typeof obj.init_std !== "number" || !(obj.init_std > 0)) {
      throw invalid("config.json: 'init_std' must be a positive number", { value: obj.init_std });
    }
    config.init_std = obj.init_std;
  }
  if (obj.activation_function !== undefined) {
    if (!(BART_ACTIVATIONS as readonly unknown[]).includes(obj.activation_function)) {
      throw invalid(
        `config.json: unsupported activation_function '${String(obj.activation_function)}' (supported: ${
          BART_ACTIVATIONS.join(", ")
        })`,
        { activation_function: obj.activation_function },
      );
    }
    config.activation_function = obj.activation_function as BartActivation;
  }
  if (obj.scale_embedding !== undefined) {
    if (typeof obj.scale_embedding !== "boolean") {
      throw invalid("config.json: 'scale_embedding' must be a boolean");
    }
    config.scale_embedding = obj.scale_embedding;
  }
  config.pad_token_id = tokenId(obj, "pad_token_id", config.pad_token_id)!;
  config.eos_token_id = tokenId(obj, "eos_token_id", config.eos_token_id)!;
  config.bos_token_id = tokenId(obj, "bos_token_id", config.bos_token_id);
  const startFallback = type === "mbart" ? config.eos_token_id : config.decoder_start_token_id;
  config.decoder_start_token_id = tokenId(obj, "decoder_start_token_id", startFallback)!;
  config.forced_bos_token_id = tokenId(obj, "forced_bos_token_id", null);
  config.forced_eos_token_id = tokenId(obj, "forced_eos_token_id", config.forced_eos_token_id);
  checkSupported(obj, type, config);
  return config;
}

function checkSupported(obj: Record<string, unknown>, type: BartModelType, config: BartConfig): void {
  for (const [key, expected] of Object.entries(LAYOUT_FLAGS)) {
    if (obj[key] !== undefined && obj[key] !== expected[type]) {
      throw invalid(
        `config.json: '${key}: ${String(obj[key])}' is not supported for ${type} (only ${expected[type]})`,
        {
          key,
          value: obj[key],
        },
      );
    }
  }
  for (const key of ["encoder_layerdrop", "decoder_layerdrop"]) {
    if (typeof obj[key] === "number" && obj[key] !== 0) {
      throw invalid(`config.json: '${key}' ${obj[key]} is not supported (only 0)`, { key, value: obj[key] });
    }
  }
  if (obj.tie_word_embeddings === false) {
    throw invalid(
      "config.json: 'tie_word_embeddings: false' is not supported (the LM head is tied to the embeddings)",
    );
  }
  if (obj.share_encoder_decoder_embeddings === false) {
    throw invalid("config.json: 'share_encoder_decoder_embeddings: false' is not supported");
  }
  if (typeof obj.decoder_vocab_size === "number" && obj.decoder_vocab_size !== config.vocab_size) {
    throw invalid(
      `config.json: 'decoder_vocab_size' ${obj.decoder_vocab_size} must equal vocab_size ${config.vocab_size}`,
    );
  }
  for (const side of ["encoder", "decoder"] as const) {
    const heads = config[`${side}_attention_heads`];
    if (config.d_model % heads !== 0) {
      throw invalid(
        `config.json: d_model ${config.d_model} is not a multiple of ${side}_attention_heads ${heads}`,
      );
    }
  }
  const ids = [
    "pad_token_id",
    "eos_token_id",
    "bos_token_id",
    "decoder_start_token_id",
    "forced_bos_token_id",
  ] as const;
  for (const key of ids) {
    const id = config[key];
    if (id !== null && id >= config.vocab_size) {
      throw invalid(`config.json: ${key} ${id} is outside the vocabulary (vocab_size ${config.vocab_size})`);
    }
  }
}

/** The config.json a Hugging Face loader expects for the fine-tuned model. */
export function bartConfigToHfJson(config: BartConfig): Record<string, unknown> {
  const marian = config.model_type === "marian";
  return {
    architectures: [marian ? "MarianMTModel" : "MBartForConditionalGeneration"],
    ...config,
    ...(marian ? { share_encoder_decoder_embeddings: true, decoder_vocab_size: config.vocab_size } : {}),
    is_encoder_decoder: true,
    tie_word_embeddings: true,
    torch_dtype: "float32",
  };
}
