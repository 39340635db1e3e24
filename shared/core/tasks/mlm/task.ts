/**
 * Masked language modelling as a TrainingTask (shared/core/train/task.ts), for the generic training loop:
 * `loss` pads a micro-batch of token rows, corrupts it with a mask drawn from the micro-batch's seed
 * (masking.ts), runs BertForMaskedLM and returns the mean cross-entropy over the selected positions only
 * (with transformers' label smoothing when asked). `evaluate` masks each held-out example with a fixed seed
 * of its own (so every evaluation of a run scores the same corrupted tokens, whatever the batch size) and
 * reports, over all selected tokens of the set: eval_loss (token-weighted mean cross-entropy), perplexity
 * (exp of the unsmoothed mean cross-entropy) and accuracy (share of selected tokens whose original id is the
 * argmax, HF run_mlm's `eval_accuracy`), plus eval_masked_tokens (how many were scored).
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../../schemas/errors.ts";
import { crossEntropy, type TokenizedRow } from "../../eval/evaluate.ts";
import { batchTensors } from "../../infer.ts";
import type { DropoutRates } from "../../model/bert.ts";
import { mixSeed } from "../../model/layers.ts";
import type { BertForMaskedLM } from "../../model/mlm_head.ts";
import { createRng } from "../../random.ts";
import type { EncodedBatch, TextTokenizer } from "../../tokenizer/text_tokenizer.ts";
import type { TrainingTask } from "../../train/task.ts";
import {
  checkMlmProbability,
  DEFAULT_MLM_PROBABILITY,
  type MaskedTokens,
  type MaskingVocabulary,
  maskingVocabulary,
  maskTokens,
  MLM_IGNORE,
} from "./masking.ts";

export interface MaskedLmTaskOptions {
  /** Share of tokens selected for prediction (default 0.15). */
  mlmProbability?: number;
  /** Dropout overrides for training passes (unset: the model config's). */
  dropout?: DropoutRates;
  /** Seeds the evaluation masks (default 0): the same seed scores the same tokens. */
  evalSeed?: number;
}

/** A corrupted batch and where its selected positions are, as flat [batch*seq] row indices. */
interface MaskedBatch {
  encoded: EncodedBatch;
  positions: Int32Array;
  labels: Int32Array;
}

function selectedPositions(masked: MaskedTokens): { positions: Int32Array; labels: Int32Array } {
  const positions = new Int32Array(masked.selected);
  const labels = new Int32Array(masked.selected);
  let k = 0;
  masked.labels.forEach((label, i) => {
    if (label === MLM_IGNORE) return;
    positions[k] = i;
    labels[k++] = label;
  });
  return { positions, labels };
}

export class MaskedLmTask implements TrainingTask<TokenizedRow> {
  readonly params: Map<string, tf.Variable>;
  readonly numLayers: number;
  readonly mlmProbability: number;
  readonly vocabulary: MaskingVocabulary;
  readonly #evalSeed: number;

  constructor(
    readonly model: BertForMaskedLM,
    readonly tokenizer: TextTokenizer,
    private readonly options: MaskedLmTaskOptions = {},
  ) {
    this.params = model.params;
    this.numLayers = model.config.num_hidden_layers;
    this.mlmProbability = options.mlmProbability ?? DEFAULT_MLM_PROBABILITY;
    checkMlmProbability(this.mlmProbability);
    this.vocabulary = maskingVocabulary(tokenizer);
    if (this.vocabulary.vocabSize > model.config.vocab_size) {
      throw new ApiError(
        400,
        "invalid_file",
        `the tokenizer has ${this.vocabulary.vocabSize} tokens but the model's vocab_size is ` +
          `${model.config.vocab_size}`,
      );
    }
    this.#evalSeed = options.evalSeed ?? 0;
  }

  /** Pads `rows` and masks the whole batch with one stream seeded by `seed`. */
  maskBatch(rows: TokenizedRow[], seed: number): MaskedBatch {
    const encoded = this.tokenizer.collate(rows);
    const masked = maskTokens(
      encoded.inputIds,
      encoded.attentionMask,
      this.vocabulary,
      this.mlmProbability,
      createRng(seed).fork("mlm-mask"),
    );
    return { encoded: { ...encoded, inputIds: masked.inputIds }, ...selectedPositions(masked) };
  }

  loss(
    examples: TokenizedRow[],
    options: { training: boolean; seed: number; labelSmoothing: number },
  ): tf.Scalar {
    const batch = this.maskBatch(examples, options.seed);
    return tf.tidy(() => {
      const hidden = this.model.encode(batchTensors(batch.encoded), {
        training: options.training,
        seed: options.seed,
        dropout: this.options.dropout,
      });
      // No selected token in the whole batch (possible for a few very short rows): a zero loss that still
      // reaches the weights, so a gradient tape around it finds a path.
      if (batch.positions.length === 0) return tf.mul(tf.sum(hidden), 0) as tf.Scalar;
      const logits = this.model.predict(hidden, tf.tensor1d(batch.positions, "int32"));
      return crossEntropy(logits, tf.tensor1d(batch.labels, "int32"), options.labelSmoothing);
    });
  }

  /** Masks example i of a held-out set the same way at every evaluation. */
  #maskForEval(row: TokenizedRow, index: number): { ids: number[]; labels: Int32Array } {
    const masked = maskTokens(
      Int32Array.from(row.ids),
      new Int32Array(row.ids.length).fill(1),
      this.vocabulary,
      this.mlmProbability,
      createRng(mixSeed(this.#evalSeed, index)).fork("mlm-eval"),
    );
    return { ids: Array.from(masked.inputIds), labels: masked.labels };
  }

  async evaluate(
    examples: TokenizedRow[],
    options: { batchSize: number; labelSmoothing: number },
  ): Promise<Record<string, number>> {
    const batchSize = Math.max(1, options.batchSize);
    let tokens = 0, correct = 0, lossSum = 0, nllSum = 0;
    for (let start = 0; start < examples.length; start += batchSize) {
      const rows = examples.slice(start, start + batchSize).map((row, j) => ({
        ...this.#maskForEval(row, start + j),
        typeIds: row.typeIds,
      }));
      const encoded = this.tokenizer.collate(rows);
      const positions: number[] = [];
      const gold: number[] = [];
      rows.forEach((row, r) =>
        row.labels.forEach((label, s) => {
          if (label === MLM_IGNORE) return;
          positions.push(r * encoded.seqLength + s);
          gold.push(label);
        })
      );
      if (positions.length === 0) continue;
      const [loss, nll, hits] = tf.tidy(() => {
        const hidden = this.model.encode(batchTensors(encoded), { training: false });
        const logits = this.model.predict(hidden, tf.tensor1d(positions, "int32"));
        const labels = tf.tensor1d(gold, "int32");
        const count = gold.length;
        return [
          tf.mul(crossEntropy(logits, labels, options.labelSmoothing), count),
          tf.mul(crossEntropy(logits, labels, 0), count),
          tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), labels), "int32")),
        ];
      });
      lossSum += (await loss.data())[0];
      nllSum += (await nll.data())[0];
      correct += (await hits.data())[0];
      tf.dispose([loss, nll, hits]);
      tokens += gold.length;
    }
    const n = Math.max(1, tokens);
    return {
      eval_loss: lossSum / n,
      perplexity: Math.exp(nllSum / n),
      accuracy: correct / n,
      eval_masked_tokens: tokens,
    };
  }
}
