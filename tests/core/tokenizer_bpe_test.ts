/**
 * Byte-level BPE tokenizers (GPT-2 / RoBERTa) through TextTokenizer: GPT-2's tokenizer.json gives GPT-2's
 * known ids, vocab.json + merges.txt convert to a tokenizer.json with the same ids, RoBERTa's template is
 * `<s> A </s>` / `<s> A </s></s> B </s>` with token types all 0 and longest-first truncation that keeps the
 * four specials, exports reload identically, and bad vocab.json / merges.txt files are 400s naming the line.
 */
import assert from "node:assert/strict";
import { ApiError } from "../../shared/schemas/errors.ts";
import { byteLevelVocab, robertaTokenizerJson } from "../../shared/core/tokenizer/bpe_json.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";

const GPT2 = "../shared/data/tokenizers/gpt2/";
const gpt2Config = {
  tokenizer_class: "GPT2Tokenizer",
  bos_token: "<|endoftext|>",
  eos_token: "<|endoftext|>",
  pad_token: "<|endoftext|>",
  unk_token: "<|endoftext|>",
};
const isInvalidFile = (pattern: RegExp) => (e: unknown) =>
  e instanceof ApiError && e.status === 400 && e.code === "invalid_file" && pattern.test(e.message);

const MERGES = ["Ġ g", "o o", "Ġg oo", "Ġgoo d", "f i", "l m", "fi lm", "Ġ film", "Ġ a"];

function tinyRoberta(): TextTokenizer {
  return TextTokenizer.fromTokenizerJson(robertaTokenizerJson(byteLevelVocab(MERGES), MERGES));
}

Deno.test("GPT-2's tokenizer.json gives GPT-2's known ids", () => {
  const tok = TextTokenizer.fromTokenizerJson(Deno.readTextFileSync(GPT2 + "tokenizer.json"), gpt2Config);
  assert.equal(tok.vocabSize, 50257);
  assert.deepEqual(tok.tokenize("Hello world"), [15496, 995]);
  assert.deepEqual(tok.tokenize("Hello, world!"), [15496, 11, 995, 0]);
  assert.deepEqual(tok.tokenize("The quick brown fox"), [464, 2068, 7586, 21831]);
  assert.deepEqual(tok.idsToTokens([15496, 995]), ["Hello", "Ġworld"]);
  assert.equal(tok.template, "roberta");
  assert.equal(tok.specialIds.cls, 50256);
});

Deno.test("vocab.json + merges.txt convert to a tokenizer.json with the same ids", () => {
  const vocab = JSON.parse(Deno.readTextFileSync(GPT2 + "vocab.json")) as Record<string, number>;
  ["<s>", "<pad>", "</s>", "<unk>", "<mask>"].forEach((t, i) => (vocab[t] = 50257 + i));
  const fromFiles = TextTokenizer.fromVocabJsonAndMerges(
    JSON.stringify(vocab),
    Deno.readTextFileSync(GPT2 + "merges.txt"),
  );
  const reference = TextTokenizer.fromTokenizerJson(
    Deno.readTextFileSync(GPT2 + "tokenizer.json"),
    gpt2Config,
  );
  for (const text of ["Hello world", " leading space", "naïve café, 2024!", "tokenization\nnew lines"]) {
    assert.deepEqual(fromFiles.tokenize(text), reference.tokenize(text), text);
  }
  assert.equal(fromFiles.template, "roberta");
  assert.deepEqual(fromFiles.specialIds, { pad: 50258, unk: 50260, cls: 50257, sep: 50259, mask: 50261 });
});

Deno.test("RoBERTa template: <s> A </s>, pairs with </s></s>, token types all 0", () => {
  const tok = tinyRoberta();
  const good = tok.tokenize("a good film");
  assert.deepEqual(tok.idsToTokens(good), ["a", "Ġgood", "Ġfilm"]);
  const single = tok.buildInput(good, null, 16);
  assert.deepEqual(single.ids, [0, ...good, 2]);
  assert.deepEqual(single.typeIds, single.ids.map(() => 0));
  const second = tok.tokenize("good");
  const pair = tok.buildInput(good, second, 16);
  assert.deepEqual(pair.ids, [0, ...good, 2, 2, ...second, 2]);
  assert.deepEqual(pair.typeIds, pair.ids.map(() => 0));
  const batch = tok.encode(["a good film", "a"], { maxLength: 16 });
  assert.equal(batch.seqLength, 5);
  assert.deepEqual([...batch.inputIds.slice(5)], [0, tok.tokenize("a")[0], 2, 1, 1]); // <pad> = 1
  assert.deepEqual([...batch.tokenTypeIds], new Array(10).fill(0));
});

Deno.test("RoBERTa truncation keeps the four specials of a pair, longest first", () => {
  const tok = tinyRoberta();
  const a = tok.tokenize("a good film a good film");
  const b = tok.tokenize("good film");
  assert.deepEqual([a.length, b.length], [6, 4]);
  const { ids } = tok.buildInput(a, b, 12);
  assert.equal(ids.length, 12);
  assert.deepEqual(ids.slice(1, 5), a.slice(0, 4), "the longer segment loses its tail");
  assert.deepEqual([ids[0], ids[ids.length - 1]], [0, 2]);
  assert.equal(ids.filter((id) => id === 2).length, 3);
  assert.deepEqual(ids.slice(ids.length - 1 - b.length, -1), b, "the shorter segment is kept whole");
});

Deno.test("a RoBERTa tokenizer exports to tokenizer.json, vocab.json and merges.txt that reload identically", () => {
  const tok = tinyRoberta();
  const text = "a good film, fine";
  const again = TextTokenizer.fromTokenizerJson(tok.toTokenizerJson(), tok.tokenizerConfig(512));
  assert.deepEqual(again.tokenize(text), tok.tokenize(text));
  const slow = TextTokenizer.fromVocabJsonAndMerges(tok.toVocabJson()!, tok.toMergesTxt()!);
  assert.deepEqual(slow.tokenize(text), tok.tokenize(text));
  const config = tok.tokenizerConfig(512);
  assert.equal(config.tokenizer_class, "RobertaTokenizer");
  assert.equal(config.bos_token, "<s>");
  assert.equal(config.sep_token, "</s>");
  assert.equal(config.mask_token, "<mask>");
  assert.equal(tok.toVocabTxt(), null);
});

Deno.test("bad vocab.json / merges.txt are 400 invalid_file naming the problem", () => {
  const vocab = JSON.stringify(Object.fromEntries(byteLevelVocab(MERGES)));
  assert.throws(() => TextTokenizer.fromVocabJsonAndMerges("{", "a b"), isInvalidFile(/vocab\.json/));
  assert.throws(
    () => TextTokenizer.fromVocabJsonAndMerges(vocab, "#version: 0.2\nĠ g\nbroken\n"),
    isInvalidFile(/merges\.txt line 3/),
  );
  assert.throws(
    () => TextTokenizer.fromVocabJsonAndMerges(vocab, "Ġgoo zz\n"),
    isInvalidFile(/line 1: 'zz' is not a token/),
  );
  const noSpecials = JSON.stringify({ a: 0, b: 1, ab: 2 });
  assert.throws(() => TextTokenizer.fromVocabJsonAndMerges(noSpecials, "a b\n"), isInvalidFile(/<s>/));
});
