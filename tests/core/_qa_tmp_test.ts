/**
 * Extractive-QA training: the span loss is (CE(start) + CE(end)) / 2 over real tokens, the best answer is
 * searched over every window, and a tiny random-init BERT trained briefly on ~300 SQuAD questions answers
 * held-out questions (same articles) better than before training.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import { initSequenceClassifier } from "../../shared/core/model/load.ts";
import { shuffledIndices } from "../../shared/core/random.ts";
import { prepareQaFeatures } from "../../shared/core/tasks/qa_features.ts";
import { parseSquadJson } from "../../shared/core/tasks/squad.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import {
  bestAnswer,
  fineTuneQuestionAnswering,
  QA_METRICS,
  qaTrainingExamples,
  questionAnsweringTask,
  spanLoss,
} from "../../shared/core/train/question_answering.ts";
import type { TrainEvent } from "../../shared/core/train/trainer.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import { hyperparametersSchema } from "../../shared/schemas/hyperparameters.ts";

await initBackend("wasm");

const squad = parseSquadJson(
  Deno.readTextFileSync(new URL("../../../shared/data/squad_v1.1_dev_articles_0-9.json", import.meta.url)),
);

Deno.test("spanLoss = (CE(start) + CE(end)) / 2, padding positions excluded", async () => {
  // 2 rows × 3 positions; row 1's last position is padding.
  const values = [[1, 0], [2, 1], [0, 3], [0.5, 2], [1.5, -1], [9, 9]];
  const encoded = {
    inputIds: new Int32Array(6),
    tokenTypeIds: new Int32Array(6),
    attentionMask: new Int32Array([1, 1, 1, 1, 1, 0]),
    batchSize: 2,
    seqLength: 3,
  };
  const ce = (logits: number[], gold: number) =>
    Math.log(logits.reduce((s, x) => s + Math.exp(x), 0)) - logits[gold];
  const expected = ((ce([1, 2, 0], 1) + ce([0.5, 1.5], 0)) / 2 + (ce([0, 1, 3], 2) + ce([2, -1], 1)) / 2) / 2;
  const loss = spanLoss(tf.tensor2d(values), encoded, [1, 0], [2, 1]);
  assert.ok(Math.abs((await loss.data())[0] - expected) < 1e-5);
  loss.dispose();
});

Deno.test("bestAnswer takes the highest start + end logit over all windows within maxAnswerLength", () => {
  const tokenizer = TextTokenizer.trainWordPiece(["alpha beta gamma delta epsilon zeta which"], {
    vocabSize: 80,
    minFrequency: 1,
  });
  const context = "alpha beta gamma delta epsilon zeta";
  const example = {
    id: "x",
    context,
    question: "which",
    answers: { text: ["gamma"], answer_start: [11] },
    spans: [{ start: 11, end: 16 }],
    source: {},
  };
  const features = prepareQaFeatures(tokenizer, [example], { maxLength: 8, docStride: 2 });
  assert.ok(features.length >= 2);
  const tokenOf = (f: (typeof features)[number], word: string) => {
    const i = f.offsets.findIndex((o) => o !== null && context.slice(o.start, o.end) === word);
    assert.ok(i > 0, `'${word}' is one token of the window`);
    return i;
  };
  const windows = features.map((feature) => ({ feature, logits: new Float32Array(feature.ids.length * 2) }));
  const first = windows[0], last = windows.at(-1)!;
  first.logits[2 * tokenOf(first.feature, "beta")] = 3;
  first.logits[2 * tokenOf(first.feature, "beta") + 1] = 3;
  last.logits[2 * tokenOf(last.feature, "epsilon")] = 4;
  last.logits[2 * tokenOf(last.feature, "zeta") + 1] = 4;
  const best = bestAnswer(windows, 30)!;
  assert.equal(context.slice(best.start, best.end), "epsilon zeta");
  assert.equal(best.logit, 8);
  const short = bestAnswer(windows, 1)!;
  assert.equal(context.slice(short.start, short.end), "beta");
});

Deno.test("a tiny BERT trained on ~300 SQuAD questions improves held-out F1 and eval_loss", async () => {
  const pool = squad.filter((e) => e.context.length < 400).slice(0, 340); // short contexts: ~1 window each
  const order = shuffledIndices(pool.length, 3);
  const validation = order.slice(0, 60).map((i) => pool[i]);
  const train = order.slice(60).map((i) => pool[i]);
  const tokenizer = TextTokenizer.trainWordPiece(
    [...new Set(pool.map((e) => e.context))].concat(pool.map((e) => e.question)),
    { vocabSize: 1000 },
  );
  const model = initSequenceClassifier(
    {
      model_type: "bert",
      vocab_size: tokenizer.vocabSize,
      hidden_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 64,
      max_position_embeddings: 128,
    },
    2,
    1,
    "span",
  );
  try {
    const heldOut = qaTrainingExamples(tokenizer, validation, { maxLength: 128, docStride: 32 });
    const before = await questionAnsweringTask(model, tokenizer, {}).evaluate(heldOut, {
      batchSize: 32,
      labelSmoothing: 0,
    });
    assert.deepEqual(Object.keys(before).sort(), [...QA_METRICS].sort());
    const events: TrainEvent[] = [];
    const result = await fineTuneQuestionAnswering({
      model,
      tokenizer,
      train,
      validation,
      hyperparameters: hyperparametersSchema.parse({
        learning_rate: 3e-3,
        epochs: 2,
        batch_size: 16,
        max_seq_length: 128,
        warmup_ratio: 0.1,
        seed: 1,
      }),
      docStride: 32,
      maxAnswerLength: 30,
      onEvent: (e) => void events.push(e),
      shouldStop: () => false,
    });
    assert.equal(result.status, "completed");
    const evals = events.filter((e) => e.type === "eval");
    assert.equal(evals.length, 2);
    const after = result.metrics;
    for (const key of QA_METRICS) assert.ok(Number.isFinite(after[key]), key);
    assert.ok(after.f1 >= 0 && after.f1 <= 100 && after.exact_match <= after.f1 + 1e-9);
    assert.ok(after.eval_loss < before.eval_loss, `eval_loss ${before.eval_loss} → ${after.eval_loss}`);
    console.log("F1", before, after);
    assert.ok(after.f1 > before.f1 + 5, `held-out F1 ${before.f1} → ${after.f1}`);
  } finally {
    model.dispose();
  }
});

Deno.test("fineTuneQuestionAnswering refuses an empty training set and a too-large tokenizer", async () => {
  const tokenizer = TextTokenizer.trainWordPiece(squad.slice(0, 20).map((e) => e.context), {
    vocabSize: 200,
  });
  const config = {
    model_type: "bert",
    hidden_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 64,
  };
  const input = {
    tokenizer,
    validation: null,
    hyperparameters: hyperparametersSchema.parse({ epochs: 1, batch_size: 4, max_seq_length: 64 }),
    onEvent: () => {},
    shouldStop: () => false,
  };
  const ok = initSequenceClassifier({ ...config, vocab_size: tokenizer.vocabSize }, 2, 1, "span");
  const small = initSequenceClassifier({ ...config, vocab_size: 50 }, 2, 1, "span");
  try {
    await assert.rejects(
      () => fineTuneQuestionAnswering({ ...input, model: ok, train: [] }),
      (e) => e instanceof ApiError && e.status === 400 && /empty/.test(e.message),
    );
    await assert.rejects(
      () => fineTuneQuestionAnswering({ ...input, model: small, train: squad.slice(0, 2) }),
      (e) => e instanceof ApiError && e.status === 400 && /vocab_size/.test(e.message),
    );
  } finally {
    ok.dispose();
    small.dispose();
  }
});
