/**
 * Label options of text-classification over real HTTP (issue 6's acceptance, part 2): multi-label on TREC
 * (each question's coarse and fine class as a JSON list, and as a delimited string) trains, reports the
 * multi-label metrics, and serves sigmoid scores filtered at the model's threshold or the request's; class
 * weights ("balanced") on the imbalanced SMS spam set make the model find more spam; and job creation
 * refuses, with a 400 naming the line or field and nothing queued: a non-numeric regression target, a
 * broken multi-label list, an option another task reads, a missing column, class weights or held-out rows
 * naming labels the training data does not have.
 */
import assert from "node:assert/strict";
import { startEmbeddedInstance } from "../support/embedded_instance.ts";
import {
  type EdgetuneClient,
  EdgetuneError,
  type JobEvent,
  type LabelScore,
} from "../../shared/client/mod.ts";

const encoder = new TextEncoder();
const TREC = new URL("../../../shared/data/trec_train_5500.label", import.meta.url);
const SMS = new URL("../../../shared/data/sms_spam_train.tsv", import.meta.url);
const TINY_BERT = { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64 };
const PREDICT_CHUNK = 256;
type Metrics = Record<string, number>;

/**
 * TREC questions with their coarse and fine class as two real labels (`HUM:ind` → ["HUM", "HUM:ind"]),
 * restricted to the six commonest fine classes so a tiny model learns them in a few epochs.
 */
async function trecRows(): Promise<{ text: string; labels: string[] }[]> {
  const keep = new Set(["HUM:ind", "HUM:gr", "LOC:other", "LOC:city", "NUM:count", "NUM:date"]);
  const lines = (await Deno.readTextFile(TREC)).split("\n").filter((line) => line !== "");
  return lines.map((line) => {
    const space = line.indexOf(" ");
    const fine = line.slice(0, space);
    return { text: line.slice(space + 1), labels: [fine.split(":")[0], fine] };
  }).filter((row) => keep.has(row.labels[1]));
}

const jsonl = (rows: object[]) => encoder.encode(rows.map((r) => JSON.stringify(r)).join("\n") + "\n");

async function runJob(client: EdgetuneClient, spec: Record<string, unknown>) {
  const job = await client.startJob(spec as never);
  const events: JobEvent[] = [];
  await client.followEvents(job.id, (event) => events.push(event), { signal: AbortSignal.timeout(120_000) });
  const done = await client.getJobView(job.id);
  assert.equal(done.status, "succeeded", JSON.stringify(done.error));
  return { done, evals: events.filter((e) => e.type === "eval").map((e) => e.data.metrics as Metrics) };
}

async function predictAll<T>(client: EdgetuneClient, model: string, inputs: unknown[], parameters = {}) {
  const out: T[] = [];
  for (let i = 0; i < inputs.length; i += PREDICT_CHUNK) {
    out.push(...await client.infer<T[]>(model, { inputs: inputs.slice(i, i + PREDICT_CHUNK), parameters }));
  }
  return out;
}

/** Micro-F1 of predicted label sets against the true ones. */
function microF1(predicted: string[][], truth: string[][]): number {
  let tp = 0, fp = 0, fn = 0;
  predicted.forEach((labels, i) => {
    for (const label of labels) truth[i].includes(label) ? tp++ : fp++;
    for (const label of truth[i]) if (!labels.includes(label)) fn++;
  });
  return tp === 0 ? 0 : 2 * tp / (2 * tp + fp + fn);
}

