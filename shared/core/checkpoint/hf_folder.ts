/**
 * The Hugging Face model folder of a fine-tuned classifier of any family, as bytes per file name:
 * config.json (the family's *ForSequenceClassification, model_type, id2label/label2id), model.safetensors
 * (HF parameter names, F32), tokenizer.json, tokenizer_config.json and the slow tokenizer's files (vocab.txt
 * for WordPiece; vocab.json + merges.txt for byte-level BPE) — what
 * `AutoModelForSequenceClassification.from_pretrained` and `AutoTokenizer.from_pretrained` load. Also the
 * cheap pre-flight check that a checkpoint's header fits a config (run on the header alone, before any
 * tensor data is read).
 */
import type { SequenceClassifier } from "../model/classifier.ts";
import { type ModelConfig, modelConfigToHfJson } from "../model/family_config.ts";
import { canonicalName, isHeadParameter, parameterShapes } from "../model/load.ts";
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import { type SafetensorsHeader, writeSafetensors } from "./safetensors.ts";

const encodeJson = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");

export function exportHfFolder(
  model: SequenceClassifier,
  tokenizer: TextTokenizer,
  labels: string[],
): Record<string, Uint8Array> {
  if (labels.length !== model.numLabels) {
    throw new Error(`exportHfFolder: ${labels.length} labels for a model with ${model.numLabels} outputs`);
  }
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, variable] of model.params) {
    tensors.set(name, { shape: [...variable.shape], data: variable.dataSync() as Float32Array });
  }
  const files: Record<string, Uint8Array> = {
    "config.json": encodeJson(modelConfigToHfJson(model.config as ModelConfig, labels)),
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
