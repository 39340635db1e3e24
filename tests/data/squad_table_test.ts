// SQuAD v1.1 JSON as table rows: the real dev articles (3,036 questions), line numbers in a pretty-printed
// copy, and broken files (syntax errors, wrong shapes, an answer_start off by one) with the lines named.
import assert from "node:assert/strict";
import { scanSquad, SQUAD_COLUMNS, squadTableItems } from "../../shared/data/squad_table.ts";
import type { TableItem } from "../../shared/data/table.ts";
import { parseSquadJson } from "../../shared/core/tasks/squad.ts";
import { qaExamplesFromRows } from "../../shared/data/tasks/question_answering_rows.ts";

const squadText = Deno.readTextFileSync(
  new URL("../../../shared/data/squad_v1.1_dev_articles_0-9.json", import.meta.url),
);
const rows = (items: TableItem[]) => items.flatMap((i) => (i.kind === "row" ? [i] : []));
const problems = (items: TableItem[]) => items.flatMap((i) => (i.kind === "problem" ? [i] : []));
const streamOf = (bytes: Uint8Array<ArrayBuffer>) => new Blob([bytes]).stream();

async function collect(stream: ReadableStream<Uint8Array>): Promise<TableItem[]> {
  const items: TableItem[] = [];
  for await (const item of scanSquad(stream)) items.push(item);
  return items;
}

Deno.test("the real dev articles: 3,036 rows in HF datasets shape; rows → examples as parseSquadJson", async () => {
  const items = await collect(streamOf(new TextEncoder().encode(squadText)));
  assert.deepEqual(items[0], { kind: "columns", columns: SQUAD_COLUMNS });
  assert.equal(problems(items).length, 0);
  const table = rows(items);
  assert.equal(table.length, 3036);
  const examples = parseSquadJson(squadText);
  table.forEach(({ row, line }, k) => {
    assert.equal(line, 1); // the file is a single line
    assert.equal(row.id, examples[k].id);
    assert.equal(row.question, examples[k].question);
    assert.equal(row.context, examples[k].context);
    assert.equal(row.title, examples[k].title);
    assert.deepEqual(JSON.parse(row.answers), examples[k].answers);
  });
  const fromRows = qaExamplesFromRows(table, {
    question: "question",
    context: "context",
    answers: "answers",
  });
  assert.deepEqual(
    fromRows.map((e) => [e.id, e.title, e.spans]),
    examples.map((e) => [e.id, e.title, e.spans]),
  );
  assert.deepEqual(JSON.parse(table[0].row.answers), {
    text: ["Denver Broncos", "Denver Broncos", "Denver Broncos"],
    answer_start: [177, 177, 177],
  });
});

