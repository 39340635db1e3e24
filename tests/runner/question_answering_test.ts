/**
 * The question-answering TaskRunner on an in-memory platform (only meta.get and blobs.get are used): a JSONL
 * dataset of 32 SQuAD questions (HF datasets shape) and a tiny random BERT base model train one epoch into a
 * BertForQuestionAnswering folder with eval_loss / exact_match / f1 and the QA options kept for serving; a
 * row whose answer_start misses its text fails with 400 invalid_file naming the line, before any training.
 */
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/backend.ts";
import { exportHfFolder } from "../../shared/core/checkpoint/hf_folder.ts";
import { initSequenceClassifier } from "../../shared/core/model/load.ts";
import { parseSquadJson } from "../../shared/core/tasks/squad.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import type { Platform } from "../../shared/platform/types.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import { questionAnswering } from "../../runner/tasks/question_answering.ts";
import { jsonl, memoryPlatform, taskContext } from "../support/runner_harness.ts";

await initBackend("wasm");

const QUESTIONS = parseSquadJson(Deno.readTextFileSync("../shared/data/squad_v1.1_dev_articles_0-9.json"))
  .filter((e) => e.context.length < 300).slice(0, 32);
const tokenizer = TextTokenizer.trainWordPiece(
  QUESTIONS.flatMap((e) => [e.context, e.question]),
  { vocabSize: 300 },
);
const COLUMNS = ["id", "title", "context", "question", "answers"];

/** The tiny random BERT base model's folder. */
function baseFolder(): Record<string, Uint8Array> {
  const model = initSequenceClassifier(
    {
      model_type: "bert",
      vocab_size: tokenizer.vocabSize,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 32,
      max_position_embeddings: 96,
    },
    2,
    1,
  );
  const files = exportHfFolder(model, tokenizer, ["a", "b"]);
  model.dispose();
  return files;
}

/** A platform holding the base model and the given JSONL datasets (id → file text). */
const platformWith = (datasets: Record<string, string>): Platform =>
  memoryPlatform(baseFolder(), datasets, COLUMNS);

const context = (platform: Platform, dataset: string) =>
  taskContext(platform, "question-answering", dataset, {
    epochs: 1,
    batch_size: 16,
    max_seq_length: 96,
    learning_rate: 1e-3,
    seed: 5,
  }, { doc_stride: 200 });

const rowOf = (e: (typeof QUESTIONS)[number]) => ({
  id: e.id,
  title: e.title,
  context: e.context,
  question: e.question,
  answers: e.answers,
});

Deno.test("SQuAD rows train into a BertForQuestionAnswering folder with SQuAD metrics", async () => {
  const ctx = context(platformWith({ squad: jsonl(QUESTIONS.map(rowOf)) }), "squad");
  const out = await questionAnswering.run(ctx);
  assert.equal(out.status, "completed");
  assert.equal(out.task, "question-answering");
  assert.equal(out.labels, null);
  assert.deepEqual(out.taskOptions, { doc_stride: 200, max_answer_length: 30 });
  const config = JSON.parse(new TextDecoder().decode(out.files["config.json"]));
  assert.deepEqual(config.architectures, ["BertForQuestionAnswering"]);
  assert.equal(config.id2label, undefined);
  for (const key of ["eval_loss", "exact_match", "f1", "train_loss"]) {
    assert.ok(Number.isFinite(out.metrics[key]), key);
  }
  assert.ok(out.metrics.f1 >= 0 && out.metrics.f1 <= 100);
  assert.ok(ctx.logs.some((l) => /on 24 questions, evaluating on 8; .*doc_stride 200/.test(l)), ctx.logs[0]);
});

Deno.test("an answer_start that misses its text is a 400 invalid_file naming the line", async () => {
  const rows = QUESTIONS.slice(0, 4).map(rowOf);
  rows[2] = {
    ...rows[2],
    answers: { ...rows[2].answers, answer_start: rows[2].answers.answer_start.map((s) => s + 1) },
  };
  const ctx = context(platformWith({ bad: jsonl(rows) }), "bad");
  await assert.rejects(questionAnswering.run(ctx), (e) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 400);
    assert.equal(e.code, "invalid_file");
    assert.match(e.message, /line 3: answer 0 '.+' does not start at answer_start/);
    return true;
  });
});
