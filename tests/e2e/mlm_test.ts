/**
 * Continued pre-training end to end over real HTTP on the embedded platform: upload unlabeled texts (JSONL
 * with only a `text` column), create a small random BERT, run a `masked-lm` job on it (→ succeeded, MLM
 * metrics, a base model with task null and a BertForMaskedLM config), then use that output as the
 * `base_model` of a text-classification job (→ succeeded, only the pooler and classifier newly initialised:
 * the encoder came from the pre-trained model). Bad masked-lm specs are 400s.
 */
import assert from "node:assert/strict";
import { startEmbeddedInstance } from "../support/embedded_instance.ts";
import { type EdgetuneClient, EdgetuneError, type JobEvent } from "../../shared/client/mod.ts";
import { readTable } from "../../shared/data/mod.ts";

const reviewsUrl = new URL("../../tools/demo/reviews.csv", import.meta.url);

async function reviewTexts(): Promise<string[]> {
  const file = await Deno.open(reviewsUrl);
  const texts: string[] = [];
  for await (const { row } of readTable(file.readable, "csv")) texts.push(row.text);
  return texts;
}

async function runToEnd(client: EdgetuneClient, jobId: string): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  await client.followEvents(jobId, (event: JobEvent) => events.push(event), {
    signal: AbortSignal.timeout(120_000),
  });
  return events;
}

Deno.test("masked-lm job pre-trains a base model that a text-classification job fine-tunes", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const { tenantA } = instance;
    const texts = await reviewTexts();
    const jsonl = new TextEncoder().encode(texts.map((text) => JSON.stringify({ text })).join("\n") + "\n");
    const unlabeled = await tenantA.uploadDataset(jsonl, { fileName: "reviews.jsonl", name: "unlabeled" });
    assert.deepEqual(unlabeled.columns, ["text"]);
    const labelled = await tenantA.uploadDataset(await Deno.readFile(reviewsUrl), {
      fileName: "reviews.csv",
      name: "reviews",
    });
    const base = await tenantA.createModel({
      name: "tiny-bert",
      architecture: "bert",
      config: { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64 },
      tokenizer: { dataset: unlabeled.id, column: "text", vocab_size: 300, lowercase: true },
      seed: 1,
    });

    // A masked-lm job reads only the text column; a missing one is a 400 naming it.
    await assert.rejects(
      () =>
        tenantA.startJob({
          task: "masked-lm",
          base_model: base.id,
          training_dataset: unlabeled.id,
          columns: { text: "body" },
        }),
      (e: unknown) => e instanceof EdgetuneError && e.status === 400 && /"body"/.test(e.message),
    );
    await assert.rejects(
      () =>
        tenantA.startJob({
          task: "masked-lm",
          base_model: base.id,
          training_dataset: unlabeled.id,
          hyperparameters: { mlm_probability: 1 },
        }),
      (e: unknown) => e instanceof EdgetuneError && e.status === 400 && /mlm_probability/.test(e.message),
    );

    const pretrain = await tenantA.startJob({
      task: "masked-lm",
      base_model: base.id,
      training_dataset: unlabeled.id,
      validation_split: 0.2,
      hyperparameters: {
        learning_rate: 3e-3,
        epochs: 2,
        batch_size: 16,
        max_seq_length: 32,
        mlm_probability: 0.2,
        seed: 2,
      },
    });
    const events = await runToEnd(tenantA, pretrain.id);
    assert.deepEqual(events.filter((e) => e.type === "status").map((e) => e.data.status), [
      "queued",
      "running",
      "succeeded",
    ]);
    const evals = events.filter((e) => e.type === "eval");
    assert.equal(evals.length, 2, "one evaluation per epoch");
    const done = await tenantA.getJob(pretrain.id);
    assert.equal(done.status, "succeeded");
    for (const key of ["eval_loss", "perplexity", "accuracy", "train_loss"]) {
      assert.equal(typeof done.metrics[key], "number", key);
    }
    assert.ok(Math.abs(Math.log(done.metrics.perplexity) - done.metrics.eval_loss) < 1e-6);
    assert.ok(done.metrics.accuracy >= 0 && done.metrics.accuracy <= 1);

    const pretrained = await tenantA.getModel(done.fine_tuned_model!);
    assert.equal(pretrained.task, null);
    assert.equal(pretrained.source, "pre-train");
    assert.equal(pretrained.labels, null);
    assert.deepEqual(pretrained.config.architectures, ["BertForMaskedLM"]);
    const fileNames = pretrained.files.map((f) => f.name);
    for (const name of ["config.json", "model.safetensors", "tokenizer.json"]) {
      assert.ok(fileNames.includes(name));
    }

    const fineTune = await tenantA.startJob({
      task: "text-classification",
      base_model: pretrained.id,
      training_dataset: labelled.id,
      validation_split: 0.2,
      hyperparameters: { learning_rate: 3e-3, epochs: 2, batch_size: 16, max_seq_length: 32, seed: 3 },
    });
    const fineTuneEvents = await runToEnd(tenantA, fineTune.id);
    const finished = await tenantA.getJob(fineTune.id);
    assert.equal(finished.status, "succeeded", JSON.stringify(finished.error));
    assert.equal(typeof finished.metrics.accuracy, "number");
    const logs = fineTuneEvents.filter((e) => e.type === "log").map((e) => String(e.data.message));
    assert.ok(
      logs.some((m) => /newly initialised: 4 tensors/.test(m)),
      `only pooler + classifier are new: ${logs.join(" | ")}`,
    );
    const classifier = await tenantA.getModel(finished.fine_tuned_model!);
    assert.equal(classifier.task, "text-classification");
    assert.deepEqual(classifier.labels, ["negative", "positive"]);
  } finally {
    await instance.stop();
  }
});
