/**
 * Creating a randomly initialised BERT from a JSON spec (what offline tests and demos train from): the spec is
 * zod-validated with bounded sizes (hidden_size a multiple of num_attention_heads, at most 100M parameters),
 * the tokenizer is learned from a dataset column (WordPiece), copied from another model of the tenant, or
 * taken from an uploaded tokenizer.json / vocab.txt (multipart, with the spec as a `spec` field), and the
 * result is exported as an HF folder. Optional `labels` give the model a (random) classification head.
 * Generative architectures (GPT-2, T5, Marian, mBART) are built by random_generative.ts from the same
 * tokenizer sources.
 */
import { z } from "zod";
import {
  type BertConfig,
  exportHfFolder,
  initBertForSequenceClassification,
  parseBertConfig,
  prepareBackend,
  TextTokenizer,
} from "../../shared/core/mod.ts";
import { readTable } from "../../shared/data/mod.ts";
import type { Platform } from "../../shared/platform/types.ts";
import { invalidRequest } from "../../shared/schemas/errors.ts";
import { type DatasetRecord, type ModelRecord, type TaskName } from "../../shared/schemas/resources.ts";
import { buildRandomGenerative, generativeModelSpec } from "./random_generative.ts";
import { tokenizerSpec } from "./tokenizer_spec.ts";
import { getOwned, parseJsonText } from "../http.ts";
import { loadUploadedTokenizer } from "./import_folder.ts";
import type { ModelUpload } from "./upload.ts";

const MAX_PARAMETERS = 100_000_000;
const MAX_TOKENIZER_ROWS = 200_000;

const bertSizes = z.object({
  hidden_size: z.number().int().min(8).max(2048),
  num_hidden_layers: z.number().int().min(1).max(48),
  num_attention_heads: z.number().int().min(1).max(64),
  intermediate_size: z.number().int().min(8).max(8192),
  max_position_embeddings: z.number().int().min(16).max(4096).default(512),
  type_vocab_size: z.number().int().min(1).max(16).default(2),
  hidden_act: z.enum(["gelu", "relu", "gelu_new", "gelu_pytorch_tanh"]).default("gelu"),
  hidden_dropout_prob: z.number().min(0).lt(1).default(0.1),
  attention_probs_dropout_prob: z.number().min(0).lt(1).default(0.1),
  initializer_range: z.number().positive().max(1).default(0.02),
  layer_norm_eps: z.number().positive().max(0.1).default(1e-12),
}).strict().refine((c) => c.hidden_size % c.num_attention_heads === 0, {
  message: "hidden_size must be a multiple of num_attention_heads",
  path: ["hidden_size"],
});

export const bertModelSpec = z.object({
  name: z.string().trim().min(1).max(256),
  architecture: z.literal("bert").default("bert"),
  config: bertSizes,
  tokenizer: tokenizerSpec,
  /** Optional classification labels: the model then has a (random) head and can serve predictions. */
  labels: z.array(z.string().min(1).max(100)).min(2).max(1000).refine((l) => new Set(l).size === l.length, {
    message: "labels must be distinct",
  }).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).default(42),
}).strict();
export type BertModelSpec = z.infer<typeof bertModelSpec>;

/** A random-init spec: a BERT classifier/base model, or a generative model (random_generative.ts). */
export const randomModelSpec = z.union([bertModelSpec, generativeModelSpec]);
export type RandomModelSpec = z.infer<typeof randomModelSpec>;

/** Parses a spec with the schema of its `architecture` (so errors name that family's fields). */
export function parseRandomModelSpec(text: string, what: string): RandomModelSpec {
  let architecture: unknown = undefined;
  try {
    architecture = (JSON.parse(text) as { architecture?: unknown })?.architecture;
  } catch {
    // parseJsonText below reports the JSON error
  }
  const generative = ["gpt2", "t5", "marian", "mbart"].includes(architecture as string);
  return parseJsonText(text, generative ? generativeModelSpec : bertModelSpec, what);
}

