// QA windows (run_qa's prepare_*_features): doc-stride windows over a real SQuAD context with the
// bert-base-uncased vocabulary, answer labels on the right tokens, offsets back to exact characters.
import assert from "node:assert/strict";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { byteLevelVocab, robertaTokenizerJson } from "../../shared/core/tokenizer/bpe_json.ts";
import { encodeQaWindows, prepareQaFeatures, windowBudget } from "../../shared/core/tasks/qa_features.ts";
import { parseSquadJson } from "../../shared/core/tasks/squad.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

const dataDir = new URL("../../../shared/data/", import.meta.url);
const examples = parseSquadJson(Deno.readTextFileSync(new URL("squad_v1.1_dev_articles_0-9.json", dataDir)));
const bert = TextTokenizer.fromVocabTxt(
  Deno.readTextFileSync(new URL("tokenizers/bert-base-uncased/vocab.txt", dataDir)),
  { lowercase: true },
);

Deno.test("windows cover a long context with docStride overlap; question first, context second", () => {
  const example = examples[0]; // "Which NFL team represented the AFC at Super Bowl 50?" → "Denver Broncos"
  const contextIds = bert.tokenize(example.context);
  const questionIds = bert.tokenize(example.question);
  const windows = encodeQaWindows(bert, example.question, example.context, { maxLength: 64, docStride: 16 });
  const maxContext = 64 - 3 - questionIds.length;
  assert.ok(windows.length > 3);
  assert.equal(windows[0].span.start, 0);
  assert.equal(windows.at(-1)!.span.end, contextIds.length);
  for (let w = 0; w < windows.length; w++) {
    const win = windows[w];
    assert.ok(win.ids.length <= 64);
    assert.deepEqual(win.ids.slice(0, questionIds.length + 2), [
      bert.specialIds.cls,
      ...questionIds,
      bert.specialIds.sep,
    ]);
    assert.equal(win.ids.at(-1), bert.specialIds.sep);
    const context = win.ids.slice(questionIds.length + 2, -1);
    assert.deepEqual(context, contextIds.slice(win.span.start, win.span.end));
    assert.deepEqual(win.typeIds, win.ids.map((_, i) => (i < questionIds.length + 2 ? 0 : 1)));
    assert.equal(win.contextMask.filter(Boolean).length, context.length);
    if (w > 0) assert.equal(windows[w - 1].span.end - win.span.start, 16); // doc_stride tokens shared
    if (w < windows.length - 1) assert.equal(win.span.end - win.span.start, maxContext);
  }
});

Deno.test("the training label lands on the answer tokens, [CLS] where the answer is outside", () => {
  const example = examples[0];
  const features = prepareQaFeatures(bert, [example], { maxLength: 64, docStride: 16 });
  const labelled = features.filter((f) => f.startPosition !== 0);
  assert.ok(labelled.length >= 1 && labelled.length < features.length);
  for (const f of labelled) {
    assert.deepEqual(bert.idsToTokens(f.ids.slice(f.startPosition, f.endPosition + 1)), [
      "denver",
      "broncos",
    ]);
    assert.equal(
      example.context.slice(f.offsets[f.startPosition]!.start, f.offsets[f.endPosition]!.end),
      "Denver Broncos",
    );
    assert.equal(example.context.slice(177, 191), "Denver Broncos");
    assert.equal(f.offsets[f.startPosition]!.start, 177);
  }
  for (const f of features.filter((f) => f.startPosition === 0)) {
    assert.equal(f.endPosition, 0);
    const inside = f.offsets.filter((o) => o !== null);
    assert.ok(
      inside[0]!.start > 177 || inside.at(-1)!.end < 191,
      "the answer is not fully inside this window",
    );
  }
});

Deno.test("every answer of the first 200 questions is found in some window and maps back exactly", () => {
  const some = examples.slice(0, 200);
  const features = prepareQaFeatures(bert, some, { maxLength: 96, docStride: 32 });
  const found = new Set<number>();
  for (const f of features) {
    if (f.startPosition === 0) continue;
    found.add(f.exampleIndex);
    const e = some[f.exampleIndex];
    const text = e.context.slice(f.offsets[f.startPosition]!.start, f.offsets[f.endPosition]!.end);
    // token spans cover the answer and at most whole words around it
    assert.ok(text.includes(e.answers.text[0]), `${text} ⊇ ${e.answers.text[0]}`);
  }
  assert.equal(found.size, 200);
});

