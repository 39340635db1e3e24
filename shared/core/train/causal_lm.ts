/**
 * Fine-tuning a decoder-only language model (GPT-2) on text: prepares examples (causal_lm_data.ts: packed
 * blocks, one example per text, or prompt/completion pairs with the prompt masked), wraps the model as a
 * TrainingTask — mean next-token cross-entropy over the labels that are not -100 (position t's logits
 * predict label t+1, as HF shifts them), with transformers' label smoothing; evaluation = token-weighted
 * eval_loss and perplexity = exp(eval_loss) — and runs the generic resumable loop of trainer.ts. Parameter
 * layers come from the model's layerOf (embeddings, blocks, final norm) for layer-wise LR and freezing.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import type { Hyperparameters } from "../../schemas/hyperparameters.ts";
import type { CausalLanguageModel } from "../generate/types.ts";
import type { DropoutRates } from "../model/classifier.ts";
import type { GenerationTokenizer } from "../tokenizer/generation_tokenizer.ts";
import {
  type CausalLmDataOptions,
  type CausalLmExample,
  IGNORE_INDEX,
  prepareCausalLmExamples,
  type PromptCompletion,
} from "./causal_lm_data.ts";
import type { TrainingTask } from "./task.ts";
import { train, type TrainerInput, type TrainEvent } from "./trainer.ts";

export type { CausalLmExample, PromptCompletion } from "./causal_lm_data.ts";

/** Right-pads examples into [B, S] ids (pad id), mask and next-token targets/weights for positions 0..S-1. */
function collate(examples: CausalLmExample[], padId: number) {
  const b = examples.length;
  const s = Math.max(2, ...examples.map((e) => e.inputIds.length));
  const ids = new Int32Array(b * s).fill(padId);
  const mask = new Int32Array(b * s);
  const targets = new Int32Array(b * s);
  const weights = new Float32Array(b * s);
  examples.forEach((example, r) => {
    const n = example.inputIds.length;
    for (let t = 0; t < n; t++) {
      ids[r * s + t] = example.inputIds[t];
      mask[r * s + t] = 1;
      const next = t + 1 < n ? example.labels[t + 1] : IGNORE_INDEX;
      if (next !== IGNORE_INDEX) {
        targets[r * s + t] = next;
        weights[r * s + t] = 1;
      }
    }
  });
  return { ids, mask, targets, weights, shape: [b, s] as [number, number] };
}

/**
 * Sum over positions of weight × (smoothed) next-token cross-entropy, and the weight total: [sum, count]
 * scalars. HF's LabelSmoother: (1 − ε)·nll + ε·mean over the vocabulary of −log p.
 */
function tokenLosses(
  model: CausalLanguageModel,
  examples: CausalLmExample[],
  opts: { training: boolean; seed?: number; dropout?: DropoutRates; labelSmoothing: number },
): [tf.Scalar, number] {
  const batch = collate(examples, model.padTokenId);
  const count = batch.weights.reduce((a, b) => a + b, 0);
  const sum = tf.tidy(() => {
    const ids = tf.tensor2d(batch.ids, batch.shape, "int32");
    const mask = tf.tensor2d(batch.mask, batch.shape, "int32");
    const logits = model.forward(ids, mask, {
      training: opts.training,
      seed: opts.seed,
      dropout: opts.dropout,
    });
    const vocab = logits.shape[1];
    const logProbs = tf.logSoftmax(logits, -1);
    const rows = batch.targets.length;
    const flatIndex = tf.tensor1d(Array.from(batch.targets, (target, i) => i * vocab + target), "int32");
    const nll = tf.neg(tf.gather(tf.reshape(logProbs, [-1]), flatIndex));
    const weights = tf.tensor1d(batch.weights);
    let perToken: tf.Tensor1D = nll as tf.Tensor1D;
    if (opts.labelSmoothing > 0) {
      const smooth = tf.neg(tf.mean(logProbs, -1));
      perToken = tf.add(tf.mul(nll, 1 - opts.labelSmoothing), tf.mul(smooth, opts.labelSmoothing));
    }
    if (perToken.shape[0] !== rows) throw new Error("causal LM: logits rows do not match the batch");
    return tf.sum(tf.mul(perToken, weights)) as tf.Scalar;
  });
  return [sum, count];
}

