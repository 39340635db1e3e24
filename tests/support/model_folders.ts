/**
 * Test support: small random Hugging Face folders of every supported model family (BERT, RoBERTa, ELECTRA,
 * DistilBERT), with a tokenizer of the family's style, exactly as the model upload route accepts them.
 */
import { exportHfFolder } from "../../shared/core/checkpoint/hf_folder.ts";
import { initSequenceClassifier } from "../../shared/core/model/load.ts";
import { byteLevelVocab, robertaTokenizerJson } from "../../shared/core/tokenizer/bpe_json.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { FOLDER_FILES } from "../../edge/models/upload.ts";

export const TEXTS = [
  "a good film",
  "a bad film",
  "good acting and a good plot",
  "bad plot , bad acting",
  "fine",
];
const MERGES = ["Ġ g", "o o", "Ġg oo", "Ġgoo d", "Ġ b", "a d", "Ġb ad", "f i", "l m", "fi lm", "Ġ fi"];
const ENCODER = { hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 24 };
export const CONFIGS: Record<string, Record<string, unknown>> = {
  bert: { model_type: "bert", ...ENCODER, max_position_embeddings: 32 },
  roberta: { model_type: "roberta", ...ENCODER, max_position_embeddings: 34, type_vocab_size: 1 },
  electra: { model_type: "electra", ...ENCODER, embedding_size: 8, max_position_embeddings: 32 },
  distilbert: {
    model_type: "distilbert",
    dim: 16,
    n_layers: 2,
    n_heads: 2,
    hidden_dim: 24,
    max_position_embeddings: 32,
  },
};

export function tokenizerFor(family: string): TextTokenizer {
  if (family === "roberta") {
    return TextTokenizer.fromTokenizerJson(robertaTokenizerJson(byteLevelVocab(MERGES), MERGES));
  }
  return TextTokenizer.trainWordPiece(TEXTS, { vocabSize: 60, lowercase: true, minFrequency: 1 });
}

/** An HF folder of a random classifier of `family`, as the upload route accepts it today. */
export function familyFolder(family: string, labels = ["neg", "pos"]): Record<string, Uint8Array> {
  const tokenizer = tokenizerFor(family);
  const model = initSequenceClassifier(
    { ...CONFIGS[family], vocab_size: tokenizer.vocabSize },
    labels.length,
    7,
  );
  const files = exportHfFolder(model, tokenizer, labels);
  model.dispose();
  for (const name of Object.keys(files)) if (!(name in FOLDER_FILES)) delete files[name];
  return files;
}
