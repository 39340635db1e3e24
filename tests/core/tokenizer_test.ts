/**
 * TextTokenizer against the real bert-base-uncased vocabulary: the tokenizer.json and vocab.txt routes give
 * the same ids, ids match the vocabulary's line numbers for known WordPiece splits, truncation keeps [SEP]
 * (longest-first for pairs), padding and masks are right, the saved tokenizer.json reloads identically, and a
 * learned WordPiece vocabulary behaves. Non-BERT tokenizers are refused with a 400.
 */
import assert from "node:assert/strict";
import { ApiError } from "../../shared/schemas/errors.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";

const DATA = new URL("../../../shared/data/tokenizers/", import.meta.url);
const vocabText = Deno.readTextFileSync(new URL("bert-base-uncased/vocab.txt", DATA));
const vocabLines = vocabText.split("\n");
const fromJson = TextTokenizer.fromTokenizerJson(
  Deno.readTextFileSync(new URL("all-MiniLM-L6-v2/tokenizer.json", DATA)),
  JSON.parse(Deno.readTextFileSync(new URL("all-MiniLM-L6-v2/tokenizer_config.json", DATA))),
);
const fromVocab = TextTokenizer.fromVocabTxt(vocabText, { lowercase: true });
const idOf = (token: string) => {
  const id = vocabLines.indexOf(token);
  assert.ok(id >= 0, `${token} is in vocab.txt`);
  return id;
};

const SENTENCES = [
  "Hello, world!",
  "The QUICK brown fox jumps over the lazy dog.",
  "Café naïve résumé — déjà vu",
  "東京 is in Japan; 12.5% of 3,000",
  "unbelievably tokenization-heavy sentences, don't they?",
  "",
];

Deno.test("tokenizer.json and vocab.txt tokenizers give identical ids", () => {
  assert.equal(fromJson.vocabSize, 30522);
  assert.equal(fromVocab.vocabSize, 30522);
  assert.deepEqual(fromJson.specialIds, { pad: 0, unk: 100, cls: 101, sep: 102, mask: 103 });
  assert.deepEqual(fromVocab.specialIds, fromJson.specialIds);
  const pairs = SENTENCES.map((s) => s.split("").reverse().join(""));
  const a = fromJson.encode(SENTENCES, { maxLength: 64, pairs });
  const b = fromVocab.encode(SENTENCES, { maxLength: 64, pairs });
  assert.deepEqual(a, b);
});

Deno.test("known sentences map to the vocabulary's ids", () => {
  const cases: [string, string[]][] = [
    ["Hello, world!", ["hello", ",", "world", "!"]],
    ["The QUICK brown fox", ["the", "quick", "brown", "fox"]],
    ["Café", ["cafe"]],
    ["playing", ["playing"]],
    ["tokenization", ["token", "##ization"]],
  ];
  for (const [text, tokens] of cases) {
    const encoded = fromJson.encode([text], { maxLength: 32 });
    assert.deepEqual([...encoded.inputIds], [101, ...tokens.map(idOf), 102], text);
    assert.deepEqual(fromJson.idsToTokens([...encoded.inputIds]), ["[CLS]", ...tokens, "[SEP]"]);
  }
  assert.equal(idOf("hello"), 7592);
  assert.equal(idOf("world"), 2088);
});

Deno.test("pairs get token type 1 on the second segment and its [SEP]", () => {
  const e = fromVocab.encode(["hello world"], { maxLength: 32, pairs: ["good morning"] });
  assert.deepEqual([...e.inputIds], [
    101,
    idOf("hello"),
    idOf("world"),
    102,
    idOf("good"),
    idOf("morning"),
    102,
  ]);
  assert.deepEqual([...e.tokenTypeIds], [0, 0, 0, 0, 1, 1, 1]);
  assert.deepEqual([...e.attentionMask], [1, 1, 1, 1, 1, 1, 1]);
});

