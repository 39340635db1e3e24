/**
 * The fixed fine-tuning recipes of the task-breadth benchmark (bench/tasks.ts): one function per task kind
 * (sequence classification / regression, token classification, extractive QA) that builds the task model —
 * from the pre-trained checkpoint's tensors (loadSequenceClassifier: encoder reused, head initialised) or from
 * random init with the same seed (initSequenceClassifier) — fine-tunes it with the core's entry point on the
 * training part (no validation set, so no per-epoch evaluation costs time), then scores the held-out part
 * once with the same core task's evaluate() the trainer would call, and returns those metrics with the wall
 * time of fine-tuning plus evaluation. Same recipe and seed for both starting points.
 */
import type { CheckpointTensor } from "../shared/core/model/load.ts";
import { initSequenceClassifier, loadSequenceClassifier } from "../shared/core/model/load.ts";
import type { HeadKind, SequenceClassifier } from "../shared/core/model/classifier.ts";
import type { QaExample } from "../shared/core/tasks/squad.ts";
import { detectScheme, labelsForScheme, parseTag } from "../shared/core/tasks/tagging.ts";
import type { TextTokenizer } from "../shared/core/tokenizer/text_tokenizer.ts";
import { WordTokenizer } from "../shared/core/tasks/token_features.ts";
import { fineTuneSequenceClassifier, type ProblemType } from "../shared/core/train/fine_tune.ts";
import {
  fineTuneQuestionAnswering,
  qaTrainingExamples,
  questionAnsweringTask,
} from "../shared/core/train/question_answering.ts";
import { sequenceTask, tokenizeTexts } from "../shared/core/train/sequence_tasks.ts";
import {
  fineTuneTokenClassifier,
  tokenClassificationTask,
  tokenExamples,
} from "../shared/core/train/token_classification.ts";
import { hyperparametersSchema } from "../shared/schemas/hyperparameters.ts";
import type { LabelledRows, PairRows, TaggedRows } from "./tasks_data.ts";

/** What every fine-tune shares: the base (config.json + tensors, or null for random init) and the seed. */
export interface Start {
  configJson: unknown;
  tokenizer: TextTokenizer;
  /** Pre-trained checkpoint tensors, or null: random init of the same shape. */
  tensors: Map<string, CheckpointTensor> | null;
  seed: number;
}

export interface Recipe {
  epochs: number;
  learningRate: number;
  batchSize: number;
  maxSeqLength: number;
}

export interface Outcome {
  metrics: Record<string, number>;
  /** Per-class F1 (single-label classification only), in label order. */
  classF1?: number[];
  seconds: number;
  steps: number;
}

function buildModel(start: Start, numLabels: number, head: HeadKind): SequenceClassifier {
  return start.tensors
    ? loadSequenceClassifier(start.configJson, start.tensors, numLabels, start.seed, head).model
    : initSequenceClassifier(start.configJson, numLabels, start.seed, head);
}

function hyperparameters(recipe: Recipe, seed: number) {
  return hyperparametersSchema.parse({
    learning_rate: recipe.learningRate,
    epochs: recipe.epochs,
    batch_size: recipe.batchSize,
    max_seq_length: recipe.maxSeqLength,
    warmup_ratio: 0.1,
    seed,
  });
}

const noStop = () => false;
const EVAL = { batchSize: 64, labelSmoothing: 0 };
const maxLengthOf = (model: SequenceClassifier, recipe: Recipe) =>
  Math.min(recipe.maxSeqLength, model.maxSequenceLength);

/** Single-label classification (optionally class-weighted); labels are the sorted training label names. */
export async function classify(
  start: Start,
  recipe: Recipe,
  data: { train: LabelledRows; test: LabelledRows },
  labelNames: string[],
  classWeights?: number[],
): Promise<Outcome> {
  const toIds = (labels: string[]) => labels.map((l) => labelNames.indexOf(l));
  const model = buildModel(start, labelNames.length, "sequence");
  const started = performance.now();
  try {
    const result = await fineTuneSequenceClassifier({
      model,
      tokenizer: start.tokenizer,
      train: { texts: data.train.texts, labels: toIds(data.train.labels) },
      validation: null,
      hyperparameters: hyperparameters(recipe, start.seed),
      classWeights,
      onEvent: () => {},
      shouldStop: noStop,
    });
    const task = sequenceTask(model, start.tokenizer, {
      problemType: "single_label_classification",
      dropout: {},
      classWeights,
    });
    const gold = toIds(data.test.labels);
    const rows = tokenizeTexts(
      model,
      start.tokenizer,
      data.test.texts,
      undefined,
      maxLengthOf(model, recipe),
    );
    const metrics = await task.evaluate(rows.map((row, i) => ({ row, label: gold[i] })), EVAL);
    const report = task.reports.at(-1)?.report;
    const classF1 = report && report.problemType === "single_label_classification"
      ? report.perClass.map((c) => c.f1)
      : undefined;
    return { metrics, classF1, seconds: (performance.now() - started) / 1000, steps: result.steps };
  } finally {
    model.dispose();
  }
}