Deno.test("multi-label TREC: list and delimited labels, multi-label metrics, thresholded sigmoid scores", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const { tenantA } = instance;
    const rows = await trecRows();
    const trainRows = rows.slice(0, 1200), devRows = rows.slice(-300);
    const train = await tenantA.uploadDataset(jsonl(trainRows), { fileName: "trec_train.jsonl" });
    const dev = await tenantA.uploadDataset(jsonl(devRows), { fileName: "trec_dev.jsonl" });
    const base = await tenantA.createModel({
      name: "tiny-bert",
      config: TINY_BERT,
      tokenizer: { dataset: train.id, column: "text", vocab_size: 600 },
      seed: 1,
    });
    const spec = {
      task: "text-classification",
      base_model: base.id,
      columns: { text: "text", label: "labels" },
      // The head learns 10× faster: with mostly-negative sigmoid targets it must first learn the label priors.
      hyperparameters: {
        learning_rate: 5e-3,
        lr_multipliers: { head: 10 },
        epochs: 4,
        batch_size: 32,
        max_seq_length: 32,
        seed: 3,
      },
    };
    const { done, evals } = await runJob(tenantA, {
      ...spec,
      training_dataset: train.id,
      validation_dataset: dev.id,
      task_options: { multi_label: true, threshold: 0.4 },
    });
    assert.equal(evals.length, 4);
    for (const metrics of evals) {
      for (
        const key of ["eval_loss", "micro_f1", "macro_f1", "weighted_f1", "subset_accuracy", "hamming_loss"]
      ) {
        assert.ok(Number.isFinite(metrics[key]), `${key}: ${metrics[key]}`);
      }
      assert.equal(metrics.accuracy, undefined, "single-label metrics are not reported");
    }
    const metrics = done.metrics;
    console.log(
      `TREC multi-label dev: micro_f1 ${metrics.micro_f1.toFixed(3)} (first epoch ${
        evals[0].micro_f1.toFixed(3)
      })` +
        ` macro_f1 ${metrics.macro_f1.toFixed(3)} subset_accuracy ${metrics.subset_accuracy.toFixed(3)}` +
        ` hamming_loss ${metrics.hamming_loss.toFixed(3)}`,
    );
    assert.ok(metrics.micro_f1 >= 0.5, `micro_f1 ${metrics.micro_f1}`);

    const model = await tenantA.getModel(done.fine_tuned_model!);
    const labels = [
      "HUM",
      "HUM:gr",
      "HUM:ind",
      "LOC",
      "LOC:city",
      "LOC:other",
      "NUM",
      "NUM:count",
      "NUM:date",
    ];
    assert.deepEqual(model.labels, labels);
    assert.equal(model.task_options.multi_label, true);
    assert.equal(model.task_options.threshold, 0.4);

    // Threshold 0 answers every label's independent sigmoid score; the raw outputs are their logits.
    const question = devRows[0].text;
    const all = await tenantA.infer<LabelScore[]>(model.id, {
      inputs: question,
      parameters: { threshold: 0 },
    });
    assert.deepEqual(all.map((s) => s.label).sort(), labels);
    assert.ok(all.every((s) => s.score > 0 && s.score < 1));
    const raw = await tenantA.infer<LabelScore[]>(model.id, {
      inputs: question,
      parameters: { function_to_apply: "none" },
    });
    for (const { label, score } of raw) {
      const sigmoid = 1 / (1 + Math.exp(-score));
      assert.ok(Math.abs(sigmoid - all.find((s) => s.label === label)!.score) < 1e-5, label);
    }
    // By default the model's threshold (0.4) filters; a request's threshold replaces it.
    const kept = (threshold: number) => all.filter((s) => s.score >= threshold).map((s) => s.label);
    const byDefault = await tenantA.infer<LabelScore[]>(model.id, { inputs: question });
    assert.deepEqual(byDefault.map((s) => s.label), kept(0.4));
    for (const threshold of [0.2, 0.6, 0.95]) {
      const answer = await tenantA.infer<LabelScore[]>(model.id, {
        inputs: question,
        parameters: { threshold },
      });
      assert.deepEqual(answer.map((s) => s.label), kept(threshold), `threshold ${threshold}`);
    }
    assert.notDeepEqual(kept(0.2), kept(0.95), "the thresholds tried select different labels");

    // Served label sets over the held-out rows (truncated as in training) reproduce the job's micro-F1.
    const served = await predictAll<LabelScore[]>(tenantA, model.id, devRows.map((r) => r.text), {
      max_length: 32,
    });
    const servedF1 = microF1(served.map((s) => s.map((x) => x.label)), devRows.map((r) => r.labels));
    assert.ok(Math.abs(servedF1 - metrics.micro_f1) < 1e-9, `served ${servedF1} vs eval ${metrics.micro_f1}`);

    // The same labels as a delimited string column (TSV, "|" between labels) train the same label set.
    const tsv = ["text\tlabels", ...trainRows.map((r) => `${r.text}\t${r.labels.join(" | ")}`)].join("\n");
    const delimited = await tenantA.uploadDataset(encoder.encode(tsv + "\n"), { fileName: "trec_train.tsv" });
    const second = await runJob(tenantA, {
      ...spec,
      training_dataset: delimited.id,
      validation_split: 0.1,
      task_options: { multi_label: true, label_delimiter: "|" },
      hyperparameters: { ...spec.hyperparameters, epochs: 1 },
    });
    assert.ok(Number.isFinite(second.done.metrics.micro_f1));
    const secondModel = await tenantA.getModel(second.done.fine_tuned_model!);
    assert.deepEqual(secondModel.labels, labels);
    assert.equal(secondModel.task_options.threshold, 0.5, "the default threshold");
  } finally {
    await instance.stop();
  }
});

