/**
 * Serving post-processing for token classification (token_predict.ts): offsets into the original text for
 * WordPiece (accents stripped by an uncased vocabulary, punctuation splits, ## sub-words, an emoji that
 * becomes [UNK]) and byte-level BPE (multi-byte characters split across tokens, an emoji across two tokens,
 * the leading space trimmed), special added tokens and truncation; and the pipeline output of every
 * aggregation strategy against values worked out by hand from logits whose softmax is known (a logit of
 * ln 36 / ln 12 / ln 4 against four zeros gives 0.9 / 0.75 / 0.5).
 */
import assert from "node:assert/strict";
import { tokenClassificationInputs, tokenEntities } from "../../shared/core/tasks/token_predict.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";

const bert = TextTokenizer.fromVocabTxt(
  Deno.readTextFileSync("../shared/data/tokenizers/bert-base-uncased/vocab.txt"),
  { lowercase: true },
);
const gpt2 = TextTokenizer.fromTokenizerJson(
  Deno.readTextFileSync("../shared/data/tokenizers/gpt2/tokenizer.json"),
  {
    tokenizer_class: "GPT2Tokenizer",
    bos_token: "<|endoftext|>",
    eos_token: "<|endoftext|>",
    pad_token: "<|endoftext|>",
  },
);
const TEXT = "Hans-Peter lives in Zürich 😀, near Kreuzlingen!";
const LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"];

/** Token strings, original text and [start, end) of each position ("-" for specials). */
function describe(tokenizer: TextTokenizer, text: string, maxLength = 64) {
  const { ids, offsets } = tokenClassificationInputs(tokenizer, text, maxLength);
  assert.equal(ids.length, offsets.length);
  return offsets.map((
    o,
  ) => (o === null ? "-" : `${o.token}|${text.slice(o.start, o.end)}|${o.start}|${o.wordId}`));
}

Deno.test("WordPiece offsets: accents, punctuation, sub-words and an emoji map back to the original text", () => {
  assert.deepEqual(describe(bert, TEXT), [
    "-",
    "hans|Hans|0|0",
    "-|-|4|1",
    "peter|Peter|5|2",
    "lives|lives|11|3",
    "in|in|17|4",
    "zurich|Zürich|20|5",
    "[UNK]|😀|27|6", // the emoji is two UTF-16 units: 27–29
    ",|,|29|7",
    "near|near|31|8",
    "k|K|36|9",
    "##re|re|37|9",
    "##uz|uz|39|9",
    "##ling|ling|41|9",
    "##en|en|45|9",
    "!|!|47|10",
    "-",
  ]);
  // Special added tokens in the text are split out and get no offset; truncation keeps [CLS] … [SEP].
  assert.deepEqual(describe(bert, "Ça [MASK] va"), ["-", "ca|Ça|0|0", "-", "va|va|10|1", "-"]);
  assert.deepEqual(describe(bert, TEXT, 5), ["-", "hans|Hans|0|0", "-|-|4|1", "peter|Peter|5|2", "-"]);
});

Deno.test("byte-level BPE offsets: split characters and the emoji's two tokens share their span", () => {
  assert.deepEqual(describe(gpt2, TEXT), [
    "-",
    "H|H|0|0",
    "ans|ans|1|0",
    "-|-|4|1",
    "Peter|Peter|5|2",
    "Ġlives|lives|11|3", // the leading space is trimmed from the offsets
    "Ġin|in|17|4",
    "ĠZ|Z|20|5",
    "Ã¼|ü|21|5",
    "rich|rich|22|5",
    "ĠðŁĺ|😀|27|6",
    "Ģ|😀|27|6",
    ",|,|29|6", // GPT-2's pre-tokenizer keeps " 😀," together
    "Ġnear|near|31|7",
    "ĠKre|Kre|36|8",
    "uz|uz|39|8",
    "ling|ling|41|8",
    "en|en|45|8",
    "!|!|47|9",
    "-",
  ]);
});

/** A row of logits whose softmax puts `p` on `label` and (1 - p) / 4 on each other label. */
function row(label: string, p: 0.9 | 0.75 | 0.5): number[] {
  const out = new Array(LABELS.length).fill(0);
  out[LABELS.indexOf(label)] = Math.log((4 * p) / (1 - p));
  return out;
}

// One row per BERT position of TEXT (see the first test); the specials' rows must be ignored.
const LOGITS = new Float32Array([
  row("B-PER", 0.9), // [CLS]
  row("B-PER", 0.9), // hans
  row("I-PER", 0.75), // -
  row("I-PER", 0.9), // peter
  row("O", 0.9), // lives
  row("O", 0.9), // in
  row("B-LOC", 0.75), // zurich
  row("B-PER", 0.5), // [UNK] 😀
  row("O", 0.9), // ,
  row("O", 0.9), // near
  row("B-LOC", 0.5), // k
  row("I-LOC", 0.9), // ##re
  row("I-LOC", 0.75), // ##uz
  row("O", 0.75), // ##ling
  row("I-LOC", 0.75), // ##en
  row("O", 0.9), // !
  row("I-LOC", 0.9), // [SEP]
].flat());

const rounded = <T extends { score: number }>(list: T[]) =>
  list.map((e) => ({ ...e, score: Math.round(e.score * 1e5) / 1e5 }));

