/**
 * The BERT configuration, with Hugging Face's config.json keys and defaults (transformers' BertConfig), and
 * the parser that accepts a user's config.json: model_type "bert" (or no model_type with a Bert* class in
 * `architectures`), a supported activation and absolute position embeddings. Anything else is refused with
 * ApiError 400 invalid_file naming the offending key, so a wrong upload fails at job creation, not mid-run.
 * The key reader is shared with the families built on BERT's encoder (RoBERTa, ELECTRA: family_config.ts).
 */
import { ApiError } from "../../schemas/errors.ts";

export interface BertConfig {
  model_type: "bert";
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: BertActivation;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  pad_token_id: number;
  /** Dropout before the classifier; null means hidden_dropout_prob (as in HF). */
  classifier_dropout: number | null;
  position_embedding_type: "absolute";
}

export const SUPPORTED_ACTIVATIONS = ["gelu", "relu", "gelu_new", "gelu_pytorch_tanh"] as const;
export type BertActivation = typeof SUPPORTED_ACTIVATIONS[number];

/** transformers.BertConfig defaults (bert-base-uncased). */
export const BERT_DEFAULTS: BertConfig = {
  model_type: "bert",
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  classifier_dropout: null,
  position_embedding_type: "absolute",
};

/** The config of any family built on BERT's encoder: BertConfig keys plus ELECTRA's embedding size. */
export interface EncoderConfig extends Omit<BertConfig, "model_type"> {
  model_type: "bert" | "roberta" | "electra";
  /** ELECTRA: width of the embeddings (projected to hidden_size when different); absent = hidden_size. */
  embedding_size?: number;
  bos_token_id?: number;
  eos_token_id?: number;
}

export const invalid = (message: string, details?: unknown) =>
  new ApiError(400, "invalid_file", message, details);

/** config.json (text or parsed) as a plain object, or 400 invalid_file. */
export function configObject(json: unknown): Record<string, unknown> {
  let raw: unknown = json;
  if (typeof raw === "string") {
    try {
      raw = JSON.parse(raw);
    } catch (error) {
      throw invalid(`config.json is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw invalid("config.json must be a JSON object");
  }
  return raw as Record<string, unknown>;
}

/** Parses a config.json object (or its text) into a complete BertConfig. */
export function parseBertConfig(json: unknown): BertConfig {
  const obj = configObject(json);
  const modelType = obj.model_type;
  const architectures = Array.isArray(obj.architectures) ? obj.architectures.map(String) : [];
  if (modelType === undefined || modelType === null) {
    if (!architectures.some((a) => a.startsWith("Bert"))) {
      throw invalid(
        "config.json has no model_type and no Bert* architecture; only BERT models are supported",
        { architectures },
      );
    }
  } else if (modelType !== "bert") {
    throw invalid(`unsupported model_type '${String(modelType)}': only 'bert' is supported`, {
      model_type: modelType,
    });
  }

  return readEncoderKeys(obj, { ...BERT_DEFAULTS });
}

/** Reads BertConfig's keys from `obj` over `defaults`, validating each (see module comment). */
export function readEncoderKeys<C extends Omit<BertConfig, "model_type">>(
  obj: Record<string, unknown>,
  defaults: C,
): C {
  const config: Omit<BertConfig, "model_type"> = { ...defaults };
  const integerKeys = [
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
  ] as const;
  for (const key of integerKeys) {
    if (obj[key] === undefined) continue;
    const value = obj[key];
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw invalid(`config.json: '${key}' must be a positive integer`, { key, value });
    }
    config[key] = value;
  }
  const probabilityKeys = ["hidden_dropout_prob", "attention_probs_dropout_prob"] as const;
  for (const key of probabilityKeys) {
    if (obj[key] === undefined) continue;
    config[key] = probability(key, obj[key]);
  }
  if (obj.classifier_dropout !== undefined && obj.classifier_dropout !== null) {
    config.classifier_dropout = probability("classifier_dropout", obj.classifier_dropout);
  }
  for (const key of ["initializer_range", "layer_norm_eps"] as const) {
    if (obj[key] === undefined) continue;
    const value = obj[key];
    if (typeof value !== "number" || !(value > 0)) {
      throw invalid(`config.json: '${key}' must be a positive number`, { key, value });
    }
    config[key] = value;
  }
  if (obj.pad_token_id !== undefined && obj.pad_token_id !== null) {
    const value = obj.pad_token_id;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      throw invalid("config.json: 'pad_token_id' must be a non-negative integer", { value });
    }
    config.pad_token_id = value;
  }
  if (obj.hidden_act !== undefined) {
    if (!(SUPPORTED_ACTIVATIONS as readonly unknown[]).includes(obj.hidden_act)) {
      throw invalid(
        `config.json: unsupported hidden_act '${String(obj.hidden_act)}' (supported: ${
          SUPPORTED_ACTIVATIONS.join(", ")
        })`,
        { hidden_act: obj.hidden_act },
      );
    }
    config.hidden_act = obj.hidden_act as BertActivation;
  }
  if (obj.position_embedding_type !== undefined && obj.position_embedding_type !== "absolute") {
    throw invalid(
      `config.json: position_embedding_type '${String(obj.position_embedding_type)}' is not supported ` +
        "(only 'absolute')",
    );
  }
  if (config.hidden_size % config.num_attention_heads !== 0) {
    throw invalid(
      `config.json: hidden_size ${config.hidden_size} is not a multiple of num_attention_heads ` +
        `${config.num_attention_heads}`,
    );
  }
  if (config.pad_token_id >= config.vocab_size) {
    throw invalid(`config.json: pad_token_id ${config.pad_token_id} is outside the vocabulary`);
  }
  return config as C;
}

function probability(key: string, value: unknown): number {
  if (typeof value !== "number" || !(value >= 0 && value < 1)) {
    throw invalid(`config.json: '${key}' must be a number in [0, 1)`, { key, value });
  }
  return value;
}

/** The config.json a Hugging Face loader expects for a fine-tuned sequence classifier. */
export function bertConfigToHfJson(config: BertConfig, labels: string[]): Record<string, unknown> {
  return {
    architectures: ["BertForSequenceClassification"],
    ...config,
    model_type: "bert",
    ...labelMaps(labels),
    problem_type: "single_label_classification",
    torch_dtype: "float32",
  };
}

/** id2label / label2id as HF writes them. */
export function labelMaps(labels: string[]): {
  id2label: Record<string, string>;
  label2id: Record<string, number>;
} {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  labels.forEach((label, i) => {
    id2label[String(i)] = label;
    label2id[label] = i;
  });
  return { id2label, label2id };
}
