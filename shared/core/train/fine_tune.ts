/**
 * Fine-tuning of a sequence-head model (any family) on labelled texts or text pairs: validates the data for
 * the problem type (single-label classes, multi-label index sets, or regression targets), tokenizes it once,
 * wraps the model as a TrainingTask (sequence_tasks.ts: cross-entropy with label smoothing and optional class
 * weights, BCE-with-logits, or MSE; dropout seeded per micro-batch) and runs the generic resumable loop of
 * trainer.ts, which does everything else (settings from loop_settings.ts, accumulation, clipping, unfreezing,
 * plateau, early stopping, evaluation, checkpoints). The result carries the scalar metrics and, separately,
 * the reported evaluation's non-scalar report (per-class scores, confusion matrix). Same data +
 * hyperparameters + seed → the same losses.
 */
import { ApiError } from "../../schemas/errors.ts";
import type { Hyperparameters } from "../../schemas/hyperparameters.ts";
import type { DropoutRates, SequenceClassifier } from "../model/classifier.ts";
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import {
  type ProblemType,
  type SequenceExample,
  type SequenceReport,
  sequenceTask,
} from "./sequence_tasks.ts";
import { tokenizeTexts } from "../infer.ts";
import type { TrainingTask } from "./task.ts";
import { train, type TrainerInput, type TrainEvent } from "./trainer.ts";

export type { TrainEvent } from "./trainer.ts";
export type { ProblemType, SequenceReport } from "./sequence_tasks.ts";

export interface LabelledTexts {
  texts: string[];
  /** Class index per text (single-label classification). */
  labels?: number[];
  /** Optional second segments (sentence-pair tasks), one per text. */
  pairs?: string[];
  /** Label index sets per text (multi-label classification); an empty set is allowed. */
  multiLabels?: number[][];
  /** Target value per text (regression). */
  targets?: number[];
}

export interface FineTuneInput {
  model: SequenceClassifier;
  tokenizer: TextTokenizer;
  train: LabelledTexts;
  validation: LabelledTexts | null;
  hyperparameters: Hyperparameters;
  onEvent: (e: TrainEvent) => void | Promise<void>;
  shouldStop: () => boolean | Promise<boolean>;
  /** Default single_label_classification. Regression needs a model with 1 output. */
  problemType?: ProblemType;
  /**
   * Loss weight per class (single-label: torch CrossEntropyLoss(weight=…), a weighted mean) or per label
   * column (multi-label: BCEWithLogitsLoss(weight=…), multiplying each column; no pos_weight).
   */
  classWeights?: number[];
  /** Multi-label decision threshold on sigmoid probabilities (default 0.5). */
  threshold?: number;
  /** Checkpoint/resume and best-model options, passed to trainer.ts as they are. */
  resumable?: Pick<
    TrainerInput<ClassifierExample>,
    "resumeFrom" | "onCheckpoint" | "checkpointEvery" | "checkpointOnStop" | "loadBestModelAtEnd"
  >;
}

export interface FineTuneResult {
  status: "completed" | "stopped";
  steps: number;
  /** train_loss (mean over all steps) and the reported evaluation's metrics (sequence_tasks.ts keys). */
  metrics: Record<string, number>;
  /** The best evaluation on metric_for_best_model (null without a validation set). */
  best?: { step: number; metrics: Record<string, number> } | null;
  /** The non-scalar part of the evaluation `metrics` come from (null: regression, or no evaluation ran). */
  report?: SequenceReport;
}

/** One tokenized training example. */
export type ClassifierExample = SequenceExample;

/** The single-label sequence classifier as a TrainingTask (kept for callers of the original API). */
export function classifierTask(
  model: SequenceClassifier,
  tokenizer: TextTokenizer,
  dropout: DropoutRates,
): TrainingTask<ClassifierExample> {
  return sequenceTask(model, tokenizer, { problemType: "single_label_classification", dropout });
}

function invalid(message: string, details?: unknown): ApiError {
  return new ApiError(400, "invalid_request", message, details);
}

function checkCount(what: string, field: string, values: unknown[] | undefined, n: number): void {
  if (values === undefined) throw invalid(`${what}: ${field} are required for this problem type`);
  if (values.length !== n) throw invalid(`${what}: ${n} texts but ${values.length} ${field}`);
}

