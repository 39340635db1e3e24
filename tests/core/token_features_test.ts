/**
 * Word → sub-token features for token classification: on a CoNLL-2003 sentence with a multi-piece word
 * ("all-rounder" → all - round ##er) the label sits on each word's first piece and -100 everywhere else;
 * truncation to max_seq_length counts the words whose first piece was cut (a word cut after its first piece
 * stays labelled); words with no piece are counted as empty; byte-level BPE tokenizes every word but the first
 * with a leading space, giving the pieces of the joined text.
 */
import assert from "node:assert/strict";
import { IGNORE_LABEL, tokenFeatures, WordTokenizer } from "../../shared/core/tasks/token_features.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";

const bert = TextTokenizer.fromVocabTxt(
  Deno.readTextFileSync("../shared/data/tokenizers/bert-base-uncased/vocab.txt"),
  { lowercase: true },
);
const X = IGNORE_LABEL;
// conll2003_eng.testa, the third sentence (lines 17–27), NER tags as label ids: O=0, I-MISC=1, I-PER=2.
const WORDS = "West Indian all-rounder Phil Simmons took four for 38 on Friday".split(" ");
const LABELS = [1, 1, 0, 2, 2, 0, 0, 0, 0, 0, 0];

Deno.test("labels go on the first sub-token of each word, -100 on the rest and on the specials", () => {
  const f = tokenFeatures(bert, WORDS, LABELS, 64);
  assert.deepEqual(bert.idsToTokens(f.ids), [
    "[CLS]",
    "west",
    "indian",
    "all",
    "-",
    "round",
    "##er",
    "phil",
    "simmons",
    "took",
    "four",
    "for",
    "38",
    "on",
    "friday",
    "[SEP]",
  ]);
  assert.deepEqual(f.labels, [X, 1, 1, 0, X, X, X, 2, 2, 0, 0, 0, 0, 0, 0, X]);
  assert.deepEqual(f.wordIds, [null, 0, 1, 2, 2, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, null]);
  assert.deepEqual(f.typeIds, new Array(16).fill(0));
  assert.deepEqual(f.labelledWords, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(f.truncatedWords, 0);
  assert.equal(f.emptyWords, 0);
});

Deno.test("truncation keeps [CLS] … [SEP] within maxLength and counts the words cut off", () => {
  // 5 pieces fit: west indian all - round → "all-rounder" keeps its first piece and its label.
  const f = tokenFeatures(bert, WORDS, LABELS, 7);
  assert.deepEqual(bert.idsToTokens(f.ids), ["[CLS]", "west", "indian", "all", "-", "round", "[SEP]"]);
  assert.deepEqual(f.labels, [X, 1, 1, 0, X, X, X]);
  assert.deepEqual(f.labelledWords, [0, 1, 2]);
  assert.equal(f.truncatedWords, 8);
  const g = tokenFeatures(bert, WORDS, LABELS, 4);
  assert.deepEqual(g.labels, [X, 1, 1, X]);
  assert.equal(g.truncatedWords, 9);
});

Deno.test("a word that yields no sub-token is counted as empty and gets no label", () => {
  const f = tokenFeatures(bert, ["Phil", "\u200b", "Simmons"], [2, 0, 2], 16);
  assert.deepEqual(bert.idsToTokens(f.ids), ["[CLS]", "phil", "simmons", "[SEP]"]);
  assert.deepEqual(f.labels, [X, 2, 2, X]);
  assert.deepEqual(f.labelledWords, [0, 2]);
  assert.equal(f.emptyWords, 1);
  assert.equal(f.truncatedWords, 0);
});

Deno.test("without labels every position is ignored but word ids are kept", () => {
  const f = tokenFeatures(bert, ["all-rounder"], null, 16);
  assert.deepEqual(f.labels, [X, X, X, X, X, X]);
  assert.deepEqual(f.wordIds, [null, 0, 0, 0, 0, null]);
  assert.throws(() => tokenFeatures(bert, ["a", "b"], [0], 16), /2 words but 1 labels/);
});

Deno.test("byte-level BPE: a leading space before every word but the first, as in the joined text", () => {
  const gpt2 = TextTokenizer.fromTokenizerJson(
    Deno.readTextFileSync("../shared/data/tokenizers/gpt2/tokenizer.json"),
    {
      tokenizer_class: "GPT2Tokenizer",
      bos_token: "<|endoftext|>",
      eos_token: "<|endoftext|>",
      pad_token: "<|endoftext|>",
    },
  );
  const words = ["EU", "rejects", "German", "call"];
  const f = tokenFeatures(new WordTokenizer(gpt2), words, [1, 0, 2, 0], 16);
  assert.deepEqual(f.ids.slice(1, -1), gpt2.tokenize(words.join(" ")));
  assert.deepEqual(gpt2.idsToTokens(f.ids.slice(1, -1)), ["EU", "Ġrejects", "ĠGerman", "Ġcall"]);
  assert.deepEqual(f.labels, [X, 1, 0, 2, 0, X]);
  // "Zürich" as a later word: three byte-level pieces, the label on the first.
  const z = tokenFeatures(gpt2, ["in", "Zürich"], [0, 3], 16);
  assert.deepEqual(gpt2.idsToTokens(z.ids.slice(1, -1)), gpt2.idsToTokens(gpt2.tokenize("in Zürich")));
  assert.deepEqual(z.labels.slice(0, 3), [X, 0, 3]);
  assert.ok(z.labels.slice(3).every((l) => l === X));
});
