// SQuAD v1.1 JSON and HF-style JSONL parsing on the real dev articles, answer_start checks, and 400 details.
import assert from "node:assert/strict";
import { ApiError } from "../../shared/schemas/errors.ts";
import { parseQaJsonl, parseSquadJson, writeQaJsonl } from "../../shared/core/tasks/squad.ts";

const squadText = Deno.readTextFileSync(
  new URL("../../../shared/data/squad_v1.1_dev_articles_0-9.json", import.meta.url),
);

function details(fn: () => unknown): Record<string, unknown>[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError, `expected ApiError, got ${e}`);
    assert.equal(e.status, 400);
    assert.equal(e.code, "invalid_file");
    return e.details as Record<string, unknown>[];
  }
  assert.fail("expected an invalid_file error");
}

Deno.test("dev articles 0–9: 10 articles, 530 paragraphs, 3,036 questions, 9,107 answers", () => {
  const examples = parseSquadJson(squadText);
  assert.equal(examples.length, 3036);
  assert.equal(new Set(examples.map((e) => e.source.article)).size, 10);
  assert.equal(new Set(examples.map((e) => `${e.source.article}/${e.source.paragraph}`)).size, 530);
  assert.equal(examples.reduce((n, e) => n + e.answers.text.length, 0), 9107);
  assert.equal(examples[0].title, "Super_Bowl_50");
  assert.equal(examples[0].answers.text[0], "Denver Broncos");
  for (const e of examples) {
    e.spans.forEach((s, k) => assert.equal(e.context.slice(s.start, s.end), e.answers.text[k]));
  }
});

Deno.test("an answer_start that misses its text names article, paragraph and question id", () => {
  const doc = JSON.parse(squadText);
  const qa = doc.data[2].paragraphs[3].qas[1];
  qa.answers[0].answer_start += 1;
  const d = details(() => parseSquadJson(JSON.stringify(doc)));
  assert.equal(d.length, 1);
  assert.deepEqual([d[0].article, d[0].paragraph, d[0].id], [2, 3, qa.id]);
  assert.match(String(d[0].reason), /does not start at answer_start/);
});

Deno.test("structural problems and duplicate ids in SQuAD JSON", () => {
  const doc = {
    data: [{
      title: "t",
      paragraphs: [
        { context: "abc", qas: [{ id: "1", question: "q", answers: [{ text: "b", answer_start: 1 }] }] },
        { context: "abc", qas: [{ id: "1", question: "q", answers: [{ text: "c", answer_start: 2 }] }] },
        { context: 5, qas: [] },
        { context: "abc", qas: [{ id: "2", question: "q", answers: [] }] },
      ],
    }, "oops"],
  };
  const d = details(() => parseSquadJson(JSON.stringify(doc)));
  assert.deepEqual(d.map((x) => [x.article, x.paragraph ?? null]), [[0, 1], [0, 2], [0, 3], [1, null]]);
  assert.match(String(d[0].reason), /duplicate/);
  assert.match(String(d[2].reason), /no answers/);
  const noAnswer = {
    data: [{ paragraphs: [{ context: "abc", qas: [{ id: "2", question: "q", answers: [] }] }] }],
  };
  assert.equal(parseSquadJson(JSON.stringify(noAnswer), { allowNoAnswers: true }).length, 1);
  assert.match(String(details(() => parseSquadJson("{oops"))[0].reason), /not valid JSON/);
  assert.match(String(details(() => parseSquadJson("[]"))[0].reason), /'data' array/);
});

Deno.test("JSONL rows: HF answers shape, code-point answer_start beyond the BMP, round trip", () => {
  const rows = [
    {
      id: "a",
      context: "Paris is in France.",
      question: "Where?",
      answers: { text: ["France"], answer_start: [12] },
    },
    { context: "😀 hello world", question: "What?", answers: { text: ["world"], answer_start: [8] } },
  ];
  const text = rows.map((r) => JSON.stringify(r)).join("\n");
  const examples = parseQaJsonl(text);
  assert.equal(examples[1].id, "line-2");
  assert.deepEqual(examples[1].spans, [{ start: 9, end: 14 }]); // 😀 is one code point, two UTF-16 units
  assert.deepEqual(examples[1].source, { line: 2 });
  const again = parseQaJsonl(writeQaJsonl(examples));
  assert.deepEqual(again.map((e) => [e.id, e.answers]), examples.map((e) => [e.id, e.answers]));
});

Deno.test("bad JSONL QA rows answer 400 with their lines", () => {
  const text = [
    '{"context":"abc","question":"q","answers":{"text":["b"],"answer_start":[1]}}',
    '{"context":"abc","answers":{"text":["b"],"answer_start":[1]}}',
    '{"context":"abc","question":"q","answers":{"text":["b"],"answer_start":[0]}}',
    '{"context":"abc","question":"q","answers":{"text":["b","c"],"answer_start":[1]}}',
    '{"context":"abc","question":"q","answers":[{"text":"b","answer_start":1}]}',
    "nope",
    '{"context":"abc","question":"q","answers":{"text":["z"],"answer_start":[0]}}',
  ].join("\n");
  const d = details(() => parseQaJsonl(text));
  assert.deepEqual(d.map((x) => x.line), [2, 3, 4, 5, 6, 7]);
  assert.match(String(d[0].reason), /'question'/);
  assert.match(String(d[1].reason), /found 'a'; the text is at 1/);
  assert.match(String(d[5].reason), /not in the context/);
});
