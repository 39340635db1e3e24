/**
 * The model family registry's config side: `parseModelConfig` reads a Hugging Face config.json and
 * dispatches on `model_type` (or, without one, on the `architectures` class prefix) to the families edgetune
 * implements — "bert" (also MiniLM), "roberta", "electra" (discriminator; BERT's encoder with its own
 * embedding width) and "distilbert" — each with transformers' defaults for absent keys. Anything else is an
 * ApiError 400 invalid_file that names the model_type and the supported list. `modelConfigToHfJson` writes
 * the config.json a fine-tuned classifier is exported with (architectures, model_type, id2label).
 */
import {
  BERT_DEFAULTS,
  type BertActivation,
  type BertConfig,
  configObject,
  type EncoderConfig,
  invalid,
  labelMaps,
  readEncoderKeys,
  SUPPORTED_ACTIVATIONS,
} from "./config.ts";
import type { ModelFamily } from "./classifier.ts";

export interface RobertaConfig extends EncoderConfig {
  model_type: "roberta";
  bos_token_id: number;
  eos_token_id: number;
}

export interface ElectraConfig extends EncoderConfig {
  model_type: "electra";
  embedding_size: number;
}

/** transformers.DistilBertConfig keys (dim = hidden size, hidden_dim = FFN size). */
export interface DistilBertConfig {
  model_type: "distilbert";
  vocab_size: number;
  max_position_embeddings: number;
  sinusoidal_pos_embds: boolean;
  n_layers: number;
  n_heads: number;
  dim: number;
  hidden_dim: number;
  dropout: number;
  attention_dropout: number;
  activation: BertActivation;
  initializer_range: number;
  seq_classif_dropout: number;
  /** Dropout before the question-answering head's qa_outputs. */
  qa_dropout: number;
  pad_token_id: number;
}

export type ModelConfig = BertConfig | RobertaConfig | ElectraConfig | DistilBertConfig;

export const SUPPORTED_MODEL_TYPES: readonly ModelFamily[] = ["bert", "roberta", "electra", "distilbert"];

export const DISTILBERT_DEFAULTS: DistilBertConfig = {
  model_type: "distilbert",
  vocab_size: 30522,
  max_position_embeddings: 512,
  sinusoidal_pos_embds: false,
  n_layers: 6,
  n_heads: 12,
  dim: 768,
  hidden_dim: 3072,
  dropout: 0.1,
  attention_dropout: 0.1,
  activation: "gelu",
  initializer_range: 0.02,
  seq_classif_dropout: 0.2,
  qa_dropout: 0.1,
  pad_token_id: 0,
};

/** Class-name prefixes that identify a family when config.json has no model_type. */
const ARCHITECTURE_PREFIXES: [string, ModelFamily][] = [
  ["DistilBert", "distilbert"],
  ["Roberta", "roberta"],
  ["Electra", "electra"],
  ["Bert", "bert"],
];

function unsupported(modelType: unknown): never {
  throw invalid(
    `unsupported model_type '${String(modelType)}' (supported: ${SUPPORTED_MODEL_TYPES.join(", ")}; ` +
      `generative: gpt2, t5, mbart, marian)`,
    { model_type: modelType, supported: SUPPORTED_MODEL_TYPES },
  );
}

/** The family a config.json object declares. */
export function modelFamilyOf(obj: Record<string, unknown>): ModelFamily {
  const modelType = obj.model_type;
  if (modelType === undefined || modelType === null) {
    const architectures = Array.isArray(obj.architectures) ? obj.architectures.map(String) : [];
    for (const [prefix, family] of ARCHITECTURE_PREFIXES) {
      if (architectures.some((a) => a.startsWith(prefix))) return family;
    }
    throw invalid(
      `config.json has no model_type and no known architecture (supported: ${
        SUPPORTED_MODEL_TYPES.join(", ")
      })`,
      { architectures, supported: SUPPORTED_MODEL_TYPES },
    );
  }
  if (!(SUPPORTED_MODEL_TYPES as readonly unknown[]).includes(modelType)) unsupported(modelType);
  return modelType as ModelFamily;
}

function nonNegativeInteger(obj: Record<string, unknown>, key: string, fallback: number): number {
  const value = obj[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw invalid(`config.json: '${key}' must be a non-negative integer`, { key, value });
  }
  return value;
}

