/**
 * Test support: the tiny BERT config the core tests train (2 layers, hidden 16, 2 heads, FFN 32, 16
 * positions), sized to a given tokenizer's vocabulary.
 */
import { type BertConfig, parseBertConfig } from "../../shared/core/model/config.ts";

export function tinyBertConfig(vocabSize: number): BertConfig {
  return parseBertConfig({
    model_type: "bert",
    vocab_size: vocabSize,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 16,
  });
}
