/**
 * The Hugging Face model folder of a fine-tuned model of any family and head, as bytes per file name:
 * config.json (the family's *ForSequenceClassification / *ForTokenClassification / *ForQuestionAnswering in
 * `architectures`, model_type, id2label/label2id, problem_type), model.safetensors (HF parameter names, F32),
 * tokenizer.json, tokenizer_config.json and the slow tokenizer's files (vocab.txt for WordPiece; vocab.json +
 * merges.txt for byte-level BPE) — what `AutoModelFor….from_pretrained` and `AutoTokenizer.from_pretrained`
 * load. Also the cheap pre-flight check that a checkpoint's header fits a config (run on the header alone,
 * before any tensor data is read).
 */
import type { SequenceClassifier } from "../model/classifier.ts";
import { labelMaps } from "../model/config.ts";
import { type ModelConfig, modelConfigToHfJson } from "../model/family_config.ts";
import { canonicalName, isHeadParameter, parameterShapes } from "../model/load.ts";
import { architectureName } from "../model/task_heads.ts";
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import type { ProblemType } from "../train/sequence_tasks.ts";
import { type SafetensorsHeader, writeSafetensors } from "./safetensors.ts";

export interface ExportOptions {
  /** transformers' config.problem_type (sequence default: single-label; regression with 1 output). */
  problemType?: ProblemType;
}

const encodeJson = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");

/**
 * The config.json of `model`: the family config, the head's class in `architectures`, id2label/label2id for
 * sequence and token heads (a regression head with no label names gets HF's {0: "LABEL_0"}; span heads have
 * none), and problem_type (given, or the sequence head's default).
 */
export function hfConfigJson(
  model: SequenceClassifier,
  labels: string[],
  options: ExportOptions = {},
): Record<string, unknown> {
  const names = model.head === "sequence" && model.numLabels === 1 && labels.length === 0
    ? ["LABEL_0"]
    : labels;
  if (model.head !== "span" && names.length !== model.numLabels) {
    throw new Error(`exportHfFolder: ${names.length} labels for a model with ${model.numLabels} outputs`);
  }
  const json = modelConfigToHfJson(model.config as ModelConfig, model.head === "span" ? [] : names);
  json.architectures = [architectureName(model.family, model.head)];
  if (model.head === "span") {
    delete json.id2label;
    delete json.label2id;
  } else Object.assign(json, labelMaps(names));
  const defaultProblem = model.head !== "sequence"
    ? undefined
    : model.numLabels === 1
    ? "regression"
    : "single_label_classification";
  const problemType = options.problemType ?? defaultProblem;
  if (problemType === undefined) delete json.problem_type;
  else json.problem_type = problemType;
  return json;
}

export function exportHfFolder(
  model: SequenceClassifier,
  tokenizer: TextTokenizer,
  labels: string[],
  options: ExportOptions = {},
): Record<string, Uint8Array> {
  const config = hfConfigJson(model, labels, options);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, variable] of model.params) {
    tensors.set(name, { shape: [...variable.shape], data: variable.dataSync() as Float32Array });
  }
  const files: Record<string, Uint8Array> = {
    "config.json": encodeJson(config),
    "model.safetensors": writeSafetensors(tensors, { format: "pt" }),
    "tokenizer.json": new TextEncoder().encode(tokenizer.toTokenizerJson()),
    "tokenizer_config.json": encodeJson(tokenizer.tokenizerConfig(model.maxSequenceLength)),
  };
  const text = (value: string | null, name: string) => {
    if (value !== null) files[name] = new TextEncoder().encode(value);
  };
  text(tokenizer.toVocabTxt(), "vocab.txt"); // for slow BertTokenizer users
  text(tokenizer.toVocabJson(), "vocab.json"); // for slow RobertaTokenizer users
  text(tokenizer.toMergesTxt(), "merges.txt");
  return files;
}

/**
 * Problems that would make loading `header`'s tensors into a model of `config` fail: shape mismatches and
 * missing embedding/encoder weights (a missing pooler or head is fine: those are initialised). Empty =
 * loadable.
 */
export function validateCheckpointShapes(
  config: ModelConfig,
  header: Pick<SafetensorsHeader, "tensors">,
): string[] {
  const family = config.model_type;
  const expected = parameterShapes(config, 2);
  const problems: string[] = [];
  const present = new Set<string>();
  for (const [checkpointName, entry] of Object.entries(header.tensors)) {
    const name = canonicalName(family, checkpointName);
    if (name === null || isHeadParameter(family, name)) continue;
    const shape = expected.get(name);
    if (!shape) continue;
    present.add(name);
    if (entry.shape.join(",") !== shape.join(",")) {
      problems.push(`${checkpointName}: shape [${entry.shape}] does not match config (expected [${shape}])`);
    }
  }
  for (const name of expected.keys()) {
    if (!isHeadParameter(family, name) && !present.has(name)) {
      problems.push(`${name}: missing from the checkpoint`);
    }
  }
  return problems;
}
