/**
 * The Hugging Face model folder of a fine-tuned classifier, as bytes per file name: config.json
 * (BertForSequenceClassification, id2label/label2id), model.safetensors (HF parameter names, F32),
 * tokenizer.json, tokenizer_config.json and, for WordPiece vocabularies, vocab.txt — what
 * `AutoModelForSequenceClassification.from_pretrained` and `AutoTokenizer.from_pretrained` load. Also the
 * cheap pre-flight check that a checkpoint's header fits a config (run on the header alone, before any
 * tensor data is read).
 */
import type { BertForSequenceClassification } from "../model/bert.ts";
import { bertParameterShapes } from "../model/bert.ts";
import { type BertConfig, bertConfigToHfJson } from "../model/config.ts";
import { canonicalBertName } from "../model/load.ts";
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import { type SafetensorsHeader, writeSafetensors } from "./safetensors.ts";

const encodeJson = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");

export function exportHfFolder(
  model: BertForSequenceClassification,
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
    "config.json": encodeJson(bertConfigToHfJson(model.config, labels)),
    "model.safetensors": writeSafetensors(tensors, { format: "pt" }),
    "tokenizer.json": new TextEncoder().encode(tokenizer.toTokenizerJson()),
    "tokenizer_config.json": encodeJson(tokenizer.tokenizerConfig(model.config.max_position_embeddings)),
  };
  const vocab = tokenizer.toVocabTxt();
  if (vocab !== null) files["vocab.txt"] = new TextEncoder().encode(vocab); // for slow BertTokenizer users
  return files;
}

/**
 * Problems that would make loading `header`'s tensors into a model of `config` fail: shape mismatches and
 * missing encoder weights (a missing pooler or classifier is fine: those are initialised). Empty = loadable.
 */
export function validateCheckpointShapes(
  config: BertConfig,
  header: Pick<SafetensorsHeader, "tensors">,
): string[] {
  const expected = bertParameterShapes(config, 2);
  const problems: string[] = [];
  const present = new Set<string>();
  for (const [checkpointName, entry] of Object.entries(header.tensors)) {
    const name = canonicalBertName(checkpointName);
    if (name === null || name.startsWith("classifier.")) continue;
    const shape = expected.get(name);
    if (!shape) continue;
    present.add(name);
    if (entry.shape.join(",") !== shape.join(",")) {
      problems.push(`${checkpointName}: shape [${entry.shape}] does not match config (expected [${shape}])`);
    }
  }
  for (const name of expected.keys()) {
    if (name.startsWith("bert.encoder.") || name.startsWith("bert.embeddings.")) {
      if (!present.has(name)) problems.push(`${name}: missing from the checkpoint`);
    }
  }
  return problems;
}
