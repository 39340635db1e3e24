/**
 * Inference for a sequence classifier: texts (and optional second segments) → softmax probabilities per
 * text. Works in fixed-size batches of similar-length texts, each padded only to its own longest row, with
 * every tensor created inside tf.tidy or disposed, so serving any number of requests leaves GPU/wasm memory
 * where it was.
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
  const rows = texts.map((text, i) =>
    tokenizer.buildInput(
      tokenizer.tokenize(text),
      opts.pairs ? tokenizer.tokenize(opts.pairs[i]) : null,
      maxLength,
    )
  );
  // Batches of similar length pad less; results go back to the caller's order.
  const order = rows.map((_, i) => i).sort((a, b) => rows[a].ids.length - rows[b].ids.length);
  const out = new Array<Float32Array>(texts.length);
  for (let start = 0; start < order.length; start += batchSize) {
    const indices = order.slice(start, start + batchSize);
    const encoded = tokenizer.collate(indices.map((i) => rows[i]));
    const probs = tf.tidy(() => tf.softmax(logitsOf(model, encoded), -1));
    const values = await probs.data() as Float32Array;
    probs.dispose();
    indices.forEach((row, j) => (out[row] = values.slice(j * model.numLabels, (j + 1) * model.numLabels)));
  }
  return out;
}