function checkLabelledTexts(
  what: string,
  data: LabelledTexts,
  problem: ProblemType,
  numLabels: number,
): void {
  const n = data.texts.length;
  if (data.pairs) checkCount(what, "pairs", data.pairs, n);
  const isClass = (l: number) => Number.isInteger(l) && l >= 0 && l < numLabels;
  if (problem === "single_label_classification") {
    checkCount(what, "labels", data.labels, n);
    const bad = data.labels!.findIndex((l) => !isClass(l));
    if (bad >= 0) {
      throw invalid(
        `${what}: example ${bad} has label ${data.labels![bad]}, expected an integer in [0, ${numLabels})`,
        { index: bad },
      );
    }
  } else if (problem === "multi_label_classification") {
    checkCount(what, "multiLabels", data.multiLabels, n);
    const bad = data.multiLabels!.findIndex((set) => !Array.isArray(set) || !set.every(isClass));
    if (bad >= 0) {
      throw invalid(`${what}: example ${bad} has labels outside [0, ${numLabels})`, { index: bad });
    }
  } else {
    checkCount(what, "targets", data.targets, n);
    const bad = data.targets!.findIndex((t) => typeof t !== "number" || !Number.isFinite(t));
    if (bad >= 0) throw invalid(`${what}: example ${bad} has a non-finite target`, { index: bad });
  }
}

function checkTaskOptions(input: FineTuneInput, problem: ProblemType): void {
  const { model, classWeights, threshold } = input;
  if (model.head !== "sequence") throw invalid(`a ${model.head} head cannot be trained on sequence labels`);
  if (problem === "regression" && model.numLabels !== 1) {
    throw invalid(`regression needs a model with 1 output, this one has ${model.numLabels}`);
  }
  if (problem !== "regression" && model.numLabels < 2) {
    throw invalid(`${problem} needs at least 2 labels, the model has ${model.numLabels}`);
  }
  if (classWeights !== undefined) {
    if (problem === "regression") throw invalid("class weights apply to classification only");
    if (classWeights.length !== model.numLabels || !classWeights.every((w) => Number.isFinite(w) && w >= 0)) {
      throw invalid(`classWeights must be ${model.numLabels} finite numbers ≥ 0`, { path: "classWeights" });
    }
    if (!classWeights.some((w) => w > 0)) throw invalid("classWeights must not all be 0");
  }
  if (threshold !== undefined && !(threshold > 0 && threshold < 1)) {
    throw invalid(`threshold must be in (0, 1), got ${threshold}`, { path: "threshold" });
  }
}

/** Index sets → 0/1 rows of width numLabels. */
function multiHot(sets: number[][], numLabels: number): number[][] {
  return sets.map((set) => {
    const row = new Array<number>(numLabels).fill(0);
    for (const k of set) row[k] = 1;
    return row;
  });
}

export async function fineTuneSequenceClassifier(input: FineTuneInput): Promise<FineTuneResult> {
  const { model, tokenizer, train: trainSet, validation, hyperparameters: hp } = input;
  const problemType = input.problemType ?? "single_label_classification";
  checkTaskOptions(input, problemType);
  checkLabelledTexts("training set", trainSet, problemType, model.numLabels);
  if (trainSet.texts.length === 0) throw invalid("the training set is empty");
  if (validation) checkLabelledTexts("validation set", validation, problemType, model.numLabels);
  if (tokenizer.vocabSize > model.config.vocab_size) {
    throw invalid(
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ` +
        `${model.config.vocab_size}`,
    );
  }
  const maxLength = Math.min(hp.max_seq_length, model.maxSequenceLength);
  const examples = (data: LabelledTexts): SequenceExample[] => {
    const hot = data.multiLabels ? multiHot(data.multiLabels, model.numLabels) : undefined;
    return tokenizeTexts(model, tokenizer, data.texts, data.pairs, maxLength).map((row, i) => ({
      row,
      label: data.labels?.[i] ?? 0,
      multiHot: hot?.[i],
      target: data.targets?.[i],
    }));
  };
  const task = sequenceTask(model, tokenizer, {
    problemType,
    dropout: {
      hidden: hp.hidden_dropout,
      attention: hp.attention_dropout,
      classifier: hp.classifier_dropout,
    },
    classWeights: input.classWeights,
    threshold: input.threshold,
  });
  const result = await train({
    task,
    train: examples(trainSet),
    validation: validation && validation.texts.length > 0 ? examples(validation) : null,
    hyperparameters: hp,
    onEvent: input.onEvent,
    shouldStop: input.shouldStop,
    ...input.resumable,
  });
  // The report of the evaluation whose numbers the result carries (the last, or the best one restored).
  const sameAsResult = (m: Record<string, number>) =>
    Object.entries(m).every(([k, v]) =>
      result.metrics[k] === v || (Number.isNaN(v) && Number.isNaN(result.metrics[k]))
    );
  const reported = [...task.reports].reverse().find((r) => sameAsResult(r.metrics));
  return { ...result, report: reported?.report ?? null };
}
