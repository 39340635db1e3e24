/**
 * Validates an uploaded Hugging Face model folder before it is accepted: config.json must be a supported
 * family's config (BERT/MiniLM, RoBERTa, ELECTRA, DistilBERT — anything else is a 400 naming the model_type
 * and the supported list), model.safetensors' header must match it tensor by tensor, and a tokenizer
 * (tokenizer.json; or vocab.txt for WordPiece; or vocab.json + merges.txt for byte-level BPE, with
 * tokenizer_config.json if given) must load, fit the vocabulary and use the family's input template
 * (`[CLS]…[SEP]` or `<s>…</s>`). A folder with a trained head is ready to serve its task: a sequence or
 * token classifier with as many outputs as `id2label` (text-classification, multi-label when problem_type
 * says so; token-classification), a 1-output regression head (text-regression) or `qa_outputs`
 * (question-answering); the head kind comes from `architectures`, else from the tensor names. A folder without tokenizer.json gets a generated
 * one so every stored folder loads the same way.
 */
import { ApiError, invalidRequest } from "../../shared/schemas/errors.ts";
import type { TaskName } from "../../shared/schemas/resources.ts";
import { readSafetensorsHeader } from "../../shared/core/checkpoint/safetensors.ts";
import { validateCheckpointShapes } from "../../shared/core/checkpoint/hf_folder.ts";
import { type ModelConfig, parseModelConfig } from "../../shared/core/model/family_config.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { labelsFromId2Label } from "./records.ts";
import type { HeadKind } from "../../shared/core/model/classifier.ts";
import { headKindOfConfig, headKindOfTensors } from "../../shared/core/model/task_heads.ts";
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

/** The checkpoint name of the family's output layer for a head kind, and its expected input width. */
function outputLayer(config: ModelConfig, head: HeadKind): { name: string; width: number } {
  const width = config.model_type === "distilbert" ? config.dim : config.hidden_size;
  if (head === "span") return { name: "qa_outputs.weight", width };
  if (head === "token") return { name: "classifier.weight", width };
  const sequenceHead = config.model_type === "roberta" || config.model_type === "electra"
    ? "classifier.out_proj.weight"
    : "classifier.weight";
  return { name: sequenceHead, width };
}

/**
 * The task a trained head serves: a question-answering head (2 outputs), a token classifier or a sequence
 * classifier whose output count matches id2label, a 1-output regression head (problem_type regression);
 * null for a base model (no head, or one that does not fit its labels).
 */
function servedTask(
  config: ModelConfig,
  rawConfig: Record<string, unknown>,
  tensors: Record<string, { shape: number[] }>,
): { task: TaskName | null; labels: string[] | null; taskOptions: Record<string, unknown> } {
  const none = { task: null, labels: null, taskOptions: {} };
  const head = headKindOfConfig(rawConfig) ?? headKindOfTensors(config.model_type, Object.keys(tensors));
  if (head === null) return none;
  const layer = outputLayer(config, head);
  const weight = tensors[layer.name];
  if (!weight || weight.shape[1] !== layer.width) return none;
  if (head === "span") return weight.shape[0] === 2 ? { ...none, task: "question-answering" } : none;
  if (rawConfig.problem_type === "regression" && weight.shape[0] === 1) {
    return { ...none, task: "text-regression" };
  }
  const labels = labelsFromId2Label(rawConfig);
  if (!labels || weight.shape[0] !== labels.length) return none; // e.g. a pre-trained MLM checkpoint
  if (head === "token") return { task: "token-classification", labels, taskOptions: {} };
  const multiLabel = rawConfig.problem_type === "multi_label_classification";
  return { task: "text-classification", labels, taskOptions: multiLabel ? { multi_label: true } : {} };
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

  const served = servedTask(config, rawConfig, header.tensors);

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
    task: served.task,
    labels: served.labels,
    taskOptions: served.taskOptions,
    parameters,
    extraFiles,
  };
}
