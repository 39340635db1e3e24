/**
 * Fine-tuning of a token classifier (NER, POS): word-level tags are converted to IOB2 for training (IOB1 and
 * BIOES data are read through their entity spans; POS-style "plain" tag sets are used as they are), each
 * sentence is tokenized once with the label on the first sub-token of every word (token_features.ts), and the
 * model — an encoder with a token head, forward() → logits [B*S, numLabels] — is wrapped as a TrainingTask:
 * cross-entropy over labelled positions only (optional class weights as PyTorch's CrossEntropyLoss(weight):
 * Σ w_y·loss / Σ w_y; transformers' label smoothing), dropout seeded per micro-batch. Evaluation predicts each
 * word's tag from its first sub-token, converts the predictions back to the data's scheme and scores them
 * with seqeval's default (lenient) mode, as HF's run_ner.py does: eval_loss (mean over labelled tokens),
 * precision, recall, f1 (micro over entities), accuracy (per word) and `f1_<TYPE>` per entity type. Plain tags
 * are scored as one-word entities (tag T read as B-T), so f1 is the tag-level F1 ignoring "O". Words cut off
 * by max_seq_length are neither trained nor scored, as in run_ner.py; their count is returned.
 */
import * as tf from "@tensorflow/tfjs";
import { ApiError } from "../../schemas/errors.ts";
import type { Hyperparameters } from "../../schemas/hyperparameters.ts";
import { batchTensors } from "../infer.ts";
import { seqevalReport } from "../metrics/seqeval.ts";
import type { DropoutRates, SequenceClassifier } from "../model/classifier.ts";
import { convertTags, detectScheme, type TagScheme } from "../tasks/tagging.ts";
import { IGNORE_LABEL, tokenFeatures, WordTokenizer } from "../tasks/token_features.ts";
import type { TextTokenizer } from "../tokenizer/text_tokenizer.ts";
import { balancedClassWeights } from "../tasks/class_weights.ts";
import type { TrainingTask } from "./task.ts";
import { train, type TrainerInput, type TrainEvent } from "./trainer.ts";

export interface TaggedWords {
  tokens: string[][];
  tags: string[][];
}

/** One tokenized sentence. */
export interface TokenExample {
  row: { ids: number[]; typeIds: number[] };
  /** Per position: label id on each word's first sub-token, else IGNORE_LABEL. */
  labels: number[];
  /** Gold tags (in the data's scheme) of the words that have a labelled position, in order. */
  goldTags: string[];
}

export const TOKEN_CLASSIFICATION_METRICS = ["eval_loss", "precision", "recall", "f1", "accuracy"] as const;

/**
 * Σ w·loss / Σ w over positions whose label is not IGNORE_LABEL, where loss is the (label-smoothed)
 * cross-entropy of logits [N, C] and w the class weight of the gold label (1 without weights). Also returns
 * Σ w, so callers can pool batches.
 */
export function maskedTokenCrossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  classWeights: readonly number[] | null = null,
  labelSmoothing = 0,
): { loss: tf.Scalar; weight: tf.Scalar } {
  return tf.tidy(() => {
    const numLabels = logits.shape[1];
    const active = tf.greaterEqual(labels, 0);
    const safe = tf.where(active, labels, tf.zerosLike(labels));
    const oneHot = tf.oneHot(safe, numLabels).toFloat();
    const logProbs = tf.logSoftmax(logits, -1);
    let perToken: tf.Tensor = tf.neg(tf.sum(tf.mul(logProbs, oneHot), -1));
    if (labelSmoothing > 0) {
      const smoothed = tf.neg(tf.mean(logProbs, -1));
      perToken = tf.add(tf.mul(perToken, 1 - labelSmoothing), tf.mul(smoothed, labelSmoothing));
    }
    let weights: tf.Tensor = active.toFloat();
    if (classWeights) {
      weights = tf.mul(weights, tf.sum(tf.mul(oneHot, tf.tensor1d([...classWeights])), -1));
    }
    const total = tf.sum(weights);
    const loss = tf.div(tf.sum(tf.mul(perToken, weights)), tf.maximum(total, 1e-12));
    return { loss: loss as tf.Scalar, weight: total as tf.Scalar };
  });
}

