/**
 * The fine-tuning loop for a sequence classifier, as HF's Trainer runs it: tokenize once, then per epoch a
 * seeded shuffle into batches (the last one may be short), and per optimizer step forward/backward passes
 * with dropout over `gradient_accumulation_steps` micro-batches, clipping, and an optimizer update at the
 * scheduled LR. With the base hyperparameters that is AdamW (no decay on biases and LayerNorm), linear
 * warm-up/decay and global-norm clipping; loop_settings.ts maps the optional optimisation fields (other
 * optimizers and schedules, freezing, layer-wise LR, plateau, early stopping). It evaluates at each epoch end
 * and every `eval_steps`, reports steps and evaluations through `onEvent`, and asks `shouldStop` before every
 * micro-batch, so a cancel lands within one step. Same data + hyperparameters + seed → the same losses.
 */
import { ApiError } from "../../schemas/errors.ts";
import type { Hyperparameters } from "../../schemas/hyperparameters.ts";
import { evaluateClassifier, type TokenizedRow } from "../eval/evaluate.ts";
import type { BertForSequenceClassification } from "../model/bert.ts";
import { mixSeed } from "../model/layers.ts";
import { createRng } from "../random.ts";
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import { EarlyStopping, evalMetricValue, resolveLoopSettings } from "./loop_settings.ts";
import { createOptimizer, type TrainableParam } from "./optimizers.ts";
import { trainableNamesAt } from "./param_groups.ts";
import { createSchedule, ReduceOnPlateau } from "./schedules.ts";
import { GradientAccumulator } from "./train_step.ts";

export interface LabelledTexts {
  texts: string[];
  labels: number[];
  /** Optional second segments (sentence-pair tasks), one per text. */
  pairs?: string[];
}

export type TrainEvent =
  | {
    type: "step";
    /** Optimizer steps done so far (1 after the first step). */
    step: number;
    total_steps: number;
    /** Fractional epoch, as HF logs it: step / steps_per_epoch. */
    epoch: number;
    loss: number;
    learning_rate: number;
    /** Global L2 norm of the gradients before clipping. */
    grad_norm: number;
    examples_per_second: number;
  }
  | { type: "eval"; step: number; epoch: number; metrics: Record<string, number> };

export interface FineTuneInput {
  model: BertForSequenceClassification;
  tokenizer: TextTokenizer;
  train: LabelledTexts;
  validation: LabelledTexts | null;
  hyperparameters: Hyperparameters;
  onEvent: (e: TrainEvent) => void | Promise<void>;
  shouldStop: () => boolean | Promise<boolean>;
}

