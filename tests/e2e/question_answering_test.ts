/**
 * Extractive question answering end to end over real HTTP on the embedded platform: a slice of SQuAD v1.1
 * (dev articles, in the original nested JSON shape) uploaded as format `squad` trains a tiny random BERT
 * (WordPiece learned from the uploaded contexts) on doc-stride windows; the job's eval events carry
 * exact_match and f1, measured against the untrained model (one update at learning rate 0, same seed and
 * head); the fine-tuned model answers `{question, context}` with `{answer, score, start, end}` whose offsets
 * slice the context to the answer, a list with a list, top_k with that many answers best first, and a
 * context longer than the model's positions with correct offsets from every window. A JSONL upload with HF
 * `answers` trains too; bad rows are 400 naming their lines — at upload for SQuAD JSON, at job creation for
 * JSONL (answer_start not pointing at the text, an empty question).
 */
import assert from "node:assert/strict";
import { startEmbeddedInstance, TENANT_A_KEY } from "../support/embedded_instance.ts";
import { parseTar } from "../../edge/models/tar.ts";
import { EdgetuneError, type JobEvent } from "../../shared/client/mod.ts";
import type { EdgetuneClient } from "../../shared/client/mod.ts";

interface SquadQa {
  id: string;
  question: string;
  answers: { text: string; answer_start: number }[];
}
interface SquadParagraph {
  context: string;
  qas: SquadQa[];
}
interface SquadFile {
  version: string;
  data: { title: string; paragraphs: SquadParagraph[] }[];
}
interface Answer {
  answer: string;
  score: number;
  start: number;
  end: number;
}

const SQUAD: SquadFile = JSON.parse(Deno.readTextFileSync("../shared/data/squad_v1.1_dev_articles_0-9.json"));
const ARTICLE = SQUAD.data[0];
/** Paragraphs of about 200–800 characters: a window or three each at 128 tokens. */
const PARAGRAPHS = ARTICLE.paragraphs.filter((p) => p.context.length <= 800).slice(0, 10);
const LONG_CONTEXT = ARTICLE.paragraphs.find((p) => p.context.length > 1200)!.context;
const bytes = (text: string) => new TextEncoder().encode(text);
/** A SQuAD file of `paragraphs`, pretty-printed (one field a line) so rows have distinct lines. */
const squadFile = (paragraphs: SquadParagraph[]) =>
  bytes(JSON.stringify({ version: "1.1", data: [{ title: ARTICLE.title, paragraphs }] }, null, 1));
const jsonlRows = (paragraphs: SquadParagraph[]) =>
  paragraphs.flatMap((p) =>
    p.qas.map((qa) => ({
      id: qa.id,
      question: qa.question,
      context: p.context,
      answers: { text: qa.answers.map((a) => a.text), answer_start: qa.answers.map((a) => a.answer_start) },
    }))
  );
const jsonlFile = (rows: unknown[]) => bytes(rows.map((r) => JSON.stringify(r)).join("\n") + "\n");

const TINY_BERT = {
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 128,
};

async function runToEnd(client: EdgetuneClient, jobId: string): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  await client.followEvents(jobId, (event) => events.push(event), { signal: AbortSignal.timeout(120_000) });
  assert.equal(events.at(-1)?.data.status, "succeeded", JSON.stringify(events.slice(-3)));
  return events;
}

/** Asserts `attempt` fails with 400 invalid_file naming every line in `lines` and matching `what`. */
async function rejectsNaming(attempt: () => Promise<unknown>, lines: number[], what: RegExp) {
  await assert.rejects(attempt, (error: unknown) => {
    assert.ok(error instanceof EdgetuneError, String(error));
    assert.equal(error.status, 400, error.message);
    assert.equal(error.code, "invalid_file", error.message);
    assert.match(error.message, what);
    const listed = JSON.stringify(error.details);
    for (const line of lines) {
      assert.match(listed, new RegExp(`"line":${line}\\b`), `line ${line}: ${listed}`);
    }
    return true;
  });
}

