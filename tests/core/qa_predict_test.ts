// QA serving: pipeline-style windows and answers — softmax over context + [CLS], p_start·p_end scores,
// top_k order, max_answer_length, whole-word answers, answers from later windows, exact character offsets,
// and answerQuestion running a span model over batched windows without leaking tensors.
import assert from "node:assert/strict";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import { batchTensors } from "../../shared/core/infer.ts";
import { initSequenceClassifier } from "../../shared/core/model/load.ts";
import { answerQuestion, qaAnswers, qaInputs, type QaWindow } from "../../shared/core/tasks/qa_predict.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

await initBackend("wasm");

const bert = TextTokenizer.fromVocabTxt(
  Deno.readTextFileSync(
    new URL("../../../shared/data/tokenizers/bert-base-uncased/vocab.txt", import.meta.url),
  ),
  { lowercase: true },
);

/** Logits [tokens, 2] with the given start/end values at token indices, 0 elsewhere. */
function logitsFor(
  window: QaWindow,
  starts: Record<number, number>,
  ends: Record<number, number>,
): Float32Array {
  const out = new Float32Array(window.ids.length * 2);
  for (const [i, v] of Object.entries(starts)) out[2 * Number(i)] = v;
  for (const [i, v] of Object.entries(ends)) out[2 * Number(i) + 1] = v;
  return out;
}

/** Index of the window token whose text (in the context) is `text`. */
const tokenAt = (window: QaWindow, context: string, text: string) =>
  window.offsets.findIndex((o) => o !== null && context.slice(o.start, o.end) === text);