/** The causal LM as a TrainingTask (fixed parameters excluded from `params`). */
export function causalLmTask(
  model: CausalLanguageModel,
  dropout: DropoutRates = {},
): TrainingTask<CausalLmExample> {
  return {
    params: new Map([...model.params].filter(([name]) => !model.fixedParams.has(name))),
    numLayers: model.numLayers,
    layerOf: (name) => model.layerOf(name),
    metricNames: ["eval_loss", "perplexity"],
    loss(examples, { training, seed, labelSmoothing }) {
      const [sum, count] = tokenLosses(model, examples, { training, seed, dropout, labelSmoothing });
      return tf.tidy(() => tf.div(sum, Math.max(1, count)) as tf.Scalar);
    },
    async evaluate(examples, { batchSize, labelSmoothing }) {
      // Similar lengths together pad less; the token-weighted mean does not depend on the order.
      const order = examples.map((_, i) => i).sort((a, b) =>
        examples[a].inputIds.length - examples[b].inputIds.length
      );
      let lossSum = 0;
      let tokens = 0;
      for (let start = 0; start < order.length; start += batchSize) {
        const batch = order.slice(start, start + batchSize).map((i) => examples[i]);
        const [sum, count] = tokenLosses(model, batch, { training: false, labelSmoothing });
        lossSum += (await sum.data())[0];
        sum.dispose();
        tokens += count;
      }
      const evalLoss = tokens > 0 ? lossSum / tokens : 0;
      return { eval_loss: evalLoss, perplexity: Math.exp(evalLoss) };
    },
  };
}

export type CausalLmRows = (string | PromptCompletion)[];

export interface FineTuneCausalLmInput {
  model: CausalLanguageModel;
  tokenizer: GenerationTokenizer;
  train: CausalLmRows;
  validation: CausalLmRows | null;
  hyperparameters: Hyperparameters;
  onEvent: (e: TrainEvent) => void | Promise<void>;
  shouldStop: () => boolean | Promise<boolean>;
  /**
   * How rows become examples (blockSize = min(max_seq_length, model.maxPositions)). Defaults: packing true,
   * joinWith "eos", promptCompletion when the rows are {prompt, completion} pairs. Validation rows are
   * prepared the same way.
   */
  data?: Partial<Omit<CausalLmDataOptions, "blockSize">>;
  /** Checkpoint/resume and best-model options, passed to trainer.ts as they are. */
  resumable?: Pick<
    TrainerInput<CausalLmExample>,
    "resumeFrom" | "onCheckpoint" | "checkpointEvery" | "checkpointOnStop" | "loadBestModelAtEnd"
  >;
}

export interface FineTuneCausalLmResult {
  status: "completed" | "stopped";
  steps: number;
  /** train_loss (mean over all steps) and the last evaluation's eval_loss and perplexity. */
  metrics: Record<string, number>;
  best: { step: number; metrics: Record<string, number> } | null;
  /** Training examples (blocks or pairs) and how many were truncated / skipped. */
  examples: { train: number; validation: number; truncated: number; skipped: number };
}

export async function fineTuneCausalLm(input: FineTuneCausalLmInput): Promise<FineTuneCausalLmResult> {
  const { model, tokenizer, hyperparameters: hp } = input;
  if (input.train.length === 0) throw new ApiError(400, "invalid_request", "the training set is empty");
  if (tokenizer.vocabSize > model.vocabSize) {
    throw new ApiError(
      400,
      "invalid_request",
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${model.vocabSize}`,
    );
  }
  const options: CausalLmDataOptions = {
    blockSize: Math.min(hp.max_seq_length, model.maxPositions),
    packing: input.data?.packing ?? true,
    joinWith: input.data?.joinWith ?? "eos",
    promptCompletion: input.data?.promptCompletion ?? typeof input.train[0] === "object",
  };
  const trainData = prepareCausalLmExamples(tokenizer, input.train, options);
  if (trainData.examples.length === 0) {
    throw new ApiError(400, "invalid_request", "the training set has no example with at least two tokens");
  }
  const validation = input.validation && input.validation.length > 0
    ? prepareCausalLmExamples(tokenizer, input.validation, options).examples
    : null;
  const dropout: DropoutRates = { hidden: hp.hidden_dropout, attention: hp.attention_dropout };
  const result = await train({
    task: causalLmTask(model, dropout),
    train: trainData.examples,
    validation: validation && validation.length > 0 ? validation : null,
    hyperparameters: hp,
    onEvent: input.onEvent,
    shouldStop: input.shouldStop,
    ...input.resumable,
  });
  return {
    ...result,
    examples: {
      train: trainData.examples.length,
      validation: validation?.length ?? 0,
      truncated: trainData.truncated,
      skipped: trainData.skipped,
    },
  };
}