Deno.test("with validation_split, a label only the held-out rows have is still one of the model's labels", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const { tenantA } = instance;
    // The first 60 TREC questions with their fine class: many classes occur once, so holding out half the
    // rows (seeded) is all but certain to hold out some class's only row.
    const rows = (await Deno.readTextFile(TREC)).split("\n").slice(0, 60).map((line) => {
      const space = line.indexOf(" ");
      return { text: line.slice(space + 1), label: line.slice(0, space) };
    });
    const counts = new Map<string, number>();
    for (const { label } of rows) counts.set(label, (counts.get(label) ?? 0) + 1);
    assert.ok([...counts.values()].filter((n) => n === 1).length >= 10);
    const dataset = await tenantA.uploadDataset(jsonl(rows), { fileName: "trec_60.jsonl" });
    const base = await tenantA.createModel({
      name: "tiny-bert",
      config: { ...TINY_BERT, hidden_size: 16, intermediate_size: 32 },
      tokenizer: { dataset: dataset.id, column: "text", vocab_size: 200 },
      seed: 1,
    });
    const { done } = await runJob(tenantA, {
      task: "text-classification",
      base_model: base.id,
      training_dataset: dataset.id,
      validation_split: 0.5,
      hyperparameters: { epochs: 1, batch_size: 16, max_seq_length: 32, seed: 3 },
    });
    const model = await tenantA.getModel(done.fine_tuned_model!);
    assert.deepEqual(model.labels, [...counts.keys()].sort());
  } finally {
    await instance.stop();
  }
});

/** SMS spam lines (`label\ttext`, no header in the file) as a TSV with a header row. */
const smsTsv = (lines: string[]) => encoder.encode(["label\ttext", ...lines].join("\n") + "\n");

Deno.test("class_weights 'balanced' on SMS spam makes the model find more of the rare class", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const { tenantA } = instance;
    const lines = (await Deno.readTextFile(SMS)).split("\n").filter((line) => line !== "");
    const devLines = lines.slice(-500);
    const train = await tenantA.uploadDataset(smsTsv(lines.slice(0, 1000)), { fileName: "sms_train.tsv" });
    const dev = await tenantA.uploadDataset(smsTsv(devLines), { fileName: "sms_dev.tsv" });
    assert.deepEqual(train.columns, ["label", "text"]);
    const base = await tenantA.createModel({
      name: "tiny-bert",
      config: TINY_BERT,
      tokenizer: { dataset: train.id, column: "text", vocab_size: 600 },
      seed: 1,
    });
    const job = (taskOptions: Record<string, unknown>) => ({
      task: "text-classification",
      base_model: base.id,
      training_dataset: train.id,
      validation_dataset: dev.id,
      task_options: taskOptions,
      hyperparameters: { learning_rate: 3e-3, epochs: 2, batch_size: 32, max_seq_length: 48, seed: 3 },
    });
    const plain = await runJob(tenantA, job({}));
    const balanced = await runJob(tenantA, job({ class_weights: "balanced" }));

    const truth = devLines.map((line) => line.split("\t")[0]);
    const spamCount = truth.filter((label) => label === "spam").length;
    const recall = async (modelId: string) => {
      const served = await predictAll<LabelScore[]>(tenantA, modelId, devLines.map((l) => l.split("\t")[1]));
      return served.filter((s, i) => s[0].label === "spam" && truth[i] === "spam").length / spamCount;
    };
    const plainRecall = await recall(plain.done.fine_tuned_model!);
    const balancedRecall = await recall(balanced.done.fine_tuned_model!);
    console.log(
      `SMS spam dev (${spamCount} spam of 500): spam recall unweighted ${plainRecall.toFixed(3)}, balanced ` +
        `${balancedRecall.toFixed(3)}; macro_f1 ${plain.done.metrics.macro_f1.toFixed(3)} → ` +
        `${balanced.done.metrics.macro_f1.toFixed(3)}`,
    );
    // "balanced" weighs a spam row about 3.3× (848 ham / 152 spam in training): more spam is found.
    assert.ok(balancedRecall > plainRecall, `${balancedRecall} vs ${plainRecall}`);
    assert.ok(balanced.done.metrics.macro_f1 > 0.8, `macro_f1 ${balanced.done.metrics.macro_f1}`);
  } finally {
    await instance.stop();
  }
});