/** p(i) of a softmax over [CLS] and the context tokens. */
function prob(window: QaWindow, logits: Float32Array, column: number, i: number): number {
  const keep = window.offsets.flatMap((o, k) => (o || k === 0 ? [k] : []));
  const z = keep.reduce((s, k) => s + Math.exp(logits[2 * k + column]), 0);
  return Math.exp(logits[2 * i + column]) / z;
}

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≠ ${b}`);

Deno.test("answers: top_k by p_start·p_end, exact character spans, accents kept", () => {
  const context = "The café «Müller» opened in 1923 in Zürich.";
  const [window, ...more] = qaInputs(bert, "When did it open?", context, { maxLength: 64 });
  assert.equal(more.length, 0);
  const year = tokenAt(window, context, "1923");
  const cafe = tokenAt(window, context, "café");
  const muller = tokenAt(window, context, "Müller");
  const logits = logitsFor(window, { [year]: 6, [cafe]: 4, 0: 3 }, { [year]: 6, [muller + 1]: 4, 0: 3 });
  const answers = qaAnswers(context, [window], [logits], { topK: 3 });
  assert.deepEqual(answers.map((a) => a.answer), ["1923", "café «Müller» opened in 1923", "café «Müller»"]);
  assert.deepEqual([answers[0].start, answers[0].end], [
    context.indexOf("1923"),
    context.indexOf("1923") + 4,
  ]);
  close(answers[0].score, prob(window, logits, 0, year) * prob(window, logits, 1, year));
  close(answers[1].score, prob(window, logits, 0, cafe) * prob(window, logits, 1, year));
  close(answers[2].score, prob(window, logits, 0, cafe) * prob(window, logits, 1, muller + 1));
  assert.ok(answers[0].score > answers[1].score && answers[1].score > answers[2].score);
  assert.equal(qaAnswers(context, [window], [logits]).length, 1); // top_k defaults to 1
  // max_answer_length 3 drops "café «Müller» opened in 1923" (7 tokens) and "café «Müller»" (4 tokens)
  const short = qaAnswers(context, [window], [logits], { topK: 3, maxAnswerLength: 3 });
  assert.equal(short[0].answer, "1923");
  assert.ok(short.every((a) => a.answer.split(/\s+/).length <= 3 && a.answer !== "café «Müller»"));
});

Deno.test("answers are widened to whole words (the pipeline's align_to_words)", () => {
  const context = "Nobody expected the overthrowing of Aristophanes.";
  const [window] = qaInputs(bert, "Who?", context, { maxLength: 64 });
  const tokens = bert.idsToTokens(window.ids);
  const piece = tokens.findIndex((t) => t.startsWith("##")); // a word-continuation piece
  assert.ok(piece > 0);
  const [answer] = qaAnswers(context, [window], [logitsFor(window, { [piece]: 9 }, { [piece]: 9 })]);
  const o = window.wordOffsets[piece]!;
  assert.equal(answer.answer, context.slice(o.start, o.end));
  assert.ok(/^\w+$/.test(answer.answer) && answer.answer.length > 3);
});

Deno.test("long contexts: answers come from every window, best first, offsets into the whole context", () => {
  const context = Array.from({ length: 30 }, (_, i) => `Sentence ${i} mentions item${i}.`).join(" ");
  const windows = qaInputs(bert, "Which item?", context, { maxLength: 24, docStride: 4 });
  assert.ok(windows.length > 5);
  const last = windows.at(-1)!;
  const target = last.offsets.findLastIndex((o) => o !== null && /^\d+$/.test(context.slice(o.start, o.end)));
  const logits = windows.map((w) => logitsFor(w, { 1: 0 }, { 1: 0 }));
  logits[windows.length - 1] = logitsFor(last, { [target]: 8 }, { [target]: 8 });
  const [best, second] = qaAnswers(context, windows, logits, { topK: 2 });
  const o = last.wordOffsets[target]!;
  assert.deepEqual([best.start, best.end], [o.start, o.end]);
  assert.equal(best.answer, context.slice(o.start, o.end));
  assert.ok(best.score > 0.5 && second.score < best.score);
  // the same character span from two overlapping windows is listed once
  const all = qaAnswers(context, windows, logits, { topK: 50 });
  assert.equal(new Set(all.map((a) => `${a.start}:${a.end}`)).size, all.length);
});

Deno.test("handleImpossible lets the empty answer win when [CLS] dominates; bad logits are refused", () => {
  const context = "Paris is the capital of France.";
  const [window] = qaInputs(bert, "What is the capital?", context, { maxLength: 64 });
  const paris = tokenAt(window, context, "Paris");
  const logits = logitsFor(window, { 0: 9, [paris]: 2 }, { 0: 9, [paris]: 2 });
  const [withNull] = qaAnswers(context, [window], [logits], { handleImpossible: true });
  assert.deepEqual({ ...withNull, score: 0 }, { answer: "", score: 0, start: 0, end: 0 });
  close(withNull.score, prob(window, logits, 0, 0) * prob(window, logits, 1, 0));
  assert.equal(qaAnswers(context, [window], [logits])[0].answer, "Paris");
  assert.throws(() => qaAnswers(context, [window], [new Float32Array(3)]), RangeError);
  assert.throws(() => qaAnswers(context, [window], []), RangeError);
  assert.throws(() => qaInputs(bert, " ", context), (e) => e instanceof ApiError && e.status === 400);
  assert.throws(
    () => qaInputs(bert, "Why?", "\n"),
    (e) => e instanceof ApiError && /context/.test(e.message),
  );
});

Deno.test("answerQuestion runs a span model over batched windows: same answers as one window at a time", async () => {
  const context = "Super Bowl 50 was an American football game to determine the champion of the National " +
    "Football League (NFL) for the 2015 season. The Denver Broncos defeated the Carolina Panthers 24–10.";
  const tokenizer = TextTokenizer.trainWordPiece([context, context, "Who won?"], { vocabSize: 120 });
  const model = initSequenceClassifier(
    {
      model_type: "bert",
      vocab_size: tokenizer.vocabSize,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 32,
      max_position_embeddings: 24,
    },
    2,
    7,
    "span",
  );
  try {
    const options = { maxLength: 24, docStride: 6, topK: 4, maxAnswerLength: 5, batchSize: 3 };
    const before = tf.memory().numTensors;
    const answers = await answerQuestion(model, tokenizer, "Who won?", context, options);
    assert.equal(tf.memory().numTensors, before);
    const windows = qaInputs(tokenizer, "Who won?", context, options);
    assert.ok(windows.length > 3);
    const single = windows.map((w) =>
      tf.tidy(() => model.forward(batchTensors(tokenizer.collate([w])), { training: false }))
        .dataSync() as Float32Array
    );
    const expected = qaAnswers(context, windows, single, options);
    assert.equal(answers.length, 4);
    assert.deepEqual(
      answers.map((a) => [a.answer, a.start, a.end]),
      expected.map((a) => [a.answer, a.start, a.end]),
    );
    answers.forEach((a, i) => assert.ok(Math.abs(a.score - expected[i].score) < 1e-5));
    for (const a of answers) assert.equal(context.slice(a.start, a.end), a.answer);
  } finally {
    model.dispose();
  }
});
