/**
 * Sequence-to-sequence fine-tuning (translation) for any Seq2SeqModel (T5, the BART family): the model as a
 * TrainingTask whose loss is the mean token cross-entropy over the real label tokens with transformers'
 * label smoothing (ε/V spread over the vocabulary, padding ignored, as its LabelSmoother), and whose
 * evaluation reports eval_loss, perplexity (exp of the unsmoothed token NLL) and, on the first `rows`
 * held-out examples, decodes translations (greedy, or beam search with numBeams > 1) and scores them
 * against the references with corpus BLEU and chrF (`bleu`, `chrf`, plus the mean generated length
 * `gen_len`). `fineTuneSeq2Seq` validates and tokenizes the pairs (seq2seq_data.ts) and runs the generic
 * resumable loop of trainer.ts with the model's layer map for layer-wise LR and freezing.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import type { Hyperparameters } from "../../schemas/hyperparameters.ts";
import { generate } from "../generate/generate.ts";
import type { DecoderCache, Seq2SeqModel } from "../generate/types.ts";
import { corpusBleu } from "../metrics/bleu.ts";
import { corpusChrf } from "../metrics/chrf.ts";
import type { DropoutRates } from "../model/classifier.ts";
import {
  collateSeq2Seq,
  prepareTranslationExamples,
  type Seq2SeqExample,
  type Seq2SeqTokenizer,
  tokenCrossEntropy,
  type TranslationPair,
} from "./seq2seq_data.ts";
import type { TrainingTask } from "./task.ts";
import { train, type TrainerInput, type TrainerResult, type TrainEvent } from "./trainer.ts";

export interface EvalGenerationOptions {
  /** Held-out examples to translate and score (the first ones); 0 skips generation. */
  rows: number;
  /** 1 = greedy. */
  numBeams: number;
  maxNewTokens: number;
  /** A first generated token to force (the target language code), else the model's forcedBosTokenId. */
  forcedFirst?: number | null;
}

export interface Seq2SeqTaskOptions {
  /** Dropout overrides for training passes (unset: the model config's). */
  dropout?: DropoutRates;
  evalGeneration?: EvalGenerationOptions;
}

/** Output ids up to (without) the first EOS. */
function untilEos(ids: number[], eos: number | null): number[] {
  const end = eos === null ? -1 : ids.indexOf(eos);
  return end < 0 ? ids : ids.slice(0, end);
}

function argMax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/**
 * Greedy decoding of source rows with the model's KV cache: every row starts from the decoder start token
 * (then the forced first token — a target language code — when given or configured, which the output keeps);
 * a row that produced EOS (or reached maxNewTokens) leaves the batch. Returns the new ids per row (EOS kept).
 */
export function greedyTranslate(
  model: Seq2SeqModel,
  sources: number[][],
  maxNewTokens: number,
  forcedFirst: number | null = model.forcedBosTokenId ?? null,
): number[][] {
  const outputs: number[][] = sources.map(() => (forcedFirst === null ? [] : [forcedFirst]));
  let encoder = model.encode(sources);
  let cache: DecoderCache | null = null;
  let live = sources.map((_, i) => i);
  let next = live.map(() =>
    forcedFirst === null ? [model.decoderStartTokenId] : [model.decoderStartTokenId, forcedFirst]
  );
  try {
    for (let t = 0; t < maxNewTokens && live.length > 0; t++) {
      const { logits, cache: extended } = model.step(next, cache, encoder);
      cache?.dispose();
      cache = extended;
      const chosen = logits.map(argMax);
      chosen.forEach((id, k) => outputs[live[k]].push(id));
      const keep = chosen.map((id, k) => (id === model.eosTokenId ? -1 : k)).filter((k) => k >= 0);
      if (keep.length < live.length && keep.length > 0) {
        const [selectedCache, selectedEncoder] = [cache.select(keep), encoder.select(keep)];
        cache.dispose();
        encoder.dispose();
        [cache, encoder] = [selectedCache, selectedEncoder];
      }
      next = keep.map((k) => [chosen[k]]);
      live = keep.map((k) => live[k]);
    }
  } finally {
    cache?.dispose();
    encoder.dispose();
  }
  return outputs;
}