function assertAnswerIn(context: string, answer: Answer) {
  assert.ok(
    0 <= answer.start && answer.start < answer.end && answer.end <= context.length,
    JSON.stringify(answer),
  );
  assert.equal(context.slice(answer.start, answer.end), answer.answer);
  // Answers are widened to whole words: neither end cuts through a run of letters or digits.
  const inWord = (i: number) =>
    /[\p{L}\p{N}]/u.test(context[i - 1] ?? "") && /[\p{L}\p{N}]/u.test(context[i] ?? "");
  assert.ok(!inWord(answer.start) && !inWord(answer.end), `a word is cut: ${JSON.stringify(answer)}`);
  assert.ok(answer.score > 0 && answer.score <= 1, JSON.stringify(answer));
}

/** The same span; the score may differ in the last float digits (batched with padding or not). */
function assertSameAnswer(actual: Answer, expected: Answer) {
  assert.deepEqual({ ...actual, score: 0 }, { ...expected, score: 0 });
  assert.ok(Math.abs(actual.score - expected.score) < 1e-5, `${actual.score} vs ${expected.score}`);
}

Deno.test("question answering: SQuAD upload → job → EM/F1 events → answers with offsets, lists, top_k, long contexts", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const client = instance.tenantA;
    const train = await client.uploadDataset(squadFile(PARAGRAPHS), { fileName: "squad_slice.json" });
    assert.equal(train.format, "squad");
    assert.equal(train.rows, PARAGRAPHS.reduce((n, p) => n + p.qas.length, 0));
    assert.deepEqual(train.columns, ["id", "title", "context", "question", "answers"]);
    // Scored on questions it trains on: whether span labels line up with the answers shows as a fit; this
    // little data (200 questions) does not teach a tiny model to answer unseen ones.
    const seen = await client.uploadDataset(squadFile(PARAGRAPHS.slice(0, 3)), { fileName: "seen.json" });
    const base = await client.createModel({
      name: "tiny-qa-base",
      architecture: "bert",
      config: TINY_BERT,
      tokenizer: { dataset: train.id, column: "context", vocab_size: 1500 },
      seed: 1,
    });

    const hyperparameters = { learning_rate: 5e-3, epochs: 6, batch_size: 16, max_seq_length: 128, seed: 3 };
    const spec = {
      task: "question-answering" as const,
      base_model: base.id,
      training_dataset: train.id,
      validation_dataset: seen.id,
      columns: { question: "question", context: "context", answers: "answers" },
      task_options: { doc_stride: 64, max_answer_length: 20 },
    };
    const job = await client.startJob({ ...spec, hyperparameters });
    const events = await runToEnd(client, job.id);
    const evals = events.filter((e) => e.type === "eval").map((e) =>
      e.data.metrics as Record<string, number>
    );
    assert.equal(evals.length, hyperparameters.epochs);
    for (const metrics of evals) {
      for (const key of ["eval_loss", "exact_match", "f1"]) assert.equal(typeof metrics[key], "number", key);
      assert.ok(metrics.exact_match >= 0 && metrics.exact_match <= metrics.f1 && metrics.f1 <= 100);
    }
    // The untrained model: same base, seed and split; one update at learning rate 0 (warm-up starts at 0).
    const baseline = await client.startJob({
      ...spec,
      hyperparameters: { ...hyperparameters, epochs: 1, batch_size: 4096, warmup_steps: 1 },
    });
    const baselineEvents = await runToEnd(client, baseline.id);
    assert.deepEqual(baselineEvents.filter((e) => e.type === "step").map((e) => e.data.learning_rate), [0]);
    const untrained = baselineEvents.find((e) => e.type === "eval")!.data.metrics as Record<string, number>;
    const trained = evals.at(-1)!;
    console.log(
      `QA training-set fit (${seen.rows} of the ${train.rows} training questions): untrained EM ${
        untrained.exact_match.toFixed(1)
      } ` +
        `F1 ${untrained.f1.toFixed(1)} loss ${untrained.eval_loss.toFixed(3)}; trained EM ` +
        `${trained.exact_match.toFixed(1)} F1 ${trained.f1.toFixed(1)} loss ${trained.eval_loss.toFixed(3)}`,
    );
    assert.ok(
      trained.eval_loss < untrained.eval_loss,
      `eval_loss ${untrained.eval_loss} → ${trained.eval_loss}`,
    );
    assert.ok(trained.f1 > untrained.f1 + 10, `f1 ${untrained.f1} → ${trained.f1}`);
    assert.ok(
      trained.exact_match > untrained.exact_match,
      `EM ${untrained.exact_match} → ${trained.exact_match}`,
    );

    const modelId = (await client.getJob(job.id)).fine_tuned_model!;
    const model = await client.getModel(modelId);
    assert.equal(model.task, "question-answering");

    const { context, qas } = PARAGRAPHS[0];
    const one = await client.infer<Answer>(modelId, { inputs: { question: qas[0].question, context } });
    assertAnswerIn(context, one);

    // Astral characters before the answer: offsets stay UTF-16 indices into the context as sent.
    const emojiContext = `🎉 ${context.slice(0, 200)} 🏈 ${context.slice(200)}`;
    assertAnswerIn(
      emojiContext,
      await client.infer<Answer>(modelId, { inputs: { question: qas[0].question, context: emojiContext } }),
    );

    const pairs = qas.slice(0, 3).map((qa) => ({ question: qa.question, context }));
    const listed = await client.infer<Answer[]>(modelId, { inputs: pairs });
    assert.equal(listed.length, 3);
    listed.forEach((answer) => assertAnswerIn(context, answer));
    assertSameAnswer(listed[0], one);

    const top3 = await client.infer<Answer[]>(modelId, {
      inputs: { question: qas[0].question, context },
      parameters: { top_k: 3 },
    });
    assert.equal(top3.length, 3);
    top3.forEach((answer) => assertAnswerIn(context, answer));
    assert.ok(top3[0].score >= top3[1].score && top3[1].score >= top3[2].score, JSON.stringify(top3));
    assertSameAnswer(top3[0], one);

    // A context several times the model's 128 positions: windows cover it all, offsets are into the whole.
    const question = "Who won the game?";
    const long = await client.infer<Answer>(modelId, { inputs: { question, context: LONG_CONTEXT } });
    assertAnswerIn(LONG_CONTEXT, long);
    const many = await client.infer<Answer[]>(modelId, {
      inputs: { question, context: LONG_CONTEXT },
      parameters: { top_k: 40 },
    });
    many.forEach((answer) => assertAnswerIn(LONG_CONTEXT, answer));
    assert.ok(
      many.some((a) => a.start > LONG_CONTEXT.length / 2),
      `answers come from the later windows too: ${many.map((a) => a.start)}`,
    );
    // A doc_stride wider than a window's context room does not make windows crawl a token at a time: the
    // model's tokens computed (x-compute-tokens) stay within twice those of the trained stride (64).
    const computeTokens = async (parameters: Record<string, unknown>) => {
      const response = await fetch(`${instance.url}/v1/models/${modelId}/predict`, {
        method: "POST",
        headers: { Authorization: `Bearer ${TENANT_A_KEY}`, "Content-Type": "application/json" },
        body: JSON.stringify({ inputs: { question, context: LONG_CONTEXT }, parameters }),
      });
      assertAnswerIn(LONG_CONTEXT, await response.json());
      return Number(response.headers.get("x-compute-tokens"));
    };
    const trainedStride = await computeTokens({});
    assert.ok(trainedStride > 128, `several windows: ${trainedStride} tokens`);
    for (
      const parameters of [{ doc_stride: 4000 }, { doc_stride: 120 }, { doc_stride: 4000, max_seq_len: 32 }]
    ) {
      const tokens = await computeTokens(parameters);
      assert.ok(
        tokens <= 2 * trainedStride,
        `${JSON.stringify(parameters)}: ${tokens} vs ${trainedStride} tokens`,
      );
    }

    // Smaller windows than the model's (max_seq_len 48, doc_stride 16) answer with offsets into the whole.
    const narrow = await client.infer<Answer[]>(modelId, {
      inputs: { question: qas[0].question, context },
      parameters: { top_k: 5, max_seq_len: 48, doc_stride: 16 },
    });
    assert.equal(narrow.length, 5);
    narrow.forEach((answer) => assertAnswerIn(context, answer));

    // Exported as a Hugging Face folder and imported again, it is a QA model with the same answers.
    const exported = await fetch(`${instance.url}/v1/models/${modelId}/export`, {
      headers: { Authorization: `Bearer ${TENANT_A_KEY}` },
    });
    const folder = Object.fromEntries(
      parseTar(new Uint8Array(await exported.arrayBuffer()))
        .map((f) => [f.name.split("/").pop()!, f.data] as const)
        .filter(([name]) => name !== "metrics.json"), // an import refuses it
    );
    const imported = await client.importModel(folder, "qa-imported");
    assert.equal(imported.task, "question-answering");
    // The training doc_stride (64) is a model option the folder does not carry: name it.
    const again = await client.infer<Answer>(imported.id, {
      inputs: { question: qas[0].question, context },
      parameters: { doc_stride: 64 },
    });
    assertSameAnswer(again, one);
  } finally {
    await instance.stop();
  }
});

