/**
 * The Hugging Face folder of a pre-trained (masked-LM) BERT, as bytes per file name: config.json with
 * architectures ["BertForMaskedLM"] and no labels, model.safetensors with HF BertForMaskedLM names (the
 * decoder weight left out, as save_pretrained does for tied weights: it is the word embedding matrix),
 * tokenizer.json, tokenizer_config.json and, for WordPiece vocabularies, vocab.txt. transformers'
 * `AutoModelForMaskedLM` loads it as is, and edgetune fine-tuning jobs use it as a base model
 * (loadBertForSequenceClassification drops `cls.*` and initialises the pooler and classifier).
 */
import type { BertConfig } from "../../model/config.ts";
import { type BertForMaskedLM, maskedLmStateDict } from "../../model/mlm_head.ts";
import { writeSafetensors } from "../../checkpoint/safetensors.ts";
import type { TextTokenizer } from "../../tokenizer/text_tokenizer.ts";

const encodeJson = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");

/** config.json of a BertForMaskedLM (a base model: no id2label). */
export function maskedLmConfigJson(config: BertConfig): Record<string, unknown> {
  return {
    architectures: ["BertForMaskedLM"],
    ...config,
    model_type: "bert",
    tie_word_embeddings: true,
    torch_dtype: "float32",
  };
}

export function exportMaskedLmFolder(
  model: BertForMaskedLM,
  tokenizer: TextTokenizer,
): Record<string, Uint8Array> {
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, tensor] of maskedLmStateDict(model)) tensors.set(name, tensor);
  const files: Record<string, Uint8Array> = {
    "config.json": encodeJson(maskedLmConfigJson(model.config)),
    "model.safetensors": writeSafetensors(tensors, { format: "pt" }),
    "tokenizer.json": new TextEncoder().encode(tokenizer.toTokenizerJson()),
    "tokenizer_config.json": encodeJson(tokenizer.tokenizerConfig(model.config.max_position_embeddings)),
  };
  const vocab = tokenizer.toVocabTxt();
  if (vocab !== null) files["vocab.txt"] = new TextEncoder().encode(vocab);
  return files;
}