Deno.test("job creation refuses sequence-task mistakes with a 400 naming the line or field", async () => {
  const instance = await startEmbeddedInstance({ runner: false });
  try {
    const { tenantA } = instance;
    const smsLines = (await Deno.readTextFile(SMS)).split("\n").filter((line) => line !== "").slice(0, 40);
    const sms = await tenantA.uploadDataset(smsTsv(smsLines), { fileName: "sms.tsv" });
    const trec = (await trecRows()).slice(0, 30);
    // Line 7's label list is cut short (broken JSON array); the JSONL line itself is valid.
    const broken = trec.map((row, i) =>
      i === 6 ? { ...row, labels: `["${row.labels[0]}", "${row.labels[1]}"` } : row
    );
    const trecBroken = await tenantA.uploadDataset(jsonl(broken), { fileName: "trec_broken.jsonl" });
    const trecTrain = await tenantA.uploadDataset(jsonl(trec.filter((r) => r.labels[0] !== "NUM")), {
      fileName: "trec_no_num.jsonl",
    });
    const trecDev = await tenantA.uploadDataset(jsonl(trec), { fileName: "trec_all.jsonl" });
    const base = await tenantA.createModel({
      name: "tiny-bert",
      config: { ...TINY_BERT, hidden_size: 16, intermediate_size: 32 },
      tokenizer: { dataset: sms.id, column: "text", vocab_size: 200 },
    });
    const refused = async (spec: Record<string, unknown>, code: string, pattern: RegExp) => {
      await assert.rejects(tenantA.createJob({ base_model: base.id, ...spec }), (error: unknown) => {
        assert.ok(error instanceof EdgetuneError, String(error));
        assert.equal(error.status, 400, error.message);
        assert.equal(error.code, code, error.message);
        assert.match(error.message + JSON.stringify(error.details), pattern);
        return true;
      });
    };
    // Regression on the spam labels: every row's target is not a number, listed from line 2 on.
    await refused(
      { task: "text-regression", training_dataset: sms.id },
      "invalid_file",
      /line 2: column 'label' must be a number, got 'ham'/,
    );
    await refused(
      {
        task: "text-classification",
        training_dataset: trecBroken.id,
        columns: { text: "text", label: "labels" },
        task_options: { multi_label: true },
      },
      "invalid_file",
      /line 7: column 'labels' is not a list of labels/,
    );
    await refused(
      { task: "text-classification", training_dataset: sms.id, task_options: { doc_stride: 64 } },
      "invalid_request",
      /task_options\.doc_stride: applies to question-answering, not text-classification/,
    );
    await refused(
      { task: "text-classification", training_dataset: sms.id, columns: { text: "sms", label: "label" } },
      "invalid_request",
      /no column "sms"/,
    );
    await refused(
      {
        task: "text-classification",
        training_dataset: sms.id,
        columns: { text: "text", text_pair: "reply", label: "label" },
      },
      "invalid_request",
      /no column "reply"/,
    );
    await refused(
      { task: "text-classification", training_dataset: sms.id, task_options: { class_weights: { spma: 2 } } },
      "invalid_request",
      /task_options.class_weights names labels the training data does not have: spma.*labels: ham, spam/,
    );
    // Held-out rows whose labels training never saw (the NUM questions) are listed by line.
    const firstNum = trec.findIndex((r) => r.labels[0] === "NUM") + 1;
    await refused(
      {
        task: "text-classification",
        training_dataset: trecTrain.id,
        validation_dataset: trecDev.id,
        columns: { text: "text", label: "labels" },
        task_options: { multi_label: true },
      },
      "invalid_file",
      new RegExp(`line ${firstNum}: label 'NUM' does not occur in the training data`),
    );
    assert.equal((await tenantA.listJobs()).data.length, 0, "nothing was queued");

    // Weights naming only training labels are accepted.
    const accepted = await tenantA.startJob({
      task: "text-classification",
      base_model: base.id,
      training_dataset: sms.id,
      task_options: { class_weights: { spam: 3 } },
    });
    assert.equal(accepted.status, "queued");
    assert.deepEqual(accepted.task_options, { class_weights: { spam: 3 } });
  } finally {
    await instance.stop();
  }
});
