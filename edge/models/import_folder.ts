/**
 * Validates an uploaded Hugging Face model folder before it is accepted: config.json must be a supported
 * BERT config, model.safetensors' header must match it tensor by tensor, and a tokenizer (tokenizer.json or
 * vocab.txt, with tokenizer_config.json if given) must load and fit the vocabulary. A folder whose config has
 * `id2label` and whose checkpoint holds a classifier of that many outputs is a ready `text-classification`
 * model. A vocab.txt-only folder also gets a generated tokenizer.json so every stored folder loads the same way.
 */
import {
  type BertConfig,
  parseBertConfig,
  readSafetensorsHeader,
  TextTokenizer,
  validateCheckpointShapes,
} from "../../shared/core/mod.ts";
import { ApiError, invalidRequest } from "../../shared/schemas/errors.ts";
import type { TaskName } from "../../shared/schemas/resources.ts";
import { labelsFromId2Label } from "./records.ts";
import { fileJson, fileText, type ModelUpload } from "./upload.ts";

export interface ValidatedFolder {
  config: BertConfig;
  rawConfig: Record<string, unknown>;
  task: TaskName | null;
  labels: string[] | null;
  parameters: number;
  /** Files to write besides the uploaded ones (a generated tokenizer.json). */
  extraFiles: Record<string, Uint8Array>;
}

const invalidFile = (message: string, details?: unknown) =>
  new ApiError(400, "invalid_file", message, details);

export function loadUploadedTokenizer(upload: ModelUpload): TextTokenizer {
  const tokenizerConfig = fileJson(upload, "tokenizer_config.json") ?? {};
  const tokenizerJson = fileText(upload, "tokenizer.json");
  if (tokenizerJson !== null) return TextTokenizer.fromTokenizerJson(tokenizerJson, tokenizerConfig);
  const vocab = fileText(upload, "vocab.txt");
  if (vocab === null) throw invalidRequest("a tokenizer is required: send tokenizer.json or vocab.txt");
  return TextTokenizer.fromVocabTxt(vocab, { lowercase: tokenizerConfig.do_lower_case !== false });
}

export function validateFolder(upload: ModelUpload): ValidatedFolder {
  const rawConfig = fileJson(upload, "config.json");
  if (rawConfig === null) throw invalidRequest("config.json is required");
  if (upload.weights === null) throw invalidRequest("model.safetensors is required");
  const config = parseBertConfig(rawConfig);

  if (upload.weights.headerTooLarge) throw invalidFile("model.safetensors: header is larger than 16 MB");
  const header = readSafetensorsHeader(upload.weights.head);
  const problems = validateCheckpointShapes(config, header);
  if (problems.length > 0) {
    throw invalidFile(`model.safetensors does not fit config.json: ${problems[0]}`, {
      problems: problems.slice(0, 20),
    });
  }

  const tokenizer = loadUploadedTokenizer(upload);
  if (tokenizer.vocabSize > config.vocab_size) {
    throw invalidFile(
      `the tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${config.vocab_size}`,
    );
  }

  let labels = labelsFromId2Label(rawConfig);
  const classifier = Object.entries(header.tensors).find(([name]) => name.endsWith("classifier.weight"))?.[1];
  if (
    labels &&
    !(classifier && classifier.shape[0] === labels.length && classifier.shape[1] === config.hidden_size)
  ) {
    labels = null; // id2label without a matching trained head (e.g. a pre-trained MLM checkpoint)
  }

  let parameters = 0;
  for (const [name, entry] of Object.entries(header.tensors)) {
    if (name.endsWith("position_ids")) continue;
    parameters += entry.shape.reduce((a, b) => a * b, 1);
  }
  const extraFiles: Record<string, Uint8Array> = {};
  if (!upload.files.has("tokenizer.json")) {
    extraFiles["tokenizer.json"] = new TextEncoder().encode(tokenizer.toTokenizerJson());
  }
  return {
    config,
    rawConfig,
    task: labels ? "text-classification" : null,
    labels,
    parameters,
    extraFiles,
  };
}