/** Labels [B*S] of collated rows (padding → IGNORE_LABEL). */
function labelTensor(examples: readonly TokenExample[], seqLength: number): tf.Tensor1D {
  const out = new Int32Array(examples.length * seqLength).fill(IGNORE_LABEL);
  examples.forEach((e, r) => out.set(e.labels.slice(0, seqLength), r * seqLength));
  return tf.tensor1d(out, "int32");
}

/** Tags as seqeval should read them: plain tags become one-word entities. */
const forSeqeval = (tags: readonly string[], scheme: TagScheme) =>
  scheme === "plain" ? tags.map((t) => (t === "O" ? "O" : `B-${t}`)) : tags;

/** seqeval metrics of word-level gold/predicted tags, in the data's scheme. */
export function tokenClassificationMetrics(
  gold: readonly (readonly string[])[],
  pred: readonly (readonly string[])[],
  scheme: TagScheme,
): Record<string, number> {
  const report = seqevalReport(
    gold.map((g) => forSeqeval(g, scheme)),
    pred.map((p) => forSeqeval(p, scheme)),
  );
  const metrics: Record<string, number> = {
    precision: report.micro.precision,
    recall: report.micro.recall,
    f1: report.micro.f1,
    accuracy: Number.isNaN(report.accuracy) ? 0 : report.accuracy,
  };
  for (const type of report.types) metrics[`f1_${type}`] = report.perType[type].f1;
  return metrics;
}

/** The token classifier as a TrainingTask; `labels` are the model's outputs (IOB2 or plain tags). */
export function tokenClassificationTask(
  model: SequenceClassifier,
  tokenizer: TextTokenizer,
  dropout: DropoutRates,
  options: { labels: readonly string[]; scheme: TagScheme; classWeights?: readonly number[] | null },
): TrainingTask<TokenExample> {
  if (model.head !== "token") {
    throw new Error(`tokenClassificationTask needs a token head, not '${model.head}'`);
  }
  if (options.labels.length !== model.numLabels) {
    throw new Error(
      `tokenClassificationTask: ${options.labels.length} labels for ${model.numLabels} outputs`,
    );
  }
  const classWeights = options.classWeights ?? null;
  if (classWeights && classWeights.length !== model.numLabels) {
    throw new Error(
      `tokenClassificationTask: ${classWeights.length} class weights for ${model.numLabels} labels`,
    );
  }
  return {
    params: new Map([...model.params].filter(([name]) => !model.fixedParams.has(name))),
    numLayers: model.numLayers,
    metricNames: TOKEN_CLASSIFICATION_METRICS,
    loss(examples, { training, seed, labelSmoothing }) {
      const encoded = tokenizer.collate(examples.map((e) => e.row));
      return tf.tidy(() => {
        const logits = model.forward(batchTensors(encoded), { training, seed, dropout });
        const gold = labelTensor(examples, encoded.seqLength);
        return maskedTokenCrossEntropy(logits, gold, classWeights, labelSmoothing).loss;
      });
    },
    async evaluate(examples, { batchSize, labelSmoothing }) {
      const order = examples.map((_, i) => i).sort((a, b) =>
        examples[a].row.ids.length - examples[b].row.ids.length
      );
      const predicted = new Array<string[]>(examples.length);
      let lossSum = 0;
      let weightSum = 0;
      for (let start = 0; start < order.length; start += batchSize) {
        const batch = order.slice(start, start + batchSize).map((i) => examples[i]);
        const encoded = tokenizer.collate(batch.map((e) => e.row));
        const [lossTensor, weightTensor, argmax] = tf.tidy(() => {
          const logits = model.forward(batchTensors(encoded), { training: false });
          const gold = labelTensor(batch, encoded.seqLength);
          const { loss, weight } = maskedTokenCrossEntropy(logits, gold, classWeights, labelSmoothing);
          return [tf.mul(loss, weight), weight, tf.argMax(logits, -1)];
        });
        const [l, w, ids] = await Promise.all([lossTensor.data(), weightTensor.data(), argmax.data()]);
        tf.dispose([lossTensor, weightTensor, argmax]);
        lossSum += l[0];
        weightSum += w[0];
        batch.forEach((e, r) => {
          const tags: string[] = [];
          e.labels.forEach((label, s) => {
            if (label !== IGNORE_LABEL) tags.push(options.labels[ids[r * encoded.seqLength + s]]);
          });
          predicted[order[start + r]] = toDataScheme(tags, options.scheme);
        });
      }
      return {
        eval_loss: weightSum > 0 ? lossSum / weightSum : 0,
        ...tokenClassificationMetrics(examples.map((e) => e.goldTags), predicted, options.scheme),
      };
    },
  };
}

