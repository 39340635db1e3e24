/**
 * Token-classification training (train/token_classification.ts): the masked cross-entropy ignores -100
 * positions and applies class weights as Σ w·loss / Σ w (balanced or per label / entity type); the seqeval metrics come out per entity type with
 * predictions converted back to the data's scheme (and plain POS tags scored per tag); a tiny random BERT with
 * a token head, trained a few epochs on 200 CoNLL-2003 sentences (IOB1, WordPiece vocabulary learned from the
 * training words), beats its untrained self on dev F1 and reports every metric key; a tag outside the labels
 * is a 400.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import { initSequenceClassifier } from "../../shared/core/model/load.ts";
import { parseConll } from "../../shared/core/tasks/conll.ts";
import { labelsForScheme, parseTag } from "../../shared/core/tasks/tagging.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import {
  fineTuneTokenClassifier,
  maskedTokenCrossEntropy,
  tokenClassificationMetrics,
  tokenClassificationTask,
  tokenClassWeights,
  tokenExamples,
} from "../../shared/core/train/token_classification.ts";
import { WordTokenizer } from "../../shared/core/tasks/token_features.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import { hyperparametersSchema } from "../../shared/schemas/hyperparameters.ts";
import { parseBertConfig } from "../../shared/core/model/config.ts";

await initBackend("wasm");

Deno.test("masked cross-entropy: -100 positions ignored, class weights as Σ w·loss / Σ w", () => {
  const logits = tf.tensor2d([[2, 0, 0], [0, 1, 0], [5, 5, 5], [0, 0, 3]]);
  const labels = tf.tensor1d([0, 2, -100, 2], "int32");
  const nll = (row: number[], k: number) => -(row[k] - Math.log(row.reduce((s, v) => s + Math.exp(v), 0)));
  const losses = [nll([2, 0, 0], 0), nll([0, 1, 0], 2), nll([0, 0, 3], 2)];
  const plain = maskedTokenCrossEntropy(logits, labels);
  assert.ok(Math.abs(plain.loss.dataSync()[0] - (losses[0] + losses[1] + losses[2]) / 3) < 1e-5);
  assert.equal(plain.weight.dataSync()[0], 3);
  const weighted = maskedTokenCrossEntropy(logits, labels, [0.5, 1, 2]);
  const expected = (0.5 * losses[0] + 2 * losses[1] + 2 * losses[2]) / 4.5;
  assert.ok(Math.abs(weighted.loss.dataSync()[0] - expected) < 1e-5);
  const none = maskedTokenCrossEntropy(logits, tf.tensor1d([-100, -100, -100, -100], "int32"));
  assert.equal(none.loss.dataSync()[0], 0);
});

Deno.test("class weights: balanced over training labels, label or entity-type keys, unknown key 400", () => {
  const labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"];
  const tags = [["B-PER", "I-PER", "O", "O"], ["O", "B-LOC", "O", "O"]]; // O ×5, B-PER, I-PER, B-LOC
  // n / (k · count) = 8 / (5 · count); I-LOC never occurs → 1.
  assert.deepEqual(tokenClassWeights("balanced", labels, tags), [8 / 25, 8 / 5, 8 / 5, 8 / 5, 1]);
  assert.deepEqual(tokenClassWeights({ PER: 3, "B-LOC": 2 }, labels, tags), [1, 3, 3, 2, 1]);
  assert.throws(
    () => tokenClassWeights({ ORG: 2 }, labels, tags),
    (e) =>
      e instanceof ApiError && e.status === 400 &&
      /'ORG' is neither a label nor an entity type/.test(e.message),
  );
});

Deno.test("metrics: seqeval micro scores, f1 per type, plain tags scored per tag", () => {
  const gold = [["I-PER", "I-PER", "O", "I-LOC"], ["I-ORG", "O"]];
  const pred = [["I-PER", "I-PER", "O", "I-ORG"], ["I-ORG", "O"]];
  const m = tokenClassificationMetrics(gold, pred, "IOB1");
  // Gold: PER, LOC, ORG; predicted: PER, ORG (wrong span), ORG → tp 2, precision 2/3, recall 2/3.
  assert.ok(Math.abs(m.precision - 2 / 3) < 1e-9 && Math.abs(m.recall - 2 / 3) < 1e-9);
  assert.ok(Math.abs(m.f1 - 2 / 3) < 1e-9);
  assert.equal(m.accuracy, 5 / 6);
  assert.equal(m.f1_PER, 1);
  assert.equal(m.f1_LOC, 0);
  assert.ok(Math.abs(m.f1_ORG - 2 / 3) < 1e-9);
  const pos = tokenClassificationMetrics([["DT", "NN", "NN"]], [["DT", "NN", "VB"]], "plain");
  assert.ok(Math.abs(pos.f1 - 2 / 3) < 1e-9);
  assert.equal(pos.f1_NN, 2 / 3);
});

const conll = (path: string) => parseConll(Deno.readTextFileSync(path)).sentences;
const TRAIN = conll("../shared/data/conll2003_eng.train.5k").slice(0, 200);
const DEV = conll("../shared/data/conll2003_eng.testa").slice(0, 150);
const TYPES = [...new Set(TRAIN.flatMap((s) => s.tags).map((t) => (parseTag(t) as { type?: string }).type))]
  .filter((t): t is string => t !== undefined);
const LABELS = labelsForScheme(TYPES, "IOB2");
const tokenizer = TextTokenizer.trainWordPiece(TRAIN.map((s) => s.tokens.join(" ")), {
  vocabSize: 300,
  lowercase: false,
  minFrequency: 1,
});
const HP = hyperparametersSchema.parse({
  learning_rate: 1e-2,
  epochs: 12,
  batch_size: 16,
  max_seq_length: 16,
  warmup_ratio: 0.1,
  seed: 3,
});
// A cpu-light BERT (as tests/support/tiny_bert.ts, with hidden 32 / 4 heads: hidden 16 stays at all-O here).
const CONFIG = parseBertConfig({
  model_type: "bert",
  vocab_size: tokenizer.vocabSize,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
  max_position_embeddings: 32,
});
const words = (sentences: typeof TRAIN) => ({
  tokens: sentences.map((s) => s.tokens),
  tags: sentences.map((s) => s.tags),
});

Deno.test("a tiny BERT token classifier learns CoNLL NER: dev F1 above the untrained model's", async () => {
  const model = initSequenceClassifier(CONFIG, LABELS.length, 7, "token");
  try {
    const dropout = { hidden: 0, attention: 0, classifier: 0 };
    const devExamples = tokenExamples(
      new WordTokenizer(tokenizer),
      words(DEV),
      LABELS,
      "IOB1",
      HP.max_seq_length,
      "dev",
    );
    const task = tokenClassificationTask(model, tokenizer, dropout, { labels: LABELS, scheme: "IOB1" });
    const before = await task.evaluate(devExamples.examples, { batchSize: 32, labelSmoothing: 0 });
    const events: string[] = [];
    const result = await fineTuneTokenClassifier({
      model,
      tokenizer,
      train: words(TRAIN),
      validation: words(DEV),
      labels: LABELS,
      hyperparameters: HP,
      onEvent: (e) => void events.push(e.type),
      shouldStop: () => false,
    });
    assert.equal(result.status, "completed");
    assert.equal(result.scheme, "IOB1");
    assert.ok(result.truncatedWords.train > 0 && result.truncatedWords.validation > 0);
    const after = result.metrics;
    for (const key of ["eval_loss", "precision", "recall", "f1", "accuracy", "f1_PER", "f1_LOC"]) {
      assert.ok(Number.isFinite(after[key]), `metric ${key}: ${after[key]}`);
    }
    assert.ok(after.eval_loss < before.eval_loss, `eval_loss ${before.eval_loss} → ${after.eval_loss}`);
    assert.ok(after.f1 > before.f1 + 0.1, `f1 ${before.f1} → ${after.f1}`);
    assert.equal(events.filter((e) => e === "eval").length, HP.epochs);
  } finally {
    model.dispose();
  }
});

Deno.test("a tag outside the label set is a 400 naming the sentence", async () => {
  const model = initSequenceClassifier(CONFIG, LABELS.length, 7, "token");
  try {
    await assert.rejects(
      fineTuneTokenClassifier({
        model,
        tokenizer,
        train: { tokens: [["Paris"], ["in", "Rome"]], tags: [["I-LOC"], ["O", "I-CITY"]] },
        validation: null,
        labels: LABELS,
        hyperparameters: HP,
        onEvent: () => {},
        shouldStop: () => false,
      }),
      (e) => e instanceof ApiError && e.status === 400 && /sentence 1 has tag 'B-CITY'/.test(e.message),
    );
  } finally {
    model.dispose();
  }
});
