/**
 * Inference for a sequence-head model: texts (and optional second segments) → per text, softmax probabilities
 * (single-label), sigmoid probabilities (multi-label) or the raw outputs (regression), as transformers'
 * text-classification pipeline's function_to_apply. Also the tokenization every task shares (the tokenizer's
 * template; token type ids zeroed for models without segment embeddings) and the split of a forward output
 * into per-input rows for every head kind. Works in fixed-size batches of similar-length texts, each padded
 * only to its own longest row, with every tensor created inside tf.tidy or disposed, so serving any number of
 * requests leaves GPU/wasm memory where it was.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../schemas/errors.ts";
import type { SequenceClassifier } from "./model/classifier.ts";
import type { EncodedBatch, TextTokenizer } from "./tokenizer/text_tokenizer.ts";

export interface ClassifyOptions {
  maxLength: number;
  pairs?: string[];
  /** Texts per forward pass (default 32). */
  batchSize?: number;
  /** softmax (default; single-label), sigmoid (multi-label) or none (regression: the raw output). */
  activation?: "softmax" | "sigmoid" | "none";
}

/** Models without segment embeddings (RoBERTa's single type, DistilBERT) get all-zero token type ids. */
export function usesTokenTypes(model: SequenceClassifier): boolean {
  const types = (model.config as { type_vocab_size?: number }).type_vocab_size;
  return model.family !== "distilbert" && (types ?? 2) > 1;
}

/** Tokenizes texts (and their pairs) into model inputs: the tokenizer's template, truncated to maxLength. */
export function tokenizeTexts(
  model: SequenceClassifier,
  tokenizer: TextTokenizer,
  texts: readonly string[],
  pairs: readonly string[] | undefined,
  maxLength: number,
): { ids: number[]; typeIds: number[] }[] {
  const keepTypes = usesTokenTypes(model);
  return texts.map((text, i) => {
    const row = tokenizer.buildInput(
      tokenizer.tokenize(text),
      pairs ? tokenizer.tokenize(pairs[i]) : null,
      maxLength,
    );
    return keepTypes ? row : { ids: row.ids, typeIds: row.typeIds.map(() => 0) };
  });
}

/**
 * A forward output's values split per input row of a [batchSize, seqLength] batch: sequence heads give
 * numLabels values per row; token and span heads give seqLength × width values per row (token-major:
 * token s's outputs at [s·width, (s+1)·width); span width 2 = start, end).
 */
export function outputsPerRow(
  model: Pick<SequenceClassifier, "head" | "numLabels">,
  values: Float32Array,
  batchSize: number,
  seqLength: number,
): Float32Array[] {
  const perRow = model.head === "sequence" ? model.numLabels : seqLength * model.numLabels;
  if (values.length !== perRow * batchSize) {
    throw new Error(`outputsPerRow: ${values.length} values for ${batchSize} rows of ${perRow}`);
  }
  return Array.from({ length: batchSize }, (_, r) => values.slice(r * perRow, (r + 1) * perRow));
}

/** Int tensors for one encoded batch (the caller disposes them). */
export function batchTensors(batch: EncodedBatch): {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  tokenTypeIds: tf.Tensor2D;
} {
  const shape: [number, number] = [batch.batchSize, batch.seqLength];
  return {
    inputIds: tf.tensor2d(batch.inputIds, shape, "int32"),
    attentionMask: tf.tensor2d(batch.attentionMask, shape, "int32"),
    tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, shape, "int32"),
  };
}

/** Logits for an encoded batch, in eval mode (no dropout). */
export function logitsOf(model: SequenceClassifier, batch: EncodedBatch): tf.Tensor2D {
  return tf.tidy(() => model.forward(batchTensors(batch), { training: false }));
}

export async function classifyTexts(
  model: SequenceClassifier,
  tokenizer: TextTokenizer,
  texts: string[],
  opts: ClassifyOptions,
): Promise<Float32Array[]> {
  if (opts.pairs && opts.pairs.length !== texts.length) {
    throw new ApiError(400, "invalid_request", `got ${texts.length} texts but ${opts.pairs.length} pairs`);
  }
  const batchSize = Math.max(1, opts.batchSize ?? 32);
  const maxLength = Math.min(opts.maxLength, model.maxSequenceLength);
  if (model.head !== "sequence") {
    throw new ApiError(
      400,
      "invalid_request",
      `classifyTexts needs a sequence head, the model has a ${model.head} head`,
    );
  }
  const rows = tokenizeTexts(model, tokenizer, texts, opts.pairs, maxLength);
  const activation = opts.activation ?? "softmax";
  // Batches of similar length pad less; results go back to the caller's order.
  const order = rows.map((_, i) => i).sort((a, b) => rows[a].ids.length - rows[b].ids.length);
  const out = new Array<Float32Array>(texts.length);
  for (let start = 0; start < order.length; start += batchSize) {
    const indices = order.slice(start, start + batchSize);
    const encoded = tokenizer.collate(indices.map((i) => rows[i]));
    const probs = tf.tidy(() => {
      const logits = logitsOf(model, encoded);
      return activation === "softmax"
        ? tf.softmax(logits, -1)
        : activation === "sigmoid"
        ? tf.sigmoid(logits)
        : logits;
    });
    const values = await probs.data() as Float32Array;
    probs.dispose();
    indices.forEach((row, j) => (out[row] = values.slice(j * model.numLabels, (j + 1) * model.numLabels)));
  }
  return out;
}
