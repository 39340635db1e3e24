/**
 * The fixed fine-tuning recipes of the task-breadth benchmark (bench/tasks.ts): one function per task kind
 * (sequence classification / regression, token classification, extractive QA) that builds the task model —
 * from the pre-trained checkpoint's tensors (loadSequenceClassifier: encoder reused, head initialised) or from
 * random init with the same seed (initSequenceClassifier) — fine-tunes it with the core's entry point on the
 * training part, evaluates the held-out part as the trainer's validation set, and returns the core's metrics
 * (the last evaluation) with the wall time. Same recipe and seed for both starting points.
 */
import type { CheckpointTensor } from "../shared/core/model/load.ts";
import { initSequenceClassifier, loadSequenceClassifier } from "../shared/core/model/load.ts";
import type { HeadKind, SequenceClassifier } from "../shared/core/model/classifier.ts";
import type { QaExample } from "../shared/core/tasks/squad.ts";
import { detectScheme, labelsForScheme, parseTag } from "../shared/core/tasks/tagging.ts";
import type { TextTokenizer } from "../shared/core/tokenizer/text_tokenizer.ts";
import { fineTuneSequenceClassifier, type ProblemType } from "../shared/core/train/fine_tune.ts";
import { fineTuneQuestionAnswering } from "../shared/core/train/question_answering.ts";
import { fineTuneTokenClassifier } from "../shared/core/train/token_classification.ts";
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
      validation: { texts: data.test.texts, labels: toIds(data.test.labels) },
      hyperparameters: hyperparameters(recipe, start.seed),
      classWeights,
      onEvent: () => {},
      shouldStop: noStop,
    });
    const report = result.report;
    const classF1 = report && report.problemType === "single_label_classification"
      ? report.perClass.map((c) => c.f1)
      : undefined;
    return {
      metrics: result.metrics,
      classF1,
      seconds: (performance.now() - started) / 1000,
      steps: result.steps,
    };
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
      validation: data.test,
      hyperparameters: hyperparameters(recipe, start.seed),
      onEvent: () => {},
      shouldStop: noStop,
    });
    return { metrics: result.metrics, seconds: (performance.now() - started) / 1000, steps: result.steps };
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
  const model = buildModel(start, labels.length, "token");
  const started = performance.now();
  try {
    const result = await fineTuneTokenClassifier({
      model,
      tokenizer: start.tokenizer,
      train: data.train,
      validation: data.test,
      labels,
      scheme: detectScheme([...data.train.tags, ...data.test.tags]),
      hyperparameters: hyperparameters(recipe, start.seed),
      onEvent: () => {},
      shouldStop: noStop,
    });
    return { metrics: result.metrics, seconds: (performance.now() - started) / 1000, steps: result.steps };
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
      validation: data.test,
      docStride: recipe.docStride,
      hyperparameters: hyperparameters(recipe, start.seed),
      onEvent: () => {},
      shouldStop: noStop,
    });
    return { metrics: result.metrics, seconds: (performance.now() - started) / 1000, steps: result.steps };
  } finally {
    model.dispose();
  }
}