Deno.test("accents and punctuation: offsets are exact characters of the original context", () => {
  const context = "Le café «Müller», ouvert en 1923, sert du thé.";
  const [w] = encodeQaWindows(bert, "Quel café?", context, { maxLength: 64, docStride: 3 });
  const rows = bert.idsToTokens(w.ids).flatMap((token, i) => {
    const o = w.offsets[i];
    const word = w.wordOffsets[i];
    return o && word ? [[token, context.slice(o.start, o.end), context.slice(word.start, word.end)]] : [];
  });
  assert.deepEqual(rows, [
    ["le", "Le", "Le"],
    ["cafe", "café", "café"],
    ["«", "«", "«"],
    ["muller", "Müller", "Müller"],
    ["»", "»", "»"],
    [",", ",", ","],
    ["ou", "ou", "ouvert"],
    ["##vert", "vert", "ouvert"],
    ["en", "en", "en"],
    ["1923", "1923", "1923"],
    [",", ",", ","],
    ["ser", "ser", "sert"],
    ["##t", "t", "sert"],
    ["du", "du", "du"],
    ["the", "thé", "thé"],
    [".", ".", "."],
  ]);
  const [feature] = prepareQaFeatures(bert, [{
    id: "x",
    context,
    question: "Qui?",
    answers: { text: ["Müller"], answer_start: [9] },
    spans: [{ start: 9, end: 15 }],
    source: {},
  }], { maxLength: 64, docStride: 8 });
  assert.deepEqual(bert.idsToTokens([feature.ids[feature.startPosition], feature.ids[feature.endPosition]]), [
    "muller",
    "muller",
  ]);
});

Deno.test("a stride that does not fit becomes half the room, long questions are cut, tiny lengths refused", () => {
  assert.deepEqual(windowBudget(bert, 5, { maxLength: 20, docStride: 128 }), {
    questionTokens: 5,
    maxContextTokens: 12,
    docStride: 6,
  });
  assert.equal(windowBudget(bert, 5, { maxLength: 20, docStride: 11 }).docStride, 11);
  assert.equal(windowBudget(bert, 5, { maxLength: 20, docStride: 12 }).docStride, 6);
  assert.deepEqual(windowBudget(bert, 50, { maxLength: 20, docStride: 4 }).questionTokens, 8);
  const long = "why ".repeat(40) + "?";
  const windows = encodeQaWindows(bert, long, examples[0].context, { maxLength: 32, docStride: 128 });
  assert.ok(windows.every((w) => w.ids.length <= 32));
  assert.equal(windows[0].span.end - windows[0].span.start, 32 - 3 - 14);
  assert.throws(() => windowBudget(bert, 1, { maxLength: 4, docStride: 1 }), ApiError);
});

Deno.test("byte-level BPE (RoBERTa): <s> q </s></s> c </s>, offsets through the bytes, trimmed of spaces", () => {
  const merges = Deno.readTextFileSync(new URL("tokenizers/gpt2/merges.txt", dataDir)).split("\n").slice(
    1,
    4001,
  )
    .filter(Boolean);
  const context = "Le café «Müller» 😀 opened in 1923.";
  for (const addPrefixSpace of [false, true]) {
    const roberta = TextTokenizer.fromTokenizerJson(
      robertaTokenizerJson(byteLevelVocab(merges), merges, { addPrefixSpace }),
    );
    const [w] = encodeQaWindows(roberta, "When?", context, { maxLength: 64, docStride: 3 });
    const { cls, sep } = roberta.specialIds;
    assert.deepEqual([w.ids[0], w.ids[3], w.ids[4], w.ids.at(-1)], [cls, sep, sep, sep]);
    const rows = roberta.idsToTokens(w.ids).flatMap((token, i) => {
      const o = w.offsets[i], word = w.wordOffsets[i];
      return o && word ? [[token, context.slice(o.start, o.end), context.slice(word.start, word.end)]] : [];
    });
    assert.deepEqual(rows.slice(0, 6), [
      [addPrefixSpace ? "ĠLe" : "Le", "Le", "Le"],
      ["Ġca", "ca", "café"],
      ["f", "f", "café"],
      ["Ã©", "é", "café"],
      ["ĠÂ", "«", "«"],
      ["«", "«", "«"],
    ]);
    assert.deepEqual(
      rows.filter((r) => r[2] === "😀").map((r) => r[1]),
      [" ", "😀", "😀", "😀", "😀"],
    );
    assert.deepEqual(rows.slice(-4), [["Ġin", "in", "in"], ["Ġ19", "19", "1923"], ["23", "23", "1923"], [
      ".",
      ".",
      ".",
    ]]);
    const [feature] = prepareQaFeatures(roberta, [{
      id: "x",
      context,
      question: "When?",
      answers: { text: ["1923"], answer_start: [28] },
      spans: [{ start: context.indexOf("1923"), end: context.indexOf("1923") + 4 }],
      source: {},
    }], { maxLength: 64, docStride: 8 });
    assert.deepEqual(roberta.idsToTokens(feature.ids.slice(feature.startPosition, feature.endPosition + 1)), [
      "Ġ19",
      "23",
    ]);
  }
});
