/**
 * The token-classification TaskRunner on an in-memory platform (only meta.get and blobs.get are used): a
 * JSONL dataset of 40 CoNLL-2003 sentences (IOB1) and a tiny random BERT base model train one epoch into a
 * BertForTokenClassification folder with IOB2 id2label, the detected tag scheme and seqeval metrics; a dataset
 * with a bad row fails with 400 invalid_file naming the row's line, before any training.
 */
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/backend.ts";
import { exportHfFolder } from "../../shared/core/checkpoint/hf_folder.ts";
import { initSequenceClassifier } from "../../shared/core/model/load.ts";
import { parseConll } from "../../shared/core/tasks/conll.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import type { Platform } from "../../shared/platform/types.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import { tokenClassification } from "../../runner/tasks/token_classification.ts";
import { jsonl, memoryPlatform, taskContext } from "../support/runner_harness.ts";
import { tinyBertConfig } from "../support/tiny_bert.ts";

await initBackend("wasm");

const SENTENCES = parseConll(Deno.readTextFileSync("../shared/data/conll2003_eng.testa")).sentences.slice(
  0,
  40,
);
const tokenizer = TextTokenizer.trainWordPiece(SENTENCES.map((s) => s.tokens.join(" ")), { vocabSize: 200 });

/** The tiny random BERT base model's folder. */
function baseFolder(): Record<string, Uint8Array> {
  const model = initSequenceClassifier(tinyBertConfig(tokenizer.vocabSize), 2, 1);
  const files = exportHfFolder(model, tokenizer, ["a", "b"]);
  model.dispose();
  return files;
}

/** A platform holding the base model and the given JSONL datasets (id → file text). */
const platformWith = (datasets: Record<string, string>): Platform =>
  memoryPlatform(baseFolder(), datasets, ["tokens", "tags"]);

const context = (platform: Platform, dataset: string) =>
  taskContext(platform, "token-classification", dataset, {
    epochs: 1,
    batch_size: 8,
    max_seq_length: 16,
    learning_rate: 1e-3,
    seed: 5,
  }, {});

Deno.test("a JSONL NER dataset trains into a BertForTokenClassification folder with IOB2 labels", async () => {
  const platform = platformWith({ ner: jsonl(SENTENCES.map((s) => ({ tokens: s.tokens, tags: s.tags }))) });
  const ctx = context(platform, "ner");
  const out = await tokenClassification.run(ctx);
  assert.equal(out.status, "completed");
  assert.equal(out.task, "token-classification");
  assert.deepEqual(out.labels, [
    "O",
    "B-LOC",
    "I-LOC",
    "B-MISC",
    "I-MISC",
    "B-ORG",
    "I-ORG",
    "B-PER",
    "I-PER",
  ]);
  assert.deepEqual(out.taskOptions, { tag_scheme: "iob1" });
  assert.equal(out.architecture, "bert"); // the family, as for every fine-tuned model
  const config = JSON.parse(new TextDecoder().decode(out.files["config.json"]));
  assert.deepEqual(config.architectures, ["BertForTokenClassification"]);
  assert.equal(config.id2label["0"], "O");
  assert.equal(config.label2id["I-PER"], 8);
  for (const key of ["eval_loss", "precision", "recall", "f1", "accuracy", "train_loss"]) {
    assert.ok(Number.isFinite(out.metrics[key]), key);
  }
  assert.ok(ctx.logs.some((l) => /on 30 sentences, evaluating on 10; tag scheme IOB1/.test(l)), ctx.logs[0]);
});

Deno.test("a bad row is a 400 invalid_file naming its line", async () => {
  const rows = [
    { tokens: ["EU", "rejects"], tags: ["B-ORG", "O"] },
    { tokens: ["Peter"], tags: ["B-PER"] },
    { tokens: ["German", "call"], tags: ["B-MISC"] },
    { tokens: ["in", "Bonn"], tags: ["O", "B_LOC"] },
  ];
  const ctx = context(platformWith({ bad: jsonl(rows) }), "bad");
  await assert.rejects(tokenClassification.run(ctx), (e) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 400);
    assert.equal(e.code, "invalid_file");
    assert.match(e.message, /line 3: 2 tokens but 1 tags; line 4: tag 'B_LOC' at position 1/);
    return true;
  });
});
