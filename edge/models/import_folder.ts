/**
 * Validates an uploaded Hugging Face model folder before it is accepted: config.json must be a supported
 * family's config (BERT/MiniLM, RoBERTa, ELECTRA, DistilBERT — anything else is a 400 naming the model_type
 * and the supported list), model.safetensors' header must match it tensor by tensor, and a tokenizer
 * (tokenizer.json; or vocab.txt for WordPiece; or vocab.json + merges.txt for byte-level BPE, with
 * tokenizer_config.json if given) must load, fit the vocabulary and use the family's input template
 * (`[CLS]…[SEP]` or `<s>…</s>`). A folder whose config has `id2label` and whose checkpoint holds a head of
 * that many outputs is a ready `text-classification` model. A folder without tokenizer.json gets a generated
 * one so every stored folder loads the same way.
 */
import { ApiError, invalidRequest } from "../../shared/schemas/errors.ts";
import type { TaskName } from "../../shared/schemas/resources.ts";
import { readSafetensorsHeader } from "../../shared/core/checkpoint/safetensors.ts";
import { validateCheckpointShapes } from "../../shared/core/checkpoint/hf_folder.ts";
import { type ModelConfig, parseModelConfig } from "../../shared/core/model/family_config.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { labelsFromId2Label } from "./records.ts";
import { fileJson, fileText, type ModelUpload } from "./upload.ts";

export interface ValidatedFolder {
  config: ModelConfig;
  rawConfig: Record<string, unknown>;
  task: TaskName | null;
  /** Serving options read from config.json (e.g. multi_label from problem_type). */
  taskOptions?: Record<string, unknown>;
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
  const vocabJson = fileText(upload, "vocab.json");
  const merges = fileText(upload, "merges.txt");
  if (vocabJson !== null || merges !== null) {
    if (vocabJson === null || merges === null) {
      throw invalidRequest("a byte-level BPE tokenizer needs both vocab.json and merges.txt");
    }
    return TextTokenizer.fromVocabJsonAndMerges(vocabJson, merges, tokenizerConfig);
  }
  const vocab = fileText(upload, "vocab.txt");
  if (vocab === null) {
    throw invalidRequest(
      "a tokenizer is required: send tokenizer.json, vocab.txt, or vocab.json + merges.txt",
    );
  }
  return TextTokenizer.fromVocabTxt(vocab, { lowercase: tokenizerConfig.do_lower_case !== false });
}

/** The checkpoint name of the family's output layer and its expected input width. */
function outputLayer(config: ModelConfig): { name: string; width: number } {
  switch (config.model_type) {
    case "distilbert":
      return { name: "classifier.weight", width: config.dim };
    case "roberta":
    case "electra":
      return { name: "classifier.out_proj.weight", width: config.hidden_size };
    case "bert":
      return { name: "classifier.weight", width: config.hidden_size };
  }
}

export function validateFolder(upload: ModelUpload): ValidatedFolder {
  const rawConfig = fileJson(upload, "config.json");
  if (rawConfig === null) throw invalidRequest("config.json is required");
  if (upload.weights === null) throw invalidRequest("model.safetensors is required");
  const config = parseModelConfig(rawConfig);

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
  const wanted = config.model_type === "roberta" ? "roberta" : "bert";
  if (tokenizer.template !== wanted) {
    throw invalidFile(
      `a ${config.model_type} model needs a ${
        wanted === "roberta" ? "RoBERTa-style tokenizer (<s> … </s>)" : "BERT-style tokenizer ([CLS] … [SEP])"
      }, but the uploaded tokenizer is ${tokenizer.template === "roberta" ? "RoBERTa" : "BERT"}-style`,
    );
  }

  let labels = labelsFromId2Label(rawConfig);
  const head = outputLayer(config);
  const classifier = header.tensors[head.name];
  if (
    labels && !(classifier && classifier.shape[0] === labels.length && classifier.shape[1] === head.width)
  ) {
    labels = null; // id2label without a matching trained head (e.g. a pre-trained MLM checkpoint)
  }

  let parameters = 0;
  for (const [name, entry] of Object.entries(header.tensors)) {
    if (name.endsWith("position_ids") || name.endsWith("token_type_ids")) continue;
    parameters += entry.shape.reduce((a, b) => a * b, 1);
  }
  const extraFiles: Record<string, Uint8Array> = {};
  if (!upload.files.has("tokenizer.json")) {
    extraFiles["tokenizer.json"] = new TextEncoder().encode(tokenizer.toTokenizerJson());
  }
  if (!upload.files.has("tokenizer_config.json") && tokenizer.template === "roberta") {
    // Without it a loader would fall back to BERT's special token names.
    const maxLength = config.max_position_embeddings - config.pad_token_id - 1;
    extraFiles["tokenizer_config.json"] = new TextEncoder().encode(
      JSON.stringify(tokenizer.tokenizerConfig(maxLength), null, 2) + "\n",
    );
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
