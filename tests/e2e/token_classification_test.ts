/**
 * Token classification (NER) end to end over real HTTP on the embedded platform: CoNLL-2003 slices uploaded
 * as .conll files train a tiny random BERT whose WordPiece vocabulary is learned from the uploaded tokens
 * column; the job's eval events carry seqeval metrics and the held-out F1 after training beats the untrained
 * model's (the step-1 evaluation, taken after an update whose learning rate is 0 because of warm-up); the
 * fine-tuned model predicts entity groups whose offsets slice the input to their word, per-token entities
 * with aggregation none, and the same answers through a deployment. JSONL and CSV (space-separated list
 * cells) uploads and BIOES data train too; bad data is a 400 naming its lines, at upload (a ragged CoNLL
 * line) or at job creation (tag/token count mismatch, a tag that is not IOB2 under tag_scheme iob2).
 */
import assert from "node:assert/strict";
import { startEmbeddedInstance } from "../support/embedded_instance.ts";
import { EdgetuneError, type JobEvent } from "../../shared/client/mod.ts";
import type { EdgetuneClient } from "../../shared/client/mod.ts";

interface Sentence {
  lines: string[];
  tokens: string[];
  tags: string[];
}

/** Sentences of a CoNLL-2003 file (token POS chunk NER), -DOCSTART- lines skipped. */
function conllSentences(path: string, count: number): Sentence[] {
  const sentences: Sentence[] = [];
  let current: Sentence = { lines: [], tokens: [], tags: [] };
  for (const line of Deno.readTextFileSync(path).split("\n")) {
    if (line.trim() === "" || line.startsWith("-DOCSTART-")) {
      if (current.lines.length > 0) sentences.push(current);
      current = { lines: [], tokens: [], tags: [] };
      if (sentences.length >= count) break;
      continue;
    }
    const columns = line.trim().split(" ");
    current.lines.push(line);
    current.tokens.push(columns[0]);
    current.tags.push(columns[columns.length - 1]);
  }
  return sentences;
}

const TRAIN = conllSentences("../shared/data/conll2003_eng.train.5k", 300);
const DEV = conllSentences("../shared/data/conll2003_eng.testa", 60);
const bytes = (text: string) => new TextEncoder().encode(text);
const conllFile = (sentences: Sentence[]) => bytes(sentences.map((s) => s.lines.join("\n")).join("\n\n") + "\n");
const jsonlFile = (rows: { tokens: string[]; tags: string[] }[]) =>
  bytes(rows.map((r) => JSON.stringify({ tokens: r.tokens, tags: r.tags })).join("\n") + "\n");

/** IOB1 tags (CoNLL-2003's) → BIOES. */
function toBioes(tags: string[]): string[] {
  const type = (t: string) => (t === "O" ? null : t.slice(2));
  return tags.map((tag, i) => {
    if (tag === "O") return "O";
    const begins = i === 0 || type(tags[i - 1]) !== type(tag) || tag.startsWith("B-");
    const next = tags[i + 1];
    const ends = next === undefined || type(next) !== type(tag) || next.startsWith("B-");
    return `${begins ? (ends ? "S" : "B") : (ends ? "E" : "I")}-${type(tag)}`;
  });
}

const TINY_BERT = { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64 };

async function runToEnd(client: EdgetuneClient, jobId: string): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  await client.followEvents(jobId, (event) => events.push(event), { signal: AbortSignal.timeout(120_000) });
  return events;
}

/** Asserts `attempt` fails with status/code and a message naming every line in `lines`. */
async function rejectsNaming(attempt: () => Promise<unknown>, status: number, lines: number[], what: RegExp) {
  await assert.rejects(attempt, (error: unknown) => {
    assert.ok(error instanceof EdgetuneError, String(error));
    assert.equal(error.status, status, error.message);
    assert.equal(error.code, "invalid_file", error.message);
    assert.match(error.message, what);
    const listed = JSON.stringify(error.details);
    for (const line of lines) {
      assert.match(error.message + listed, new RegExp(`line"?:? ?${line}\\b`), `line ${line}: ${error.message}`);
    }
    return true;
  });
}

interface Entity {
  entity_group?: string;
  entity?: string;
  index?: number;
  score: number;
  word: string;
  start: number;
  end: number;
}