Deno.test("aggregation none / simple / first / max / average against hand-computed outputs", () => {
  const { offsets } = tokenClassificationInputs(bert, TEXT, 64);
  const run = (strategy: "none" | "simple" | "first" | "max" | "average", ignore?: string[]) =>
    rounded(tokenEntities(TEXT, offsets, LOGITS, LABELS, strategy, ignore) as { score: number }[]);
  assert.deepEqual(run("none"), [
    { entity: "B-PER", score: 0.9, index: 1, word: "hans", start: 0, end: 4 },
    { entity: "I-PER", score: 0.75, index: 2, word: "-", start: 4, end: 5 },
    { entity: "I-PER", score: 0.9, index: 3, word: "peter", start: 5, end: 10 },
    { entity: "B-LOC", score: 0.75, index: 6, word: "zurich", start: 20, end: 26 },
    { entity: "B-PER", score: 0.5, index: 7, word: "😀", start: 27, end: 29 }, // [UNK] → the original text
    { entity: "B-LOC", score: 0.5, index: 10, word: "k", start: 36, end: 37 },
    { entity: "I-LOC", score: 0.9, index: 11, word: "##re", start: 37, end: 39 },
    { entity: "I-LOC", score: 0.75, index: 12, word: "##uz", start: 39, end: 41 },
    { entity: "I-LOC", score: 0.75, index: 14, word: "##en", start: 45, end: 47 },
  ]);
  const per = { entity_group: "PER", score: 0.85, word: "Hans-Peter", start: 0, end: 10 }; // mean(.9, .75, .9)
  const zurich = { entity_group: "LOC", score: 0.75, word: "Zürich", start: 20, end: 26 };
  const emoji = { entity_group: "PER", score: 0.5, word: "😀", start: 27, end: 29 };
  // simple: the O on ##ling splits Kreuzlingen; "Kreuz" = mean(.5, .9, .75).
  assert.deepEqual(run("simple"), [
    per,
    zurich,
    emoji,
    { entity_group: "LOC", score: 0.71667, word: "Kreuz", start: 36, end: 41 },
    { entity_group: "LOC", score: 0.75, word: "en", start: 45, end: 47 },
  ]);
  const kreuzlingen = (score: number) => ({
    entity_group: "LOC",
    score,
    word: "Kreuzlingen",
    start: 36,
    end: 47,
  });
  assert.deepEqual(run("first"), [per, zurich, emoji, kreuzlingen(0.5)]); // k: B-LOC 0.5
  assert.deepEqual(run("max"), [per, zurich, emoji, kreuzlingen(0.9)]); // ##re: I-LOC 0.9
  // average over the 5 pieces: I-LOC (.125 + .9 + .75 + .0625 + .75) / 5 = .5175 beats O (.205).
  assert.deepEqual(run("average"), [per, zurich, emoji, kreuzlingen(0.5175)]);
  // ignoreLabels drops whole groups; with none ignored the O groups come back.
  assert.deepEqual(run("first", ["O", "PER"]), [zurich, kreuzlingen(0.5)]);
  const all = run("simple", []);
  assert.equal(all.length, 9);
  assert.deepEqual(all[1], { entity_group: "O", score: 0.9, word: "lives in", start: 11, end: 19 });
});

Deno.test("byte-level BPE: first aggregation joins Zürich's byte pieces into one entity", () => {
  const { offsets } = tokenClassificationInputs(gpt2, "in Zürich", 16);
  // <s> in ĠZ Ã¼ rich </s>: the first piece says B-LOC, the others O.
  const logits = new Float32Array(
    [row("O", 0.9), row("O", 0.9), row("B-LOC", 0.75), row("O", 0.9), row("O", 0.9), row("O", 0.9)].flat(),
  );
  assert.deepEqual(rounded(tokenEntities("in Zürich", offsets, logits, LABELS, "first")), [
    { entity_group: "LOC", score: 0.75, word: "Zürich", start: 3, end: 9 },
  ]);
  assert.deepEqual(rounded(tokenEntities("in Zürich", offsets, logits, LABELS, "none")), [
    { entity: "B-LOC", score: 0.75, index: 2, word: "ĠZ", start: 3, end: 4 },
  ]);
  assert.throws(() => tokenEntities("in Zürich", offsets, logits.slice(1), LABELS), /logits for 6 tokens/);
});

Deno.test("ids equal the tokenizer's own, offsets in order, on tricky texts (literal [UNK], specials, controls)", () => {
  const texts = [
    "[UNK] 😀 [UNK]Zürich",
    "a<|endoftext|> b  c",
    "ΣΑΣ straße ﬁ x\u0308 \u200b\u0000 中文𠀀",
    "don't U.S. 123,456 e-mail #1 @user",
    "  leading and trailing  ",
    "a".repeat(120) + " [MASK][SEP]x",
  ];
  for (const tokenizer of [bert, gpt2]) {
    for (const text of texts) {
      const { ids, offsets } = tokenClassificationInputs(tokenizer, text, 512);
      assert.deepEqual(ids.slice(1, -1), tokenizer.tokenize(text), text);
      let last = 0;
      for (const o of offsets) {
        if (o === null) continue;
        assert.ok(
          o.start >= last && o.start <= o.end && o.end <= text.length,
          `${text}: ${JSON.stringify(o)}`,
        );
        last = o.start;
      }
    }
  }
  const withUnk = describe(bert, "[UNK] 😀");
  assert.deepEqual(withUnk, ["-", "-", "[UNK]|😀|6|0", "-"]); // the literal is a special; the emoji is a word
});
