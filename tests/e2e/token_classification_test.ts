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
import { startEmbeddedInstance, TENANT_A_KEY } from "../support/embedded_instance.ts";
import { parseTar } from "../../edge/models/tar.ts";
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

const TRAIN = conllSentences("../shared/data/conll2003_eng.train.5k", 1000);
const DEV = conllSentences("../shared/data/conll2003_eng.testa", 200);
/** The first training sentences that hold all four entity types (the untrained baseline's one batch). */
const BASELINE_BATCH = TRAIN.slice(
  0,
  1 +
    TRAIN.findIndex((_, i) =>
      ["PER", "LOC", "ORG", "MISC"].every((type) =>
        TRAIN.slice(0, i + 1).some((s) => s.tags.includes(`I-${type}`))
      )
    ),
);
const bytes = (text: string) => new TextEncoder().encode(text);
const conllFile = (sentences: Sentence[]) =>
  bytes(sentences.map((s) => s.lines.join("\n")).join("\n\n") + "\n");
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
      assert.match(
        error.message + listed,
        new RegExp(`line"?:? ?${line}\\b`),
        `line ${line}: ${error.message}`,
      );
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
      config: { ...TINY_BERT, hidden_size: 64, intermediate_size: 128, max_position_embeddings: 64 },
      tokenizer: { dataset: train.id, column: "tokens", vocab_size: 3000, lowercase: false },
      seed: 1,
    });

    const hyperparameters = { learning_rate: 3e-3, epochs: 4, batch_size: 32, max_seq_length: 64, seed: 2 };
    const job = await client.startJob({
      task: "token-classification",
      base_model: base.id,
      training_dataset: train.id,
      validation_dataset: dev.id,
      columns: { tokens: "tokens", tags: "tags" },
      task_options: { tag_scheme: "iob1" },
      hyperparameters,
    });
    const events = await runToEnd(client, job.id);
    const statuses = events.filter((e) => e.type === "status").map((e) => e.data.status);
    assert.deepEqual(statuses, ["queued", "running", "succeeded"], JSON.stringify(events.slice(-3)));
    const evals = events.filter((e) => e.type === "eval");
    assert.equal(evals.length, hyperparameters.epochs, "one evaluation per epoch");
    const metricsOf = (e: JobEvent) => e.data.metrics as Record<string, number>;
    const trained = metricsOf(evals.at(-1)!);
    for (
      const key of [
        "eval_loss",
        "precision",
        "recall",
        "f1",
        "accuracy",
        "f1_PER",
        "f1_LOC",
        "f1_ORG",
        "f1_MISC",
      ]
    ) {
      assert.equal(typeof trained[key], "number", `${key} in ${JSON.stringify(trained)}`);
    }

    // The untrained model, honestly: the same base model, seed (so the same random token head) and labels,
    // one update at learning rate 0 (linear warm-up starts at 0) on one batch, then the same evaluation.
    const coverAll = await client.uploadDataset(conllFile(BASELINE_BATCH), { fileName: "one_batch.conll" });
    const baselineJob = await client.startJob({
      task: "token-classification",
      base_model: base.id,
      training_dataset: coverAll.id,
      validation_dataset: dev.id,
      task_options: { tag_scheme: "iob1" },
      hyperparameters: { ...hyperparameters, epochs: 1, batch_size: BASELINE_BATCH.length, warmup_steps: 1 },
    });
    const baselineEvents = await runToEnd(client, baselineJob.id);
    const baselineSteps = baselineEvents.filter((e) => e.type === "step");
    assert.deepEqual(baselineSteps.map((e) => e.data.learning_rate), [0]);
    const untrained = metricsOf(baselineEvents.find((e) => e.type === "eval")!);
    console.log(
      `NER held-out (${DEV.length} testa sentences): untrained f1 ${untrained.f1.toFixed(3)} ` +
        `acc ${
          untrained.accuracy.toFixed(3)
        }; trained (${TRAIN.length} sentences, ${hyperparameters.epochs} ` +
        `epochs) f1 ${trained.f1.toFixed(3)} acc ${trained.accuracy.toFixed(3)} (PER ${
          trained.f1_PER.toFixed(3)
        }, ` +
        `LOC ${trained.f1_LOC.toFixed(3)}, ORG ${trained.f1_ORG.toFixed(3)}, MISC ${
          trained.f1_MISC.toFixed(3)
        })`,
    );
    assert.ok(trained.f1 > untrained.f1 + 0.1, `f1 ${untrained.f1} → ${trained.f1}`);
    assert.ok(trained.eval_loss < untrained.eval_loss);
    const baselineModel = await client.getModel((await client.getJob(baselineJob.id)).fine_tuned_model!);

    const done = await client.getJob(job.id);
    const modelId = done.fine_tuned_model!;
    const model = await client.getModel(modelId);
    assert.equal(model.task, "token-classification");
    assert.deepEqual(model.labels, [
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
    assert.deepEqual(baselineModel.labels, model.labels);

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
    // Word-level strategies never split a word, also past non-ASCII text (offsets are UTF-16 indices).
    const accented = "🎉 Jürgen Klinsmann spoke in München about Bayern München and Germany .";
    for (const strategy of ["first", "max", "average"]) {
      for (const input of [text, accented]) {
        const words = await client.infer<Entity[]>(modelId, {
          inputs: input,
          parameters: { aggregation_strategy: strategy },
        });
        if (input === text) assert.ok(words.length > 0, strategy);
        for (const group of words) {
          const where = `${strategy}: ${JSON.stringify(group)}`;
          assert.equal(input.slice(group.start, group.end), group.word, where);
          assert.ok(group.start === 0 || input[group.start - 1] === " ", where);
          assert.ok(group.end === input.length || input[group.end] === " ", where);
        }
      }
    }
    const batch = await client.infer<Entity[][]>(modelId, { inputs: [text, "Nothing here ."] });
    assert.deepEqual(batch[0], groups);

    // Deployed, the model answers the same body with the same shape and values.
    await client.request("POST", "/v1/deployments", { name: "ner", model: modelId });
    const deployed = await client.request<Entity[]>("POST", "/v1/deployments/ner/predict", { inputs: text });
    assert.deepEqual(deployed, groups);

    // Exported as a Hugging Face folder and imported again, it is a token classifier with the same answers.
    const exported = await fetch(`${instance.url}/v1/models/${modelId}/export`, {
      headers: { Authorization: `Bearer ${TENANT_A_KEY}` },
    });
    assert.equal(exported.status, 200);
    // The export also holds metrics.json, which an import refuses: keep the Hugging Face files.
    const folder = Object.fromEntries(
      parseTar(new Uint8Array(await exported.arrayBuffer()))
        .map((f) => [f.name.split("/").pop()!, f.data] as const)
        .filter(([name]) => name !== "metrics.json"),
    );
    const imported = await client.importModel(folder, "ner-imported");
    assert.equal(imported.task, "token-classification");
    assert.deepEqual(imported.labels, model.labels);
    assert.deepEqual(await client.infer<Entity[]>(imported.id, { inputs: text }), groups);
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
    assert.ok(
      bioesRows.some((r) => r.tags.some((t) => t.startsWith("E-"))),
      "the slice has multi-word entities",
    );
    const bioes = await client.uploadDataset(jsonlFile(bioesRows), { fileName: "ner_bioes.jsonl" });

    const job = (training_dataset: string, extra: Record<string, unknown>) =>
      client.startJob({
        task: "token-classification",
        base_model: base.id,
        training_dataset,
        validation_split: 0.25,
        hyperparameters: quick,
        ...extra,
      });
    const jobs = [
      await job(jsonl.id, {}),
      await job(csv.id, { columns: { tokens: "words", tags: "labels" } }),
      await job(bioes.id, { task_options: { tag_scheme: "bioes" } }),
    ];
    for (const { id } of jobs) {
      const events = await runToEnd(client, id);
      assert.equal(events.at(-1)?.data.status, "succeeded", JSON.stringify(events.slice(-2)));
      assert.ok(
        events.some((e) => e.type === "eval" && typeof (e.data.metrics as { f1?: number }).f1 === "number"),
      );
      const model = await client.getModel((await client.getJob(id)).fine_tuned_model!);
      assert.equal(model.task, "token-classification");
      assert.ok(model.labels!.includes("B-PER") && model.labels!.includes("I-PER"), String(model.labels));
    }
    const bioesModel = await client.getModel((await client.getJob(jobs[2].id)).fine_tuned_model!);
    assert.equal(
      (bioesModel as { task_options?: { tag_scheme?: string } }).task_options?.tag_scheme,
      "bioes",
    );

    // A `format` field names the format of a file whose extension says otherwise (sent before the file:
    // the client's uploadDataset sends it after, which the API refuses when it differs from the extension's).
    const form = new FormData();
    form.append("format", "conll");
    form.append("file", new Blob([conllFile(few)]), "sentences.txt");
    const named = await client.request<{ format: string; rows: number }>("POST", "/v1/datasets", form);
    assert.deepEqual([named.format, named.rows], ["conll", few.length]);

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
      () =>
        client.startJob({
          task: "token-classification",
          base_model: base.id,
          training_dataset: mismatched.id,
          hyperparameters: quick,
        }),
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
    // Under tag_scheme auto the O tags make the data entity-tagged: PERSON is refused too, before training.
    await rejectsNaming(
      () =>
        client.startJob({
          task: "token-classification",
          base_model: base.id,
          training_dataset: invalid.id,
          hyperparameters: quick,
        }),
      400,
      [3],
      /PERSON/,
    );
  } finally {
    await instance.stop();
  }
});