/** Parameter count of a BERT classifier (embeddings, encoder, pooler, head). */
export function bertParameterCount(config: BertConfig, numLabels: number): number {
  const h = config.hidden_size;
  const i = config.intermediate_size;
  const embeddings = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) * h +
    2 * h;
  const layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h;
  return embeddings + config.num_hidden_layers * layer + (h * h + h) + (h * numLabels + numLabels);
}

export async function buildTokenizer(
  platform: Platform,
  tenant: string,
  spec: { tokenizer: z.infer<typeof tokenizerSpec> },
  upload: ModelUpload | null,
): Promise<TextTokenizer> {
  const source = spec.tokenizer;
  if ("file" in source) {
    if (upload === null || !upload.files.has(source.file)) {
      throw invalidRequest(
        `tokenizer.file is '${source.file}': send that file as a multipart part with the spec`,
      );
    }
    return loadUploadedTokenizer(upload);
  }
  if ("from_model" in source) {
    const model = await getOwned<ModelRecord>(
      platform.meta,
      "models",
      tenant,
      source.from_model,
      "tokenizer.from_model",
    );
    const json = await readBlobText(platform, model.value.blob_prefix + "tokenizer.json");
    const config = await readBlobText(platform, model.value.blob_prefix + "tokenizer_config.json").catch(() =>
      "{}"
    );
    return TextTokenizer.fromTokenizerJson(json, JSON.parse(config));
  }
  const dataset = await getOwned<DatasetRecord>(
    platform.meta,
    "datasets",
    tenant,
    source.dataset,
    "tokenizer.dataset",
  );
  if (!dataset.value.columns.includes(source.column)) {
    throw invalidRequest(`dataset '${source.dataset}' has no column "${source.column}"`, {
      columns: dataset.value.columns,
    });
  }
  const body = await platform.blobs.get(dataset.value.blob_key);
  if (body === null) throw new Error(`blob ${dataset.value.blob_key} is missing`);
  const texts: string[] = [];
  for await (const { row } of readTable(body, dataset.value.format)) {
    texts.push(row[source.column]);
    if (texts.length >= MAX_TOKENIZER_ROWS) break;
  }
  return TextTokenizer.trainWordPiece(texts, {
    vocabSize: source.vocab_size,
    lowercase: source.lowercase,
    minFrequency: source.min_frequency,
  });
}

async function readBlobText(platform: Platform, key: string): Promise<string> {
  const body = await platform.blobs.get(key);
  if (body === null) throw new Error(`blob ${key} is missing`);
  return await new Response(body).text();
}

export interface RandomModel {
  config: Record<string, unknown>;
  files: Record<string, Uint8Array>;
  labels: string[] | null;
  parameters: number;
  /** What the model serves: text-classification with labels, causal-lm / translation, or null (a base). */
  task: TaskName | null;
  architecture: string;
}

/** Builds the HF folder of a randomly initialised model; 400 for a spec the sizes bound refuses. */
export async function buildRandomModel(
  platform: Platform,
  tenant: string,
  spec: RandomModelSpec,
  upload: ModelUpload | null,
): Promise<RandomModel> {
  if (spec.architecture !== "bert") {
    const tokenizer = await buildTokenizer(platform, tenant, spec, upload);
    await prepareBackend();
    return buildRandomGenerative(spec, tokenizer);
  }
  const tokenizer = await buildTokenizer(platform, tenant, spec, upload);
  const config = parseBertConfig({ model_type: "bert", ...spec.config, vocab_size: tokenizer.vocabSize });
  const labels = spec.labels ?? null;
  const headLabels = labels ?? ["LABEL_0", "LABEL_1"];
  const parameters = bertParameterCount(config, headLabels.length);
  if (parameters > MAX_PARAMETERS) {
    throw invalidRequest(`the model would have ${parameters} parameters; the limit is ${MAX_PARAMETERS}`, [{
      path: "config",
      message: "too many parameters",
    }]);
  }
  await prepareBackend(); // no-op once the process chose its backend
  const model = initBertForSequenceClassification(config, headLabels.length, spec.seed);
  try {
    return {
      config: { ...config },
      files: exportHfFolder(model, tokenizer, headLabels),
      labels,
      parameters,
      task: labels ? "text-classification" : null,
      architecture: "bert",
    };
  } finally {
    for (const variable of model.params.values()) variable.dispose();
  }
}
