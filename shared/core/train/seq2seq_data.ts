/**
 * Data preparation for sequence-to-sequence training (translation, summarisation) with any encoder-decoder:
 * each (source, target) pair becomes encoder ids (optional task prefix + source, truncated, + EOS), labels
 * (target, truncated, + EOS) and decoder inputs (the labels shifted right behind the decoder start token),
 * as HF's run_translation.py and the models' shift_tokens_right do. A micro-batch is padded into the
 * tensors of a Seq2SeqBatch plus the flat positions of its real label tokens (padding is ignored by the loss,
 * HF's label -100), and the token loss over those positions. Empty texts are ApiError 400 naming the row.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import { crossEntropy } from "../eval/evaluate.ts";
import type { Seq2SeqBatch } from "../generate/types.ts";
import type { GenerationTokenizer } from "../tokenizer/generation_tokenizer.ts";

/** What seq2seq training needs from a tokenizer (GenerationTokenizer has it). */
export type Seq2SeqTokenizer = Pick<
  GenerationTokenizer,
  "encode" | "decode" | "eosTokenId" | "padTokenId" | "vocabSize"
>;

export interface TranslationPair {
  source: string;
  target: string;
}

/** One tokenized pair. */
export interface Seq2SeqExample {
  /** Encoder ids, ending with EOS. */
  inputIds: number[];
  /** Target ids, ending with EOS. */
  labels: number[];
  /** [decoderStart, ...labels without the last]. */
  decoderInputIds: number[];
}

export interface TranslationDataOptions {
  /** Prepended to every source (T5's "translate English to German: "). Default "". */
  sourcePrefix?: string;
  /** Longest encoder input including EOS. */
  maxSourceLength: number;
  /** Longest label sequence including EOS. */
  maxTargetLength: number;
  decoderStartTokenId: number;
  /** mBART-50 style language code tokens: the source starts with `sourceLangId`, the labels with `targetLangId`. */
  sourceLangId?: number | null;
  targetLangId?: number | null;
}

const invalid = (message: string, details?: unknown) =>
  new ApiError(400, "invalid_request", message, details);

/** Tokenizes pairs into training examples (see module comment); `what` names the set in errors. */
export function prepareTranslationExamples(
  tokenizer: Seq2SeqTokenizer,
  pairs: TranslationPair[],
  options: TranslationDataOptions,
  what = "dataset",
): Seq2SeqExample[] {
  const eos = tokenizer.eosTokenId;
  if (eos === null) throw invalid("the tokenizer has no end-of-sequence token, which seq2seq training needs");
  for (const key of ["maxSourceLength", "maxTargetLength"] as const) {
    if (!Number.isInteger(options[key]) || options[key] < 2) {
      throw invalid(`${key} must be an integer ≥ 2, got ${options[key]}`);
    }
  }
  const prefix = options.sourcePrefix ?? "";
  const withEos = (text: string, max: number) => [...tokenizer.encode(text).slice(0, max - 1), eos];
  return pairs.map((pair, index) => {
    for (const side of ["source", "target"] as const) {
      const text = pair[side];
      if (typeof text !== "string" || text.trim() === "" || tokenizer.encode(text).length === 0) {
        throw invalid(`${what}: row ${index} has an empty ${side}`, { index, field: side });
      }
    }
    const source = options.sourceLangId ?? null;
    const target = options.targetLangId ?? null;
    const labels = target === null
      ? withEos(pair.target, options.maxTargetLength)
      : [target, ...withEos(pair.target, options.maxTargetLength - 1)];
    return {
      inputIds: source === null
        ? withEos(prefix + pair.source, options.maxSourceLength)
        : [source, ...withEos(prefix + pair.source, options.maxSourceLength - 1)],
      labels,
      decoderInputIds: [options.decoderStartTokenId, ...labels.slice(0, -1)],
    };
  });
}

/** A padded micro-batch: the model's tensors, and per real label token its flat row (r*T + t) and id. */
export interface PaddedSeq2SeqBatch {
  batch: Seq2SeqBatch;
  positions: number[];
  labels: number[];
}

function pad(rows: number[][], value: number): { ids: number[][]; mask: number[][]; width: number } {
  const width = Math.max(1, ...rows.map((r) => r.length));
  return {
    ids: rows.map((r) => [...r, ...new Array(width - r.length).fill(value)]),
    mask: rows.map((r) => Array.from({ length: width }, (_, i) => (i < r.length ? 1 : 0))),
    width,
  };
}

/** Right-pads examples with `padTokenId` (create inside a tidy: the tensors are the caller's to dispose). */
export function collateSeq2Seq(examples: Seq2SeqExample[], padTokenId: number): PaddedSeq2SeqBatch {
  const source = pad(examples.map((e) => e.inputIds), padTokenId);
  const decoder = pad(examples.map((e) => e.decoderInputIds), padTokenId);
  const positions: number[] = [];
  const labels: number[] = [];
  examples.forEach((e, r) =>
    e.labels.forEach((id, t) => {
      positions.push(r * decoder.width + t);
      labels.push(id);
    })
  );
  const b = examples.length;
  return {
    batch: {
      inputIds: tf.tensor2d(source.ids, [b, source.width], "int32"),
      attentionMask: tf.tensor2d(source.mask, [b, source.width], "int32"),
      decoderInputIds: tf.tensor2d(decoder.ids, [b, decoder.width], "int32"),
      decoderAttentionMask: tf.tensor2d(decoder.mask, [b, decoder.width], "int32"),
    },
    positions,
    labels,
  };
}

/**
 * Mean cross-entropy of logits [N, V] at `positions` (flat rows) against `labels`, with label smoothing ε:
 * (1 − ε)·NLL + ε·mean over the vocabulary of −log p, averaged over the selected tokens.
 */
export function tokenCrossEntropy(
  logits: tf.Tensor2D,
  positions: number[],
  labels: number[],
  labelSmoothing: number,
): tf.Scalar {
  return tf.tidy(() => {
    if (positions.length === 0) return tf.mul(tf.sum(logits), 0) as tf.Scalar;
    const selected = tf.gather(logits, tf.tensor1d(positions, "int32"));
    return crossEntropy(selected as tf.Tensor2D, tf.tensor1d(labels, "int32"), labelSmoothing);
  });
}

/**
 * The id of a language code token (mBART-50's `en_XX`, `de_DE`, …) named by `field`; null when no code is
 * given; a 400 naming the field when the tokenizer has no such token.
 */
export function languageCodeId(
  tokenizer: Pick<GenerationTokenizer, "tokenId">,
  code: string | undefined,
  field: string,
): number | null {
  if (code === undefined) return null;
  const id = tokenizer.tokenId(code);
  if (id === null) {
    throw invalid(`${field} '${code}' is not a token of the model's tokenizer (language codes like en_XX)`, {
      field,
    });
  }
  return id;
}