Deno.test("token classification: CoNLL → job → seqeval events → F1 beats untrained → entities → deployment", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const client = instance.tenantA;
    const train = await client.uploadDataset(conllFile(TRAIN), { fileName: "ner_train.conll" });
    assert.equal(train.format, "conll");
    assert.equal(train.rows, TRAIN.length);
    assert.deepEqual(train.columns, ["tokens", "tags"]);
    const dev = await client.uploadDataset(conllFile(DEV), { fileName: "ner_dev.iob" });
    assert.equal(dev.rows, DEV.length);

    // The tokens column holds JSON lists; BERT pre-tokenisation splits off the brackets, quotes and commas,
    // so the learned vocabulary still holds the words.
    const base = await client.createModel({
      name: "tiny-ner-base",
      architecture: "bert",
      config: { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 128, max_position_embeddings: 64 },
      tokenizer: { dataset: train.id, column: "tokens", vocab_size: 1500, lowercase: false },
      seed: 1,
    });

    const job = await client.startJob({
      task: "token-classification",
      base_model: base.id,
      training_dataset: train.id,
      validation_dataset: dev.id,
      columns: { tokens: "tokens", tags: "tags" },
      task_options: { tag_scheme: "iob1" },
      hyperparameters: {
        learning_rate: 2e-3,
        epochs: 8,
        batch_size: 16,
        max_seq_length: 64,
        warmup_steps: 5,
        warmup_ratio: 0,
        eval_steps: 1,
        seed: 2,
      },
    });
    const events = await runToEnd(client, job.id);
    const statuses = events.filter((e) => e.type === "status").map((e) => e.data.status);
    assert.deepEqual(statuses, ["queued", "running", "succeeded"], JSON.stringify(events.slice(-3)));
    const steps = events.filter((e) => e.type === "step");
    const evals = events.filter((e) => e.type === "eval");
    // The first update has learning rate 0 (linear warm-up starts at 0), so the step-1 evaluation scores the
    // untrained model (randomly initialised token head) on the held-out sentences.
    assert.equal(steps[0].data.step, 1);
    assert.equal(steps[0].data.learning_rate, 0);
    const metricsOf = (e: JobEvent) => e.data.metrics as Record<string, number>;
    const first = metricsOf(evals[0]);
    const last = metricsOf(evals.at(-1)!);
    assert.equal(evals[0].data.step, 1);
    for (const key of ["eval_loss", "precision", "recall", "f1", "accuracy", "f1_PER", "f1_LOC", "f1_ORG"]) {
      assert.equal(typeof last[key], "number", `${key} in ${JSON.stringify(last)}`);
    }
    console.log(
      `NER held-out: untrained f1 ${first.f1.toFixed(3)} acc ${first.accuracy.toFixed(3)}; ` +
        `after ${steps.length} steps f1 ${last.f1.toFixed(3)} acc ${last.accuracy.toFixed(3)} ` +
        `(PER ${last.f1_PER.toFixed(3)}, LOC ${last.f1_LOC.toFixed(3)}, ORG ${last.f1_ORG.toFixed(3)})`,
    );
    console.log(steps.filter((_, i) => i % 19 === 0).map((e) => (e.data.loss as number).toFixed(3)).join(" "));
    console.log(evals.filter((_, i) => i % 19 === 0).map((e) => JSON.stringify(e.data.metrics)).join("\n"));
    assert.ok(last.f1 > first.f1 + 0.1, `f1 ${first.f1} → ${last.f1}`);
    assert.ok(last.eval_loss < first.eval_loss);

    const done = await client.getJob(job.id);
    const modelId = done.fine_tuned_model!;
    const model = await client.getModel(modelId);
    assert.equal(model.task, "token-classification");
    assert.deepEqual(model.labels, ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]);

    const text = "Germany 's representative to the European Union , Werner Zwingmann , said on Wednesday .";
    const groups = await client.infer<Entity[]>(modelId, { inputs: text });
    assert.ok(groups.length > 0, "some entity is found");
    for (const group of groups) {
      assert.equal(text.slice(group.start, group.end), group.word, JSON.stringify(group));
      assert.ok(["PER", "LOC", "ORG", "MISC"].includes(group.entity_group!), JSON.stringify(group));
      assert.ok(group.score > 0 && group.score <= 1);
    }
    const tokens = await client.infer<Entity[]>(modelId, {
      inputs: text,
      parameters: { aggregation_strategy: "none" },
    });
    assert.ok(tokens.length >= groups.length);
    for (const token of tokens) {
      assert.match(token.entity!, /^[BI]-(PER|LOC|ORG|MISC)$/);
      assert.ok(Number.isInteger(token.index) && token.index! >= 1, JSON.stringify(token));
      assert.ok(text.slice(token.start, token.end).length > 0);
    }
    const indexes = tokens.map((t) => t.index!);
    assert.deepEqual(indexes, [...indexes].sort((a, b) => a - b));
    const batch = await client.infer<Entity[][]>(modelId, { inputs: [text, "Nothing here ."] });
    assert.deepEqual(batch[0], groups);

    // Deployed, the model answers the same body with the same shape and values.
    await client.request("POST", "/v1/deployments", { name: "ner", model: modelId });
    const deployed = await client.request<Entity[]>("POST", "/v1/deployments/ner/predict", { inputs: text });
    assert.deepEqual(deployed, groups);
  } finally {
    await instance.stop();
  }
});