/**
 * Loss weight per label from a job's `class_weights`: "balanced" (scikit-learn's n / (k · count) over the
 * training words' labels) or a record whose keys are labels ("B-PER") or entity types ("PER": every label of
 * the type); unnamed labels weigh 1. An unknown key is a 400.
 */
export function tokenClassWeights(
  spec: "balanced" | Record<string, number>,
  labels: readonly string[],
  trainingTags: readonly (readonly string[])[],
): number[] {
  if (spec === "balanced") return balancedClassWeights(trainingTags.flat(), labels);
  const weights = labels.map(() => 1);
  for (const [key, weight] of Object.entries(spec)) {
    const exact = labels.indexOf(key);
    const ofType = labels.flatMap((l, i) => (l.slice(2) === key && /^[BIES]-/.test(l) ? [i] : []));
    const targets = exact >= 0 ? [exact] : ofType;
    if (targets.length === 0) {
      throw new ApiError(
        400,
        "invalid_request",
        `class_weights: '${key}' is neither a label nor an entity type (labels: ${labels.join(", ")})`,
        { path: "task_options.class_weights", key },
      );
    }
    for (const i of targets) weights[i] = weight;
  }
  return weights;
}

/** IOB2 predictions → the data's scheme (plain and IOB2 unchanged). */
function toDataScheme(tags: string[], scheme: TagScheme): string[] {
  return scheme === "plain" || scheme === "IOB2" ? tags : convertTags(tags, scheme);
}

/** IOB2 (or plain) training tags from the data's scheme. */
export function toTrainingTags(tags: readonly string[], scheme: TagScheme): string[] {
  return scheme === "plain" || scheme === "IOB2" ? [...tags] : convertTags(tags, "IOB2");
}

export interface FineTuneTokenInput {
  model: SequenceClassifier;
  tokenizer: TextTokenizer;
  train: TaggedWords;
  validation: TaggedWords | null;
  /** The model's output labels (IOB2 entity tags, "O" first, or the plain tag set). */
  labels: string[];
  hyperparameters: Hyperparameters;
  onEvent: (e: TrainEvent) => void | Promise<void>;
  shouldStop: () => boolean | Promise<boolean>;
  /** The data's tag scheme; detected from train + validation tags when absent. */
  scheme?: TagScheme;
  /** Loss weight per label (same order as `labels`), or a job's class_weights spec (see tokenClassWeights). */
  classWeights?: readonly number[] | "balanced" | Record<string, number> | null;
  resumable?: Pick<
    TrainerInput<TokenExample>,
    "resumeFrom" | "onCheckpoint" | "checkpointEvery" | "checkpointOnStop" | "loadBestModelAtEnd"
  >;
}

