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
import { hyperparametersSchema } from "../../shared/schemas/hyperparameters.ts";
import type { DatasetRecord, JobRecord, ModelRecord } from "../../shared/schemas/resources.ts";
import { questionAnswering } from "../../runner/tasks/question_answering.ts";
import type { TaskContext } from "../../runner/tasks/types.ts";

await initBackend("wasm");

const QUESTIONS = parseSquadJson(Deno.readTextFileSync("../shared/data/squad_v1.1_dev_articles_0-9.json"))
  .filter((e) => e.context.length < 300).slice(0, 32);
const tokenizer = TextTokenizer.trainWordPiece(
  QUESTIONS.flatMap((e) => [e.context, e.question]),
  { vocabSize: 300 },
);
const COLUMNS = ["id", "title", "context", "question", "answers"];

/** A platform holding one base model and the given JSONL datasets (id → file text). */
function platformWith(datasets: Record<string, string>): Platform {
  const records = new Map<string, unknown>();
  const blobs = new Map<string, Uint8Array>();
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
  for (const [name, bytes] of Object.entries(files)) blobs.set(`models/base/${name}`, bytes);
  records.set("models/t.base", {
    id: "base",
    name: "tiny-bert",
    architecture: "BertForSequenceClassification",
    files: Object.entries(files).map(([name, bytes]) => ({ name, size: bytes.length })),
    blob_prefix: "models/base/",
  } as Partial<ModelRecord>);
  for (const [id, text] of Object.entries(datasets)) {
    blobs.set(`datasets/${id}`, new TextEncoder().encode(text));
    records.set(`datasets/t.${id}`, {
      id,
      format: "jsonl",
      columns: COLUMNS,
      blob_key: `datasets/${id}`,
    } as Partial<DatasetRecord>);
  }
  const meta = {
    get: (collection: string, key: string) => {
      const value = records.get(`${collection}/${key}`);
      return Promise.resolve(value ? { value, revision: "1" } : null);
    },
  };
  const blobStore = {
    get: (key: string) => {
      const bytes = blobs.get(key);
      return Promise.resolve(bytes ? new Blob([bytes.slice()]).stream() : null);
    },
  };
  return { meta, blobs: blobStore } as unknown as Platform;
}

function context(platform: Platform, dataset: string): TaskContext & { logs: string[] } {
  const logs: string[] = [];
  const job = {
    id: "job_1",
    tenant: "t",
    task: "question-answering",
    base_model: "base",
    training_dataset: dataset,
    validation_dataset: null,
    training_target_dataset: null,
    validation_target_dataset: null,
    validation_split: 0.25,
    columns: { text: "text", label: "label" },
    hyperparameters: hyperparametersSchema.parse({
      epochs: 1,
      batch_size: 16,
      max_seq_length: 96,
      learning_rate: 1e-3,
      seed: 5,
    }),
    task_options: { doc_stride: 200 },
  } as unknown as JobRecord;
  return {
    job,
    platform,
    logs,
    shouldStop: () => false,
    resume: {},
    onTrainEvent: () => Promise.resolve(),
    log: (message) => {
      logs.push(message);
      return Promise.resolve();
    },
  };
}

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
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
