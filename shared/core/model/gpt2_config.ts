/**
 * The GPT-2 configuration with Hugging Face's config.json keys and defaults (transformers' GPT2Config), the
 * parser that accepts a user's config.json (model_type "gpt2", or none with a GPT2* architecture) and the
 * config.json written back on export. Flags that change the architecture in ways this implementation does
 * not follow (add_cross_attention, scale_attn_by_inverse_layer_idx, reorder_and_upcast_attn) and unknown
 * activation functions are refused with ApiError 400 invalid_file naming the key, so a wrong upload fails
 * at job creation, not mid-run.
 */
import { configObject, invalid } from "./config.ts";

/** HF ACT2FN names that GPT-2 blocks can use here. */
export const GPT2_ACTIVATIONS = [
  "gelu_new",
  "gelu_pytorch_tanh",
  "gelu_fast",
  "gelu",
  "gelu_python",
  "quick_gelu",
  "relu",
  "silu",
  "swish",
  "tanh",
  "sigmoid",
  "linear",
] as const;
export type Gpt2Activation = typeof GPT2_ACTIVATIONS[number];

export interface Gpt2Config {
  model_type: "gpt2";
  vocab_size: number;
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  /** Width of the MLP; null means 4 * n_embd. */
  n_inner: number | null;
  activation_function: Gpt2Activation;
  resid_pdrop: number;
  embd_pdrop: number;
  attn_pdrop: number;
  layer_norm_epsilon: number;
  initializer_range: number;
  /** Divide attention scores by sqrt(head size). */
  scale_attn_weights: boolean;
  /** The LM head shares wte's weight (HF default); false adds a separate lm_head.weight. */
  tie_word_embeddings: boolean;
  bos_token_id: number | null;
  eos_token_id: number | null;
  pad_token_id: number | null;
}

/** transformers.GPT2Config defaults (gpt2, 124M). */
export const GPT2_DEFAULTS: Gpt2Config = {
  model_type: "gpt2",
  vocab_size: 50257,
  n_positions: 1024,
  n_embd: 768,
  n_layer: 12,
  n_head: 12,
  n_inner: null,
  activation_function: "gelu_new",
  resid_pdrop: 0.1,
  embd_pdrop: 0.1,
  attn_pdrop: 0.1,
  layer_norm_epsilon: 1e-5,
  initializer_range: 0.02,
  scale_attn_weights: true,
  tie_word_embeddings: true,
  bos_token_id: 50256,
  eos_token_id: 50256,
  pad_token_id: null,
};

/** Flags whose non-default value changes the computation in a way not implemented here. */
const UNSUPPORTED_FLAGS = [
  "add_cross_attention",
  "scale_attn_by_inverse_layer_idx",
  "reorder_and_upcast_attn",
];

/** The MLP width: n_inner, or 4 * n_embd when null. */
export function innerSize(config: Gpt2Config): number {
  return config.n_inner ?? 4 * config.n_embd;
}

function positiveInteger(key: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw invalid(`config.json: '${key}' must be a positive integer`, { key, value });
  }
  return value;
}

function probability(key: string, value: unknown): number {
  if (typeof value !== "number" || !(value >= 0 && value < 1)) {
    throw invalid(`config.json: '${key}' must be a number in [0, 1)`, { key, value });
  }
  return value;
}

/** A token id key: null/absent → null; else an integer in [0, vocab_size). */
function tokenId(key: string, value: unknown, vocabSize: number): number | null {
  if (value === undefined || value === null) return null;
  // Some configs list several EOS ids; the first is the one generation stops on by default.
  const first = Array.isArray(value) ? value[0] : value;
  if (typeof first !== "number" || !Number.isInteger(first) || first < 0 || first >= vocabSize) {
    throw invalid(`config.json: '${key}' must be a token id in [0, ${vocabSize})`, { key, value });
  }
  return first;
}

/** Parses a config.json object (or its text) into a complete Gpt2Config. */
export function parseGpt2Config(json: unknown): Gpt2Config {
  const obj = configObject(json);
  const architectures = Array.isArray(obj.architectures) ? obj.architectures.map(String) : [];
  if (obj.model_type === undefined || obj.model_type === null) {
    if (!architectures.some((a) => a.startsWith("GPT2"))) {
      throw invalid("config.json has no model_type and no GPT2* architecture", { architectures });
    }
  } else if (obj.model_type !== "gpt2") {
    throw invalid(`unsupported model_type '${String(obj.model_type)}' for a GPT-2 model`, {
      model_type: obj.model_type,
    });
  }
  const unsupported = UNSUPPORTED_FLAGS.filter((key) => obj[key] !== undefined && obj[key] !== false);
  if (unsupported.length > 0) {
    throw invalid(
      `config.json: unsupported GPT-2 option(s) ${unsupported.join(", ")} (only false is supported)`,
      {
        keys: unsupported,
      },
    );
  }
  const config: Gpt2Config = { ...GPT2_DEFAULTS };
  for (const key of ["vocab_size", "n_positions", "n_embd", "n_layer", "n_head"] as const) {
    if (obj[key] !== undefined) config[key] = positiveInteger(key, obj[key]);
  }
  if (obj.n_inner !== undefined && obj.n_inner !== null) {
    config.n_inner = positiveInteger("n_inner", obj.n_inner);
  }
  for (const key of ["resid_pdrop", "embd_pdrop", "attn_pdrop"] as const) {
    if (obj[key] !== undefined) config[key] = probability(key, obj[key]);
  }
  for (const key of ["layer_norm_epsilon", "initializer_range"] as const) {
    if (obj[key] === undefined) continue;
    const value = obj[key];
    if (typeof value !== "number" || !(value > 0)) {
      throw invalid(`config.json: '${key}' must be a positive number`, { key, value });
    }
    config[key] = value;
  }
  for (const key of ["scale_attn_weights", "tie_word_embeddings"] as const) {
    if (obj[key] === undefined) continue;
    if (typeof obj[key] !== "boolean") throw invalid(`config.json: '${key}' must be true or false`, { key });
    config[key] = obj[key] as boolean;
  }
  if (obj.activation_function !== undefined) {
    if (!(GPT2_ACTIVATIONS as readonly unknown[]).includes(obj.activation_function)) {
      throw invalid(
        `config.json: unsupported activation_function '${String(obj.activation_function)}' (supported: ${
          GPT2_ACTIVATIONS.join(", ")
        })`,
        { activation_function: obj.activation_function },
      );
    }
    config.activation_function = obj.activation_function as Gpt2Activation;
  }
  if (config.n_embd % config.n_head !== 0) {
    throw invalid(`config.json: n_embd ${config.n_embd} is not a multiple of n_head ${config.n_head}`);
  }
  for (const key of ["bos_token_id", "eos_token_id", "pad_token_id"] as const) {
    config[key] = key in obj ? tokenId(key, obj[key], config.vocab_size) : GPT2_DEFAULTS[key];
    if (config[key] !== null && config[key]! >= config.vocab_size) config[key] = null; // defaults vs tiny vocab
  }
  return config;
}

/** The config.json a Hugging Face loader expects for a GPT2LMHeadModel. */
export function gpt2ConfigToHfJson(config: Gpt2Config): Record<string, unknown> {
  return {
    architectures: ["GPT2LMHeadModel"],
    ...config,
    n_ctx: config.n_positions,
    model_type: "gpt2",
    add_cross_attention: false,
    scale_attn_by_inverse_layer_idx: false,
    reorder_and_upcast_attn: false,
    use_cache: true,
    torch_dtype: "float32",
  };
}
