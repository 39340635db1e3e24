// QA rows from CSV/JSONL tables: HF answers JSON, answer_start checked against the context, clear problems.
import assert from "node:assert/strict";
import { parseQaRow } from "../../shared/data/tasks/question_answering_rows.ts";
import { squadTableItems } from "../../shared/data/squad_table.ts";

const columns = { question: "question", context: "context", answers: "answers" };
const context = "Le café «Müller» 😀 opened in 1923.";

Deno.test("a valid row becomes an example with UTF-16 spans (answer_start counts code points)", () => {
  const start = [...context.slice(0, context.indexOf("1923"))].length; // one less than the UTF-16 index
  const row = {
    id: "q1",
    question: "When?",
    context,
    answers: JSON.stringify({ text: ["1923"], answer_start: [start] }),
  };
  const example = parseQaRow(row, columns, { line: 7 });
  assert.ok(!("problem" in example));
  assert.equal(example.id, "q1");
  assert.equal(start, context.indexOf("1923") - 1);
  assert.deepEqual(example.spans, [{ start: context.indexOf("1923"), end: context.indexOf("1923") + 4 }]);
  assert.deepEqual(example.source, { line: 7 });
  const renamed = parseQaRow({ q: "When?", c: context, a: row.answers }, {
    question: "q",
    context: "c",
    answers: "a",
  }, {
    line: 3,
  });
  assert.ok(!("problem" in renamed));
  assert.equal(renamed.id, "line-3");
});

Deno.test("problems: off-by-one answer_start, bad JSON, wrong shape, empty fields, missing columns", () => {
  const problem = (row: Record<string, string>) => {
    const out = parseQaRow(row, columns);
    assert.ok("problem" in out, JSON.stringify(out));
    return out.problem;
  };
  const base = { question: "Who?", context: "Ada Lovelace wrote it." };
  assert.match(
    problem({ ...base, answers: '{"text": ["Lovelace"], "answer_start": [5]}' }),
    /answer 0 'Lovelace' does not start at answer_start 5 \(found 'ovelace '; the text is at 4\)/,
  );
  assert.match(problem({ ...base, answers: "Lovelace" }), /column 'answers' must be JSON/);
  assert.match(problem({ ...base, answers: '{"text": "Ada"}' }), /column 'answers' must be \{text/);
  assert.match(
    problem({ ...base, answers: '{"text": ["Ada"], "answer_start": [0, 4]}' }),
    /1 answer texts but 2/,
  );
  assert.match(problem({ ...base, question: " ", answers: "{}" }), /empty question in column 'question'/);
  assert.match(problem({ question: "Who?", answers: "{}" }), /no 'context' column/);
  assert.match(problem({ ...base, answers: '{"text": [], "answer_start": []}' }), /has no answers/);
});

Deno.test("rows of a SQuAD upload parse back into the same examples", () => {
  const doc = {
    data: [{
      title: "T",
      paragraphs: [{
        context,
        qas: [{ id: "a", question: "Emoji?", answers: [{ text: "😀", answer_start: 17 }] }],
      }],
    }],
  };
  const [, row] = squadTableItems(JSON.stringify(doc));
  assert.equal(row.kind, "row");
  if (row.kind !== "row") return;
  const example = parseQaRow(row.row, columns, { line: row.line });
  assert.ok(!("problem" in example));
  assert.equal(example.title, "T");
  assert.equal(context.slice(example.spans[0].start, example.spans[0].end), "😀");
});