/**
 * Translates the given examples' sources — greedy in batches of `batchSize` (greedyTranslate), or beam
 * search per source with generate() — and returns the decoded texts and the generated lengths (EOS excluded).
 */
export async function translateExamples(
  model: Seq2SeqModel,
  tokenizer: Seq2SeqTokenizer,
  examples: Seq2SeqExample[],
  options: { numBeams: number; maxNewTokens: number; batchSize: number; forcedFirst?: number | null },
): Promise<{ texts: string[]; lengths: number[] }> {
  const outputs: number[][] = [];
  const forced = options.forcedFirst ?? model.forcedBosTokenId ?? null;
  if (options.numBeams > 1) {
    for (const example of examples) {
      const result = await generate(model, example.inputIds, {
        maxNewTokens: options.maxNewTokens,
        numBeams: options.numBeams,
        forcedBosTokenId: forced,
      });
      outputs.push(forced === null ? result.sequences[0].tokens : [forced, ...result.sequences[0].tokens]);
    }
  } else {
    for (let start = 0; start < examples.length; start += options.batchSize) {
      const chunk = examples.slice(start, start + options.batchSize).map((e) => e.inputIds);
      outputs.push(...greedyTranslate(model, chunk, options.maxNewTokens, forced));
    }
  }
  const kept = outputs.map((ids) => untilEos(ids, model.eosTokenId));
  return {
    texts: kept.map((ids) => tokenizer.decode(ids, { skipSpecialTokens: true })),
    lengths: kept.map((ids) => ids.length),
  };
}

/** Any Seq2SeqModel as a TrainingTask (see module comment). */
export function seq2seqTask(
  model: Seq2SeqModel,
  tokenizer: Seq2SeqTokenizer,
  options: Seq2SeqTaskOptions = {},
): TrainingTask<Seq2SeqExample> {
  const generation = options.evalGeneration ?? { rows: 0, numBeams: 1, maxNewTokens: 0 };
  return {
    params: new Map([...model.params].filter(([name]) => !model.fixedParams.has(name))),
    numLayers: model.numLayers,
    layerOf: (name: string) => model.layerOf(name),
    metricNames: generation.rows > 0
      ? ["eval_loss", "perplexity", "bleu", "chrf", "gen_len"]
      : ["eval_loss", "perplexity"],
    loss(examples, { training, seed, labelSmoothing }) {
      return tf.tidy(() => {
        const { batch, positions, labels } = collateSeq2Seq(examples, model.padTokenId);
        const logits = model.forward(batch, { training, seed, dropout: options.dropout });
        return tokenCrossEntropy(logits, positions, labels, labelSmoothing);
      });
    },
    async evaluate(examples, { batchSize, labelSmoothing }) {
      const size = Math.max(1, batchSize);
      let tokens = 0, lossSum = 0, nllSum = 0;
      for (let start = 0; start < examples.length; start += size) {
        const [loss, nll] = tf.tidy(() => {
          const { batch, positions, labels } = collateSeq2Seq(
            examples.slice(start, start + size),
            model.padTokenId,
          );
          const logits = model.forward(batch, { training: false });
          const count = positions.length;
          return [
            tf.mul(tokenCrossEntropy(logits, positions, labels, labelSmoothing), count),
            tf.mul(tokenCrossEntropy(logits, positions, labels, 0), count),
          ];
        });
        lossSum += (await loss.data())[0];
        nllSum += (await nll.data())[0];
        tf.dispose([loss, nll]);
        tokens += examples.slice(start, start + size).reduce((n, e) => n + e.labels.length, 0);
      }
      const n = Math.max(1, tokens);
      const metrics: Record<string, number> = { eval_loss: lossSum / n, perplexity: Math.exp(nllSum / n) };
      const scored = examples.slice(0, Math.max(0, generation.rows));
      if (scored.length > 0) {
        const { texts, lengths } = await translateExamples(model, tokenizer, scored, {
          numBeams: generation.numBeams,
          maxNewTokens: generation.maxNewTokens,
          forcedFirst: generation.forcedFirst,
          batchSize: size,
        });
        const references = scored.map((e) =>
          tokenizer.decode(untilEos(e.labels, model.eosTokenId), { skipSpecialTokens: true })
        );
        metrics.bleu = corpusBleu(texts, references).score;
        metrics.chrf = corpusChrf(texts, references).score;
        metrics.gen_len = lengths.reduce((a, b) => a + b, 0) / lengths.length;
      }
      return metrics;
    },
  };
}