export interface FineTuneResult {
  status: "completed" | "stopped";
  steps: number;
  /** train_loss (mean over all steps) and the last evaluation's eval_loss, accuracy, macro_f1. */
  metrics: Record<string, number>;
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
  const { model, tokenizer, train, validation, hyperparameters: hp } = input;
  checkLabelledTexts("training set", train, model.numLabels);
  if (train.texts.length === 0) throw new ApiError(400, "invalid_request", "the training set is empty");
  if (validation) checkLabelledTexts("validation set", validation, model.numLabels);
  if (tokenizer.vocabSize > model.config.vocab_size) {
    throw new ApiError(
      400,
      "invalid_request",
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${model.config.vocab_size}`,
    );
  }

  const n = train.texts.length;
  const hasValidation = validation !== null && validation.texts.length > 0;
  const settings = resolveLoopSettings(
    hp,
    [...model.params.keys()],
    model.config.num_hidden_layers,
    Math.ceil(n / hp.batch_size),
    hasValidation,
  );
  const maxLength = Math.min(hp.max_seq_length, model.config.max_position_embeddings);
  const trainRows = tokenizeAll(tokenizer, train, maxLength);
  const validationRows = hasValidation ? tokenizeAll(tokenizer, validation, maxLength) : null;
  const { stepsPerEpoch, totalSteps, accumulation } = settings;
  const params: TrainableParam[] = [...settings.groups].map(([name, g]) => ({
    name,
    variable: model.params.get(name)!,
    lrScale: g.lrScale,
    weightDecay: g.weightDecay,
  }));
  const optimizer = createOptimizer(settings.optimizer, params);
  const schedule = createSchedule(settings.schedule, hp.learning_rate, totalSteps);
  const plateau = settings.plateau ? new ReduceOnPlateau(hp.learning_rate, settings.plateau) : null;
  const earlyStopping = settings.earlyStopping
    ? new EarlyStopping(
      settings.earlyStopping.patience,
      settings.earlyStopping.threshold,
      settings.bestMetric.greaterIsBetter,
    )
    : null;
  const accumulator = new GradientAccumulator(
    model,
    tokenizer,
    { hidden: hp.hidden_dropout, attention: hp.attention_dropout, classifier: hp.classifier_dropout },
    settings.labelSmoothing,
  );
  const shuffler = createRng(hp.seed).fork("shuffle");
  const evalBatchSize = Math.max(hp.batch_size, 32);

  let step = 0;
  let microBatches = 0;
  let lossSum = 0;
  let lastEval: Record<string, number> = {};
  /** Evaluates, reports, feeds plateau/early stopping; true when early stopping says stop. */
  const runEval = async (epoch: number): Promise<boolean> => {
    if (!validationRows || !validation) return false;
    lastEval = await evaluateClassifier(
      model,
      tokenizer,
      validationRows,
      validation.labels,
      evalBatchSize,
      settings.labelSmoothing,
    );
    await input.onEvent({ type: "eval", step, epoch, metrics: { ...lastEval } });
    const watched = evalMetricValue(lastEval, settings.bestMetric.name);
    if (watched === undefined) return false;
    plateau?.step(watched);
    return earlyStopping?.update(watched) ?? false;
  };
  const result = (status: FineTuneResult["status"]): FineTuneResult => ({
    status,
    steps: step,
    metrics: {
      ...(step > 0 ? { train_loss: lossSum / step } : {}),
      ...lastEval,
      epoch: step / stepsPerEpoch,
    },
  });

  try {
    for (let epoch = 0; epoch < hp.epochs; epoch++) {
      const order = shuffler.permutation(n);
      const batches: number[][] = [];
      for (let start = 0; start < n; start += hp.batch_size) {
        batches.push(order.slice(start, start + hp.batch_size));
      }
      for (let first = 0; first < batches.length; first += accumulation) {
        const group = batches.slice(first, first + accumulation);
        const trainable = settings.unfreeze
          ? trainableNamesAt(settings.groups, step, settings.unfreeze)
          : null;
        const active = trainable ? params.filter((p) => trainable.has(p.name)) : params;
        const startedAt = performance.now();
        for (const indices of group) {
          if (await input.shouldStop()) return result("stopped");
          microBatches++;
          accumulator.addMicroBatch(
            {
              rows: indices.map((i) => trainRows[i]),
              labels: indices.map((i) => train.labels[i]),
              seed: mixSeed(hp.seed, microBatches),
            },
            active,
            1 / group.length,
          );
        }
        const learningRate = plateau ? plateau.apply(schedule(step)) : schedule(step);
        const { loss, gradNorm } = accumulator.applyUpdate(
          optimizer,
          learningRate,
          hp.max_grad_norm,
          settings.maxGradValue,
        );
        step++;
        lossSum += loss;
        const seconds = Math.max(1e-9, (performance.now() - startedAt) / 1000);
        await input.onEvent({
          type: "step",
          step,
          total_steps: totalSteps,
          epoch: step / stepsPerEpoch,
          loss,
          learning_rate: learningRate,
          grad_norm: gradNorm,
          examples_per_second: group.reduce((sum, b) => sum + b.length, 0) / seconds,
        });
        const epochEnd = first + accumulation >= batches.length;
        if (!epochEnd && hp.eval_steps != null && step % hp.eval_steps === 0) {
          if (await runEval(step / stepsPerEpoch)) return result("completed");
        }
      }
      if (await runEval(epoch + 1)) return result("completed");
    }
    return result("completed");
  } finally {
    accumulator.reset();
    optimizer.dispose();
  }
}