export interface FineTuneTokenResult {
  status: "completed" | "stopped";
  steps: number;
  metrics: Record<string, number>;
  best: { step: number; metrics: Record<string, number> } | null;
  scheme: TagScheme;
  /** Words beyond max_seq_length (not trained / not scored), per split. */
  truncatedWords: { train: number; validation: number };
}

/** Tokenized examples of one split; 400 naming the sentence for a tag outside `labels`. */
export function tokenExamples(
  words: WordTokenizer,
  data: TaggedWords,
  labels: readonly string[],
  scheme: TagScheme,
  maxLength: number,
  what: string,
): { examples: TokenExample[]; truncatedWords: number } {
  if (data.tokens.length !== data.tags.length) {
    throw new ApiError(
      400,
      "invalid_request",
      `${what}: ${data.tokens.length} sentences but ${data.tags.length} tag lists`,
    );
  }
  const index = new Map(labels.map((l, i) => [l, i]));
  let truncatedWords = 0;
  const examples = data.tokens.map((tokens, s) => {
    const tags = data.tags[s];
    if (tags.length !== tokens.length) {
      throw new ApiError(
        400,
        "invalid_request",
        `${what}: sentence ${s} has ${tokens.length} tokens but ${tags.length} tags`,
        {
          index: s,
        },
      );
    }
    const ids = toTrainingTags(tags, scheme).map((tag) => {
      const id = index.get(tag);
      if (id === undefined) {
        throw new ApiError(
          400,
          "invalid_request",
          `${what}: sentence ${s} has tag '${tag}', which is not a label`,
          {
            index: s,
            labels,
          },
        );
      }
      return id;
    });
    const features = tokenFeatures(words, tokens, ids, maxLength);
    truncatedWords += features.truncatedWords;
    return {
      row: { ids: features.ids, typeIds: features.typeIds },
      labels: features.labels,
      goldTags: features.labelledWords.map((w) => tags[w]),
    };
  });
  return { examples, truncatedWords };
}

export async function fineTuneTokenClassifier(input: FineTuneTokenInput): Promise<FineTuneTokenResult> {
  const { model, tokenizer, train: trainSet, validation, labels, hyperparameters: hp } = input;
  if (trainSet.tokens.length === 0) throw new ApiError(400, "invalid_request", "the training set is empty");
  if (tokenizer.vocabSize > model.config.vocab_size) {
    throw new ApiError(
      400,
      "invalid_request",
      `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${model.config.vocab_size}`,
    );
  }
  const scheme = input.scheme ?? detectScheme([...trainSet.tags, ...(validation?.tags ?? [])]);
  const maxLength = Math.min(hp.max_seq_length, model.maxSequenceLength);
  const words = new WordTokenizer(tokenizer);
  const trainPart = tokenExamples(words, trainSet, labels, scheme, maxLength, "training set");
  const validationPart = validation && validation.tokens.length > 0
    ? tokenExamples(words, validation, labels, scheme, maxLength, "validation set")
    : null;
  const dropout = {
    hidden: hp.hidden_dropout,
    attention: hp.attention_dropout,
    classifier: hp.classifier_dropout,
  };
  const spec = input.classWeights ?? null;
  const classWeights = spec === null || Array.isArray(spec)
    ? (spec as readonly number[] | null)
    : tokenClassWeights(
      spec as "balanced" | Record<string, number>,
      labels,
      trainSet.tags.map((t) => toTrainingTags(t, scheme)),
    );
  const result = await train({
    task: tokenClassificationTask(model, tokenizer, dropout, { labels, scheme, classWeights }),
    train: trainPart.examples,
    validation: validationPart?.examples ?? null,
    hyperparameters: hp,
    onEvent: input.onEvent,
    shouldStop: input.shouldStop,
    ...input.resumable,
  });
  return {
    ...result,
    scheme,
    truncatedWords: { train: trainPart.truncatedWords, validation: validationPart?.truncatedWords ?? 0 },
  };
}
