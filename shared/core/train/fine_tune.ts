/**
 * Fine-tuning of a BERT sequence classifier: validates the labelled texts, tokenizes them once, wraps the
 * model as a TrainingTask (cross-entropy with transformers' label smoothing, dropout seeded per micro-batch;
 * evaluation = eval_loss, accuracy, macro_f1) and runs the generic resumable loop of trainer.ts, which does
 * everything else (settings from loop_settings.ts, accumulation, clipping, unfreezing, plateau, early
 * stopping, evaluation, checkpoints). Same data + hyperparameters + seed → the same losses.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import type { Hyperparameters } from "../../schemas/hyperparameters.ts";
import { crossEntropy, evaluateClassifier, type TokenizedRow } from "../eval/evaluate.ts";
import { batchTensors } from "../infer.ts";
import type { DropoutRates, SequenceClassifier } from "../model/classifier.ts";
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import type { TrainingTask } from "./task.ts";
import { train, type TrainerInput, type TrainEvent } from "./trainer.ts";

export type { TrainEvent } from "./trainer.ts";

export interface LabelledTexts {
  texts: string[];
  labels: number[];
  /** Optional second segments (sentence-pair tasks), one per text. */
  pairs?: string[];
}

export interface FineTuneInput {
  model: SequenceClassifier;
  tokenizer: TextTokenizer;
  train: LabelledTexts;
  validation: LabelledTexts | null;
  hyperparameters: Hyperparameters;
  onEvent: (e: TrainEvent) => void | Promise<void>;
  shouldStop: () => boolean | Promise<boolean>;
  /** Checkpoint/resume and best-model options, passed to trainer.ts as they are. */
  resumable?: Pick<
    TrainerInput<ClassifierExample>,
    "resumeFrom" | "onCheckpoint" | "checkpointEvery" | "checkpointOnStop" | "loadBestModelAtEnd"
  >;
}

export interface FineTuneResult {
  status: "completed" | "stopped";
  steps: number;
  /** train_loss (mean over all steps) and the last evaluation's eval_loss, accuracy, macro_f1. */
  metrics: Record<string, number>;
  /** The best evaluation on metric_for_best_model (null without a validation set). */
  best?: { step: number; metrics: Record<string, number> } | null;
}

/** One tokenized training example of the classifier. */
export interface ClassifierExample {
  row: TokenizedRow;
  label: number;
}

/** The BERT sequence classifier as a TrainingTask. */
export function classifierTask(
  model: SequenceClassifier,
  tokenizer: TextTokenizer,
  dropout: DropoutRates,
): TrainingTask<ClassifierExample> {
  return {
    // Fixed tensors (DistilBERT's sinusoidal positions) are parameters of the checkpoint, never trained.
    params: new Map([...model.params].filter(([name]) => !model.fixedParams.has(name))),
    numLayers: model.numLayers,
    loss(examples, { training, seed, labelSmoothing }) {
      const encoded = tokenizer.collate(examples.map((e) => e.row));
      return tf.tidy(() => {
        const gold = tf.tensor1d(examples.map((e) => e.label), "int32");
        const logits = model.forward(batchTensors(encoded), { training, seed, dropout });
        return crossEntropy(logits, gold, labelSmoothing);
      });
    },
    evaluate(examples, { batchSize, labelSmoothing }) {
      return evaluateClassifier(
        model,
        tokenizer,
        examples.map((e) => e.row),
        examples.map((e) => e.label),
        batchSize,
        labelSmoothing,
      );
    },
  };
}

function checkLabelledTexts(what: string, data: LabelledTexts, numLabels: number): void {
  if (data.texts.length !== data.labels.length) {
    throw new ApiError(
      400,
      "invalid_request",
      `${what}: ${data.texts.length} texts but ${data.labels.length} labels`,
    );
  }
  if (data.pairs && data.pairs.length !== data.texts.length) {
    throw new ApiError(
      400,
      "invalid_request",
      `${what}: ${data.texts.length} texts but ${data.pairs.length} pairs`,
    );
  }
  const bad = data.labels.findIndex((l) => !Number.isInteger(l) || l < 0 || l >= numLabels);
  if (bad >= 0) {
    throw new ApiError(
      400,
      "invalid_request",
      `${what}: example ${bad} has label ${data.labels[bad]}, expected an integer in [0, ${numLabels})`,
      { index: bad },
    );
  }
}

function tokenizeAll(tokenizer: TextTokenizer, data: LabelledTexts, maxLength: number): TokenizedRow[] {
  return data.texts.map((text, i) =>
    tokenizer.buildInput(
      tokenizer.tokenize(text),
      data.pairs ? tokenizer.tokenize(data.pairs[i]) : null,
      maxLength,
    )
  );
}

export async function fineTuneSequenceClassifier(input: FineTuneInput): Promise<FineTuneResult> {
  const { model, tokenizer, train: trainSet, validation, hyperparameters: hp } = input;
  checkLabelledTexts("training set", trainSet, model.numLabels);
  if (trainSet.texts.length === 0) throw new ApiError(400, "invalid_request", "the training set is empty");
  if (validation) checkLabelledTexts("validation set", validation, model.numLabels);
  if (tokenizer.vocabSize > model.config.vocab_size) {
    throw new ApiError(
      400,
      "invalid_request",
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${model.config.vocab_size}`,
    );
  }
  const maxLength = Math.min(hp.max_seq_length, model.maxSequenceLength);
  const examples = (data: LabelledTexts): ClassifierExample[] =>
    tokenizeAll(tokenizer, data, maxLength).map((row, i) => ({ row, label: data.labels[i] }));
  const dropout = {
    hidden: hp.hidden_dropout,
    attention: hp.attention_dropout,
    classifier: hp.classifier_dropout,
  };
  const result = await train({
    task: classifierTask(model, tokenizer, dropout),
    train: examples(trainSet),
    validation: validation && validation.texts.length > 0 ? examples(validation) : null,
    hyperparameters: hp,
    onEvent: input.onEvent,
    shouldStop: input.shouldStop,
    ...input.resumable,
  });
  return result;
}