Deno.test("truncation keeps [CLS]/[SEP] and is longest-first for pairs", () => {
  const long = "one two three four five six seven eight nine ten";
  const single = fromVocab.encode([long], { maxLength: 6 });
  assert.equal(single.seqLength, 6);
  assert.deepEqual(fromVocab.idsToTokens([...single.inputIds]), [
    "[CLS]",
    "one",
    "two",
    "three",
    "four",
    "[SEP]",
  ]);
  const pair = fromVocab.encode([long], { maxLength: 9, pairs: ["alpha beta"] });
  // budget 6 tokens: the long first segment is cut to 4, the short pair keeps its 2
  assert.deepEqual(fromVocab.idsToTokens([...pair.inputIds]), [
    "[CLS]",
    "one",
    "two",
    "three",
    "four",
    "[SEP]",
    "alpha",
    "beta",
    "[SEP]",
  ]);
  assert.deepEqual([...pair.tokenTypeIds], [0, 0, 0, 0, 0, 0, 1, 1, 1]);
});

Deno.test("the truncation/padding settings inside tokenizer.json are ignored", () => {
  const text = Array.from({ length: 400 }, (_, i) => (i % 2 ? "cat" : "dog")).join(" ");
  const e = fromJson.encode([text, "short"], { maxLength: 512 });
  assert.equal(e.seqLength, 402); // tokenizer.json says truncate at 256
  assert.equal(e.inputIds[e.seqLength + 2], 102); // row 2: [CLS] short [SEP] then padding
  assert.equal(e.inputIds[e.seqLength + 3], 0);
  assert.equal(e.attentionMask[e.seqLength + 3], 0);
});

Deno.test("padding: longest vs max_length", () => {
  const longest = fromVocab.encode(["a b c", "a"], { maxLength: 16 });
  assert.equal(longest.seqLength, 5);
  assert.deepEqual([...longest.attentionMask], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  const fixed = fromVocab.encode(["a b c", "a"], { maxLength: 16, padding: "max_length" });
  assert.equal(fixed.seqLength, 16);
  assert.equal(fixed.inputIds.length, 32);
  assert.equal(fixed.attentionMask.reduce((s, v) => s + v, 0), 8);
});

Deno.test("toTokenizerJson reloads to the same tokenizer", () => {
  const json = JSON.parse(fromVocab.toTokenizerJson());
  assert.equal(json.model.type, "WordPiece");
  assert.equal(json.normalizer.type, "BertNormalizer");
  assert.equal(json.post_processor.type, "TemplateProcessing");
  assert.equal(json.truncation, null);
  const reloaded = TextTokenizer.fromTokenizerJson(fromVocab.toTokenizerJson());
  assert.deepEqual(
    reloaded.encode(SENTENCES, { maxLength: 40 }),
    fromVocab.encode(SENTENCES, { maxLength: 40 }),
  );
});

Deno.test("trainWordPiece learns a BERT-style vocabulary from text", () => {
  const texts = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat and a dog",
    "the end",
  ];
  const tok = TextTokenizer.trainWordPiece(texts, { vocabSize: 60, minFrequency: 2 });
  assert.deepEqual(tok.specialIds, { pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 });
  assert.ok(tok.vocabSize <= 60);
  const e = tok.encode(["the cat sat", "mat"], { maxLength: 10 });
  // frequent words are whole tokens; "mat" (seen once) is spelled with pieces
  assert.deepEqual(tok.idsToTokens([...e.inputIds].slice(0, 5)), ["[CLS]", "the", "cat", "sat", "[SEP]"]);
  assert.deepEqual(tok.idsToTokens([...e.inputIds].slice(5, 9)), ["[CLS]", "m", "##a", "##t"]);
  const reloaded = TextTokenizer.fromTokenizerJson(tok.toTokenizerJson());
  assert.deepEqual(reloaded.encode(texts, { maxLength: 12 }), tok.encode(texts, { maxLength: 12 }));
  // a tiny budget keeps the specials and the most frequent characters only
  const tiny = TextTokenizer.trainWordPiece(texts, { vocabSize: 8 });
  assert.equal(tiny.vocabSize, 8);
});

Deno.test("a tokenizer without BERT special tokens is refused with 400", () => {
  const gpt2 = Deno.readTextFileSync(new URL("gpt2/tokenizer.json", DATA));
  assert.throws(
    () => TextTokenizer.fromTokenizerJson(gpt2),
    (e) => e instanceof ApiError && e.status === 400 && /\[PAD\]|\[CLS\]/.test(e.message),
  );
  assert.throws(
    () => TextTokenizer.fromTokenizerJson("{not json"),
    (e) => e instanceof ApiError && e.status === 400 && e.code === "invalid_file",
  );
});