Deno.test("question answering: JSONL trains; bad answers and empty questions are 400 with their lines", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const client = instance.tenantA;
    const rows = jsonlRows(PARAGRAPHS.slice(0, 2)).slice(0, 24);
    const jsonl = await client.uploadDataset(jsonlFile(rows), { fileName: "qa.jsonl" });
    assert.equal(jsonl.format, "jsonl");
    const base = await client.createModel({
      name: "tiny-qa-base",
      architecture: "bert",
      config: TINY_BERT,
      tokenizer: { dataset: jsonl.id, column: "context", vocab_size: 400 },
      seed: 1,
    });
    const quick = { learning_rate: 3e-3, epochs: 1, batch_size: 16, max_seq_length: 128, seed: 1 };
    const job = await client.startJob({
      task: "question-answering",
      base_model: base.id,
      training_dataset: jsonl.id,
      validation_split: 0.25,
      hyperparameters: quick,
    });
    const events = await runToEnd(client, job.id);
    // The default doc_stride (128) fills a whole 128-token window; windows still advance by half their
    // context room, so a context of a few hundred tokens gives a few windows, not one per token.
    const totalSteps = events.find((e) => e.type === "step")!.data.total_steps as number;
    const trainQuestions = rows.length - Math.round(rows.length * 0.25);
    assert.ok(totalSteps * quick.batch_size <= trainQuestions * 10 + quick.batch_size, `${totalSteps} steps`);
    const log = events.filter((e) => e.type === "log").map((e) => String(e.data.message)).join("\n");
    assert.match(
      log,
      /doc_stride 128 \(wider than the \d+-token context room of the longest question: windows overlap by half their room\)/,
    );
    const metrics = events.find((e) => e.type === "eval")!.data.metrics as Record<string, number>;
    assert.equal(typeof metrics.exact_match, "number");
    assert.equal(typeof metrics.f1, "number");

    // JSONL: the file is a fine table; the job refuses its rows, naming each line.
    const bad = structuredClone(rows.slice(0, 6));
    bad[1].answers.answer_start[0] += 3;
    bad[4].question = "   ";
    const badJsonl = await client.uploadDataset(jsonlFile(bad), { fileName: "bad_qa.jsonl" });
    await rejectsNaming(
      () =>
        client.startJob({
          task: "question-answering",
          base_model: base.id,
          training_dataset: badJsonl.id,
          hyperparameters: quick,
        }),
      [2, 5],
      /answer_start|does not/,
    );

    // SQuAD JSON: the upload itself is refused, naming the questions' lines.
    const paragraphs = structuredClone(PARAGRAPHS.slice(0, 1));
    paragraphs[0].qas[1].answers[0].answer_start += 3;
    paragraphs[0].qas[2].question = "";
    const file = squadFile(paragraphs);
    const text = new TextDecoder().decode(file);
    // A question's line is where its `{` opens (indented 6 spaces in this pretty-printed file).
    const lineOf = (id: string) => {
      const open = text.lastIndexOf("\n      {", text.indexOf(`"id": "${id}"`));
      return text.slice(0, open).split("\n").length + 1;
    };
    await rejectsNaming(
      () => client.uploadDataset(file, { fileName: "bad_squad.json" }),
      [lineOf(paragraphs[0].qas[1].id), lineOf(paragraphs[0].qas[2].id)],
      /invalid squad file/,
    );
  } finally {
    await instance.stop();
  }
});