export interface Seq2SeqFineTuneInput {
  model: Seq2SeqModel;
  tokenizer: Seq2SeqTokenizer;
  train: TranslationPair[];
  validation: TranslationPair[] | null;
  hyperparameters: Hyperparameters;
  onEvent: (e: TrainEvent) => void | Promise<void>;
  shouldStop: () => boolean | Promise<boolean>;
  /** Checkpoint/resume and best-model options, passed to trainer.ts as they are. */
  resumable?: Pick<
    TrainerInput<Seq2SeqExample>,
    "resumeFrom" | "onCheckpoint" | "checkpointEvery" | "checkpointOnStop" | "loadBestModelAtEnd"
  >;
  /** Prepended to every source (T5: "translate English to German: "). Default "". */
  sourcePrefix?: string;
  /** Default: hyperparameters.max_seq_length (and the model's maxPositions). */
  maxSourceLength?: number;
  maxTargetLength?: number;
  /** Default: the first 32 held-out pairs, greedy, up to maxTargetLength new tokens. */
  evalGeneration?: EvalGenerationOptions;
  /** Language code tokens (mBART-50): sources start with the source's, labels (and generation) with the target's. */
  sourceLangId?: number | null;
  targetLangId?: number | null;
}

export async function fineTuneSeq2Seq(input: Seq2SeqFineTuneInput): Promise<TrainerResult> {
  const { model, tokenizer, hyperparameters: hp } = input;
  if (input.train.length === 0) throw new ApiError(400, "invalid_request", "the training set is empty");
  if (tokenizer.vocabSize > model.vocabSize) {
    throw new ApiError(
      400,
      "invalid_request",
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${model.vocabSize}`,
    );
  }
  const maxSourceLength = Math.min(input.maxSourceLength ?? hp.max_seq_length, model.maxPositions);
  const maxTargetLength = Math.min(input.maxTargetLength ?? hp.max_seq_length, model.maxPositions);
  const dataOptions = {
    sourcePrefix: input.sourcePrefix ?? "",
    maxSourceLength,
    maxTargetLength,
    decoderStartTokenId: model.decoderStartTokenId,
    sourceLangId: input.sourceLangId ?? null,
    targetLangId: input.targetLangId ?? null,
  };
  const trainSet = prepareTranslationExamples(tokenizer, input.train, dataOptions, "training set");
  const validation = input.validation && input.validation.length > 0
    ? prepareTranslationExamples(tokenizer, input.validation, dataOptions, "validation set")
    : null;
  const task = seq2seqTask(model, tokenizer, {
    dropout: { hidden: hp.hidden_dropout, attention: hp.attention_dropout },
    evalGeneration: {
      ...(input.evalGeneration ?? { rows: 32, numBeams: 1, maxNewTokens: maxTargetLength }),
      forcedFirst: input.targetLangId ?? input.evalGeneration?.forcedFirst,
    },
  });
  return await train({
    task,
    train: trainSet,
    validation,
    hyperparameters: hp,
    onEvent: input.onEvent,
    shouldStop: input.shouldStop,
    ...input.resumable,
  });
}