/** Parses config.json (object or text) of any supported family. */
export function parseModelConfig(json: unknown): ModelConfig {
  const obj = configObject(json);
  const family = modelFamilyOf(obj);
  switch (family) {
    case "bert":
      return readEncoderKeys(obj, { ...BERT_DEFAULTS });
    case "roberta": {
      const config = readEncoderKeys(obj, {
        ...BERT_DEFAULTS,
        model_type: "roberta" as const,
        pad_token_id: 1,
        bos_token_id: nonNegativeInteger(obj, "bos_token_id", 0),
        eos_token_id: nonNegativeInteger(obj, "eos_token_id", 2),
      });
      if (config.max_position_embeddings <= config.pad_token_id + 1) {
        throw invalid(
          `config.json: RoBERTa positions start at pad_token_id + 1 = ${config.pad_token_id + 1}, so ` +
            `max_position_embeddings ${config.max_position_embeddings} leaves no room for a token`,
        );
      }
      return config;
    }
    case "electra": {
      const config = readEncoderKeys(obj, {
        ...BERT_DEFAULTS,
        model_type: "electra" as const,
        embedding_size: 128,
      });
      const embeddingSize = obj.embedding_size;
      if (embeddingSize !== undefined) {
        if (typeof embeddingSize !== "number" || !Number.isInteger(embeddingSize) || embeddingSize < 1) {
          throw invalid("config.json: 'embedding_size' must be a positive integer", { embeddingSize });
        }
        config.embedding_size = embeddingSize;
      }
      return config;
    }
    case "distilbert":
      return parseDistilBertKeys(obj);
  }
}

function parseDistilBertKeys(obj: Record<string, unknown>): DistilBertConfig {
  const config: DistilBertConfig = { ...DISTILBERT_DEFAULTS };
  for (
    const key of [
      "vocab_size",
      "max_position_embeddings",
      "n_layers",
      "n_heads",
      "dim",
      "hidden_dim",
    ] as const
  ) {
    if (obj[key] === undefined) continue;
    const value = obj[key];
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw invalid(`config.json: '${key}' must be a positive integer`, { key, value });
    }
    config[key] = value;
  }
  for (const key of ["dropout", "attention_dropout", "seq_classif_dropout", "qa_dropout"] as const) {
    if (obj[key] === undefined) continue;
    const value = obj[key];
    if (typeof value !== "number" || !(value >= 0 && value < 1)) {
      throw invalid(`config.json: '${key}' must be a number in [0, 1)`, { key, value });
    }
    config[key] = value;
  }
  if (obj.initializer_range !== undefined) {
    const value = obj.initializer_range;
    if (typeof value !== "number" || !(value > 0)) {
      throw invalid("config.json: 'initializer_range' must be a positive number", { value });
    }
    config.initializer_range = value;
  }
  if (obj.activation !== undefined) {
    if (!(SUPPORTED_ACTIVATIONS as readonly unknown[]).includes(obj.activation)) {
      throw invalid(
        `config.json: unsupported activation '${String(obj.activation)}' (supported: ${
          SUPPORTED_ACTIVATIONS.join(", ")
        })`,
        { activation: obj.activation },
      );
    }
    config.activation = obj.activation as BertActivation;
  }
  if (obj.sinusoidal_pos_embds !== undefined) {
    if (typeof obj.sinusoidal_pos_embds !== "boolean") {
      throw invalid("config.json: 'sinusoidal_pos_embds' must be true or false");
    }
    config.sinusoidal_pos_embds = obj.sinusoidal_pos_embds;
  }
  config.pad_token_id = nonNegativeInteger(obj, "pad_token_id", 0);
  if (config.dim % config.n_heads !== 0) {
    throw invalid(`config.json: dim ${config.dim} is not a multiple of n_heads ${config.n_heads}`);
  }
  if (config.pad_token_id >= config.vocab_size) {
    throw invalid(`config.json: pad_token_id ${config.pad_token_id} is outside the vocabulary`);
  }
  return config;
}

const ARCHITECTURE: Record<ModelFamily, string> = {
  bert: "BertForSequenceClassification",
  roberta: "RobertaForSequenceClassification",
  electra: "ElectraForSequenceClassification",
  distilbert: "DistilBertForSequenceClassification",
};

/** The config.json of a fine-tuned classifier of any family, as transformers saves it. */
export function modelConfigToHfJson(config: ModelConfig, labels: string[]): Record<string, unknown> {
  return {
    architectures: [ARCHITECTURE[config.model_type]],
    ...config,
    ...labelMaps(labels),
    problem_type: "single_label_classification",
    torch_dtype: "float32",
  };
}