Deno.test("pretty-printed: each row's line is where its question entry starts", () => {
  const doc = JSON.parse(squadText);
  doc.data = doc.data.slice(0, 2);
  const text = JSON.stringify(doc, null, 2);
  const lines = text.split("\n");
  const table = rows(squadTableItems(text));
  assert.equal(table.length, parseSquadJson(text).length);
  for (const { line, row } of table) {
    assert.match(lines[line - 1], /^\s*\{$/);
    const indent = lines[line - 1].indexOf("{");
    const close = lines.findIndex((l, k) => k >= line && l.startsWith(" ".repeat(indent) + "}"));
    assert.ok(lines.slice(line, close).includes(`${" ".repeat(indent + 2)}"id": "${row.id}"`), row.id);
  }
  assert.ok(new Set(table.map((r) => r.line)).size === table.length);
});

Deno.test("an answer_start off by one is named with its line, the question id and where the text is", () => {
  const doc = JSON.parse(squadText);
  doc.data = doc.data.slice(0, 1);
  doc.data[0].paragraphs[0].qas[1].answers[2].answer_start += 1; // "Carolina Panthers" at 249
  doc.data[0].paragraphs[1].qas[0].question = "  ";
  const text = JSON.stringify(doc, null, 1);
  const items = squadTableItems(text);
  const found = problems(items);
  assert.equal(found.length, 2);
  const [offByOne, empty] = found.map((p) => p.problem);
  const lines = text.split("\n");
  assert.match(offByOne.reason, /question '56be4db0acb8001400a502ed'/);
  assert.match(offByOne.reason, /answer 2 'Carolina Panthers' does not start at answer_start 250/);
  assert.match(offByOne.reason, /the text is at 249/);
  assert.equal(lines[offByOne.line - 1].trim(), "{");
  assert.ok(lines.slice(offByOne.line, offByOne.line + 30).join("").includes("56be4db0acb8001400a502ed"));
  assert.match(empty.reason, /empty or missing 'question'/);
  assert.ok(empty.line > offByOne.line);
  const questions = doc.data[0].paragraphs.reduce((n: number, p: { qas: unknown[] }) => n + p.qas.length, 0);
  assert.equal(rows(items).length, questions - 2);
  assert.ok(found.every((p) => !p.fatal));
});

Deno.test("syntax errors are fatal and name the line, even where JSON.parse gives no position", () => {
  const cases: [string, number, RegExp][] = [
    ['{"data": [\n  {"title": "x",\n   "paragraphs": [x]}\n]}', 3, /unexpected character 'x'/],
    ['{"data": [\n  {"title": "x"\n   "paragraphs": []}\n]}', 3, /expected ','/],
    ['{"data": [\n  {"title": "x\n"}]}', 2, /control character/],
    ['{"data": []}\n\n}', 3, /after the JSON document/],
    ['{"data": [', 1, /unexpected end/],
    ['{"data": [{"title": "\\x"}]}', 1, /not valid JSON/],
  ];
  for (const [text, line, reason] of cases) {
    const items = squadTableItems(text);
    assert.equal(items.length, 1, text);
    const [p] = problems(items);
    assert.equal(p.fatal, true);
    assert.equal(p.problem.line, line, text);
    assert.match(p.problem.reason, reason);
  }
});

Deno.test("wrong shapes: no data array, bad articles/paragraphs, duplicate ids, no questions, not UTF-8", async () => {
  const [top] = problems(squadTableItems('{"version": "1.1"}'));
  assert.equal(top.fatal, true);
  assert.match(top.problem.reason, /'data' array/);
  const doc = {
    data: [
      "not an article",
      {
        title: "T",
        paragraphs: [
          { context: "", qas: [] },
          {
            context: "Ada wrote.",
            qas: [{ id: "q", question: "Who?", answers: [{ text: "Ada", answer_start: 0 }] }],
          },
          {
            context: "Bob ran.",
            qas: [{ id: "q", question: "Who?", answers: [{ text: "Bob", answer_start: 0 }] }],
          },
          { context: "Cy sat.", qas: [{ id: "r", question: "Who?", answers: "Cy" }] },
        ],
      },
    ],
  };
  const text = JSON.stringify(doc, null, 2);
  const items = squadTableItems(text);
  const reasons = problems(items).map((p) => [p.problem.line, p.problem.reason]);
  const lines = text.split("\n");
  assert.equal(reasons.length, 4);
  assert.match(String(reasons[0][1]), /article 0 must be an object/);
  assert.equal(lines[Number(reasons[0][0]) - 1].trim(), '"not an article",');
  assert.match(String(reasons[1][1]), /article 1, paragraph 0 has an empty context/);
  assert.match(String(reasons[2][1]), /question 'q': duplicate id/);
  assert.match(String(reasons[3][1]), /question 'r': 'answers' must be an array/);
  assert.deepEqual(rows(items).map((r) => r.row.context), ["Ada wrote."]);
  assert.equal(problems(squadTableItems('{"data": []}'))[0].problem.reason, "the file has no questions");
  const bad = await collect(streamOf(new Uint8Array([0x7b, 0xff, 0x7d])));
  assert.equal(bad.length, 1);
  assert.match((bad[0] as { problem: { reason: string } }).problem.reason, /UTF-8/);
});