Deno.test("token classification: JSONL, CSV list cells and BIOES train; bad rows are 400 with their lines", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const client = instance.tenantA;
    const few = TRAIN.slice(0, 40);
    const jsonl = await client.uploadDataset(jsonlFile(few), { fileName: "ner.jsonl" });
    const base = await client.createModel({
      name: "tiny-ner-base",
      architecture: "bert",
      config: { ...TINY_BERT, max_position_embeddings: 64 },
      tokenizer: { dataset: jsonl.id, column: "tokens", vocab_size: 300 },
      seed: 1,
    });
    const quick = { learning_rate: 5e-3, epochs: 1, batch_size: 20, max_seq_length: 48, seed: 1 };

    const csvText = "words,labels\n" +
      few.map((s) => `"${s.tokens.join(" ").replaceAll('"', '""')}",${s.tags.join(" ")}`).join("\n") + "\n";
    const csv = await client.uploadDataset(bytes(csvText), { fileName: "ner.csv" });
    const bioesRows = few.map((s) => ({ tokens: s.tokens, tags: toBioes(s.tags) }));
    assert.ok(bioesRows.some((r) => r.tags.some((t) => t.startsWith("E-"))), "the slice has multi-word entities");
    const bioes = await client.uploadDataset(jsonlFile(bioesRows), { fileName: "ner_bioes.jsonl" });

    const jobs = [
      await client.startJob({ task: "token-classification", base_model: base.id, training_dataset: jsonl.id, validation_split: 0.25, hyperparameters: quick }),
      await client.startJob({
        task: "token-classification",
        base_model: base.id,
        training_dataset: csv.id,
        validation_split: 0.25,
        columns: { tokens: "words", tags: "labels" },
        hyperparameters: quick,
      }),
      await client.startJob({
        task: "token-classification",
        base_model: base.id,
        training_dataset: bioes.id,
        validation_split: 0.25,
        task_options: { tag_scheme: "bioes" },
        hyperparameters: quick,
      }),
    ];
    for (const job of jobs) {
      const events = await runToEnd(client, job.id);
      assert.equal(events.at(-1)?.data.status, "succeeded", JSON.stringify(events.slice(-2)));
      assert.ok(events.some((e) => e.type === "eval" && typeof (e.data.metrics as { f1?: number }).f1 === "number"));
      const model = await client.getModel((await client.getJob(job.id)).fine_tuned_model!);
      assert.equal(model.task, "token-classification");
      assert.ok(model.labels!.includes("B-PER") && model.labels!.includes("I-PER"), String(model.labels));
    }
    const bioesModel = await client.getModel((await client.getJob(jobs[2].id)).fine_tuned_model!);
    assert.equal((bioesModel as { task_options?: { tag_scheme?: string } }).task_options?.tag_scheme, "bioes");

    // A CoNLL line with a different column count: 400 at upload naming the line.
    const ragged = few.slice(0, 3).map((s) => s.lines.join("\n")).join("\n\n").split("\n");
    ragged[4] = ragged[4] + " extra";
    await rejectsNaming(
      () => client.uploadDataset(bytes(ragged.join("\n") + "\n"), { fileName: "ragged.conll" }),
      400,
      [5],
      /line 5/,
    );

    // Rows a job cannot use: 400 at job creation naming each line.
    const mismatch = [...few.slice(0, 4)].map((s) => ({ tokens: s.tokens, tags: s.tags }));
    mismatch[1] = { tokens: mismatch[1].tokens, tags: mismatch[1].tags.slice(1) };
    mismatch[3] = { tokens: mismatch[3].tokens.slice(1), tags: mismatch[3].tags };
    const mismatched = await client.uploadDataset(jsonlFile(mismatch), { fileName: "mismatch.jsonl" });
    await rejectsNaming(
      () => client.startJob({ task: "token-classification", base_model: base.id, training_dataset: mismatched.id, hyperparameters: quick }),
      400,
      [2, 4],
      /tokens but \d+ tags/,
    );

    const badTags = few.slice(0, 4).map((s) => ({ tokens: s.tokens, tags: [...s.tags] }));
    badTags[2].tags[0] = "PERSON";
    badTags[3].tags[0] = "E-PER"; // a BIOES tag is not an IOB2 tag
    const invalid = await client.uploadDataset(jsonlFile(badTags), { fileName: "bad_tags.jsonl" });
    await rejectsNaming(
      () =>
        client.startJob({
          task: "token-classification",
          base_model: base.id,
          training_dataset: invalid.id,
          task_options: { tag_scheme: "iob2" },
          hyperparameters: quick,
        }),
      400,
      [3, 4],
      /PERSON/,
    );
  } finally {
    await instance.stop();
  }
});
