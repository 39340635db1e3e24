/**
 * Per-task columns and row checks (shared/data/task_columns.ts, task_rows.ts), the `text` format reader
 * (text_lines.ts) and which task reads which task option (shared/schemas/task_options.ts).
 */
import assert from "node:assert/strict";
import { taskColumns } from "../../shared/data/task_columns.ts";
import { multiLabelValues, regressionTarget, rowChecker } from "../../shared/data/task_rows.ts";
import { readTable, scanTable } from "../../shared/data/mod.ts";
import { detectFormat } from "../../shared/data/detect.ts";
import { columnsSpec } from "../../shared/schemas/resources.ts";
import { taskOptionIssues } from "../../shared/schemas/task_options.ts";

const columns = columnsSpec.parse({});
const streamOf = (text: string) => new Blob([text]).stream();

Deno.test("task columns: defaults per task, pairs, prompt/completion and aligned translation", () => {
  assert.deepEqual(taskColumns("text-classification", columns), { text: "text", label: "label" });
  assert.deepEqual(
    taskColumns(
      "text-regression",
      columnsSpec.parse({ text: "sentence1", text_pair: "sentence2", label: "score" }),
    ),
    { text: "sentence1", text_pair: "sentence2", label: "score" },
  );
  assert.deepEqual(taskColumns("token-classification", columns), { tokens: "tokens", tags: "tags" });
  assert.deepEqual(taskColumns("question-answering", columns), {
    question: "question",
    context: "context",
    answers: "answers",
  });
  assert.deepEqual(taskColumns("causal-lm", columns), { text: "text" });
  assert.deepEqual(
    taskColumns("causal-lm", columnsSpec.parse({ prompt: "q", completion: "a" })),
    { prompt: "q", completion: "a" },
  );
  assert.deepEqual(taskColumns("translation", columns), { source: "source", target: "target" });
  assert.deepEqual(taskColumns("translation", columns, true), { text: "text" });
});

Deno.test("multi-label values: JSON lists, delimited strings, duplicates and blanks dropped", () => {
  assert.deepEqual(multiLabelValues('["DESC", "DESC:manner", "DESC"]'), ["DESC", "DESC:manner"]);
  assert.deepEqual(multiLabelValues("sports, politics,,sports"), ["sports", "politics"]);
  assert.deepEqual(multiLabelValues("a|b", "|"), ["a", "b"]);
  assert.deepEqual(multiLabelValues("[1, 2]"), ["1", "2"]);
  assert.equal(multiLabelValues('["a", '), null);
  assert.equal(multiLabelValues('[{"x":1}]'), null);
  assert.equal(regressionTarget(" 3.8 "), 3.8);
  assert.equal(regressionTarget("5.000"), 5);
  assert.equal(regressionTarget(""), null);
  assert.equal(regressionTarget("high"), null);
  assert.equal(regressionTarget("Infinity"), null);
});

Deno.test("row checks name what is wrong per task", () => {
  const regression = rowChecker("text-regression", { text: "s", label: "score" }, {});
  assert.equal(regression({ s: "a", score: "4.2" }), null);
  assert.match(regression({ s: "a", score: "n/a" })!, /'score' must be a number, got 'n\/a'/);
  const multi = rowChecker("text-classification", { text: "t", label: "l" }, { multi_label: true });
  assert.equal(multi({ t: "x", l: '["a","b"]' }), null);
  assert.match(multi({ t: "x", l: '["a",' })!, /not a list of labels/);
  assert.match(
    rowChecker("text-classification", { text: "t", label: "l" }, {})({ t: "x", l: " " })!,
    /empty label/,
  );
  const translation = rowChecker("translation", { source: "en", target: "de" }, {});
  assert.equal(translation({ en: "A dog.", de: "Ein Hund." }), null);
  assert.match(translation({ en: "A dog.", de: "" })!, /empty target in column 'de'/);
  const tokens = rowChecker("token-classification", { tokens: "tokens", tags: "tags" }, {
    tag_scheme: "iob2",
  });
  assert.equal(tokens({ tokens: '["EU","rejects"]', tags: '["B-ORG","O"]' }), null);
  assert.match(
    tokens({ tokens: '["EU","rejects"]', tags: '["B-ORG"]' })!,
    /2 tokens but 1 tags|length|mismatch/,
  );
  assert.ok(tokens({ tokens: '["EU"]', tags: '["X-ORG"]' }) !== null);
  const qa = rowChecker("question-answering", { question: "q", context: "c", answers: "a" }, {});
  const answers = (start: number) => JSON.stringify({ text: ["Denver"], answer_start: [start] });
  assert.equal(qa({ q: "Who?", c: "The Denver Broncos", a: answers(4) }), null);
  assert.ok(qa({ q: "Who?", c: "The Denver Broncos", a: answers(5) }) !== null);
  assert.match(qa({ q: " ", c: "The Denver Broncos", a: answers(4) })!, /empty question/);
});

Deno.test("text format: one row per line, empty lines kept, problems with their line", async () => {
  const rows = [];
  for await (const row of readTable(streamOf("First line\n\nThird, with a comma\r\n"), "text")) {
    rows.push(row);
  }
  assert.deepEqual(rows, [
    { line: 1, row: { text: "First line" } },
    { line: 2, row: { text: "" } },
    { line: 3, row: { text: "Third, with a comma" } },
  ]);
  const items = [];
  const bad = new Uint8Array([...new TextEncoder().encode("ok\n"), 0xff, 0xfe, 0x0a]);
  for await (const item of scanTable(new Blob([bad]).stream(), "text")) items.push(item);
  const problem = items.find((i) => i.kind === "problem");
  assert.equal(problem?.kind === "problem" && problem.problem.line, 2);
  assert.equal(detectFormat(null, "shakespeare.txt", new Uint8Array()), "text");
  assert.equal(detectFormat(null, "eng.train.conll", new Uint8Array()), "conll");
  assert.equal(detectFormat(null, null, new TextEncoder().encode('{"data": [{"title": "x"')), "squad");
  assert.equal(detectFormat(null, null, new TextEncoder().encode('{"text": "a"}\n{"text": "b"}\n')), "jsonl");
});

Deno.test("task options are refused for tasks that do not read them", () => {
  assert.deepEqual(taskOptionIssues("question-answering", { doc_stride: 64, max_answer_length: 20 }), []);
  assert.deepEqual(taskOptionIssues("text-classification", { multi_label: true, doc_stride: 64 }), [
    { path: "task_options.doc_stride", message: "applies to question-answering, not text-classification" },
  ]);
  assert.equal(taskOptionIssues("translation", { block_size: 64 }).length, 1);
});