/** Sentence-pair regression (one output, MSE). */
export async function regress(
  start: Start,
  recipe: Recipe,
  data: { train: PairRows; test: PairRows },
): Promise<Outcome> {
  const model = buildModel(start, 1, "sequence");
  const started = performance.now();
  try {
    const result = await fineTuneSequenceClassifier({
      model,
      tokenizer: start.tokenizer,
      problemType: "regression" satisfies ProblemType,
      train: data.train,
      validation: null,
      hyperparameters: hyperparameters(recipe, start.seed),
      onEvent: () => {},
      shouldStop: noStop,
    });
    const task = sequenceTask(model, start.tokenizer, { problemType: "regression", dropout: {} });
    const rows = tokenizeTexts(
      model,
      start.tokenizer,
      data.test.texts,
      data.test.pairs,
      maxLengthOf(model, recipe),
    );
    const metrics = await task.evaluate(
      rows.map((row, i) => ({ row, label: 0, target: data.test.targets[i] })),
      EVAL,
    );
    return { metrics, seconds: (performance.now() - started) / 1000, steps: result.steps };
  } finally {
    model.dispose();
  }
}

/** The IOB2 label set (O first) of the entity types in the training and held-out tags. */
export function entityLabels(sets: TaggedRows[]): string[] {
  const types = new Set<string>();
  for (const set of sets) {
    for (const tags of set.tags) {
      for (const tag of tags) {
        const parsed = parseTag(tag);
        if (parsed && parsed.prefix !== "O") types.add(parsed.type);
      }
    }
  }
  return labelsForScheme([...types], "IOB2");
}

/** Token classification (NER): entity F1 with seqeval as the core reports it. */
export async function tag(
  start: Start,
  recipe: Recipe,
  data: { train: TaggedRows; test: TaggedRows },
): Promise<Outcome> {
  const labels = entityLabels([data.train, data.test]);
  const scheme = detectScheme([...data.train.tags, ...data.test.tags]);
  const model = buildModel(start, labels.length, "token");
  const started = performance.now();
  try {
    const result = await fineTuneTokenClassifier({
      model,
      tokenizer: start.tokenizer,
      train: data.train,
      validation: null,
      labels,
      scheme,
      hyperparameters: hyperparameters(recipe, start.seed),
      onEvent: () => {},
      shouldStop: noStop,
    });
    const task = tokenClassificationTask(model, start.tokenizer, {}, { labels, scheme });
    const words = new WordTokenizer(start.tokenizer);
    const held = tokenExamples(words, data.test, labels, scheme, maxLengthOf(model, recipe), "held-out set");
    const metrics = await task.evaluate(held.examples, EVAL);
    return { metrics, seconds: (performance.now() - started) / 1000, steps: result.steps };
  } finally {
    model.dispose();
  }
}

/** Extractive QA (span head): SQuAD exact_match / f1 over the held-out questions. */
export async function answer(
  start: Start,
  recipe: Recipe & { docStride: number },
  data: { train: QaExample[]; test: QaExample[] },
): Promise<Outcome> {
  const model = buildModel(start, 2, "span");
  const started = performance.now();
  try {
    const result = await fineTuneQuestionAnswering({
      model,
      tokenizer: start.tokenizer,
      train: data.train,
      validation: null,
      docStride: recipe.docStride,
      hyperparameters: hyperparameters(recipe, start.seed),
      onEvent: () => {},
      shouldStop: noStop,
    });
    const windows = { maxLength: maxLengthOf(model, recipe), docStride: recipe.docStride };
    const task = questionAnsweringTask(model, start.tokenizer, {});
    const metrics = await task.evaluate(qaTrainingExamples(start.tokenizer, data.test, windows), EVAL);
    return { metrics, seconds: (performance.now() - started) / 1000, steps: result.steps };
  } finally {
    model.dispose();
  }
}
