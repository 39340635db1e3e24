// Original-text offsets: code point ↔ UTF-16 conversion and the BERT pre-tokeniser with spans, checked by hand
// and against @huggingface/tokenizers' own BertNormalizer + BertPreTokenizer on the SQuAD contexts.
import assert from "node:assert/strict";
import { BertNormalizer, BertPreTokenizer, Tokenizer } from "@huggingface/tokenizers";
import {
  alignWordPieces,
  bertPreTokenize,
  codePointToUtf16Index,
  isBertPunctuation,
  utf16ToCodePointIndex,
} from "../../shared/core/tasks/offsets.ts";

const triples = (text: string, lowercase = true) =>
  bertPreTokenize(text, { lowercase }).map((t) => [t.text, t.start, t.end]);

Deno.test("code point and UTF-16 indices convert both ways", () => {
  const text = "a😀b😀c";
  assert.equal(codePointToUtf16Index(text, 2), 3);
  assert.equal(codePointToUtf16Index(text, 4), 6);
  assert.equal(codePointToUtf16Index(text, 99), text.length);
  assert.equal(utf16ToCodePointIndex(text, 3), 2);
  assert.equal(utf16ToCodePointIndex(text, 6), 4);
  assert.equal(codePointToUtf16Index("plain", 3), 3);
});

Deno.test("pre-tokens split on whitespace and punctuation, map back to the original spans", () => {
  assert.deepEqual(triples("Héllo, wörld! Don't"), [
    ["hello", 0, 5],
    [",", 5, 6],
    ["world", 7, 12],
    ["!", 12, 13],
    ["don", 14, 17],
    ["'", 17, 18],
    ["t", 18, 19],
  ]);
  assert.deepEqual(triples("Café", false), [["Café", 0, 4]]); // cased: accents and case kept
  assert.deepEqual(triples("Cafe\u0301 noir"), [["cafe", 0, 5], ["noir", 6, 10]]); // decomposed accent inside
  assert.deepEqual(triples("我爱NLP"), [["我", 0, 1], ["爱", 1, 2], ["nlp", 2, 5]]);
  assert.deepEqual(triples("a\u0000b\tc"), [["ab", 0, 3], ["c", 4, 5]]); // NUL dropped, tab splits
  assert.deepEqual(triples("😀 hi"), [["😀", 0, 2], ["hi", 3, 5]]);
  assert.deepEqual(triples("ΟΔΟΣ."), [["οδος", 0, 4], [".", 4, 5]]); // final sigma in context
  assert.deepEqual(triples("İstanbul"), [["istanbul", 0, 8]]);
  assert.ok(isBertPunctuation("$") && isBertPunctuation("–") && !isBertPunctuation("a"));
});

Deno.test("same pre-tokens as @huggingface/tokenizers on every SQuAD context and question", () => {
  const normalizer = new BertNormalizer({
    type: "BertNormalizer",
    clean_text: true,
    handle_chinese_chars: true,
    strip_accents: null,
    lowercase: true,
  } as never);
  const pre = new BertPreTokenizer() as unknown as {
    pre_tokenize_text(text: string): string[];
  };
  const squad = JSON.parse(
    Deno.readTextFileSync(new URL("../../../shared/data/squad_v1.1_dev_articles_0-9.json", import.meta.url)),
  );
  const texts: string[] = ["ΟΔΟΣ.Σα", "x\u2028y\u00a0z", "e\u0301\u0301", "Ａ１！", "\ufeffbom"];
  for (const a of squad.data) {
    for (const p of a.paragraphs) {
      texts.push(
        p.context,
        ...p.qas.map((q: { question: string }) => q.question),
      );
    }
  }
  for (const text of texts) {
    const ours = bertPreTokenize(text, { lowercase: true });
    assert.deepEqual(
      ours.map((t) => t.text),
      pre.pre_tokenize_text(normalizer.normalize(text)),
      text.slice(0, 40),
    );
    if (text.includes("Σ")) continue; // a final sigma depends on context beyond its own span
    for (const t of ours) {
      const again = bertPreTokenize(text.slice(t.start, t.end), { lowercase: true });
      assert.deepEqual(again.map((x) => x.text), [t.text]); // each span holds exactly its own pre-token
    }
  }
});

Deno.test("alignWordPieces gives offsets to @huggingface/tokenizers WordPiece tokens (SQuAD question + context)", () => {
  const dir = new URL("../../../shared/data/tokenizers/all-MiniLM-L6-v2/", import.meta.url);
  const json = JSON.parse(Deno.readTextFileSync(new URL("tokenizer.json", dir)));
  json.truncation = null; // the file ships with truncation 256 and padding switched on
  json.padding = null;
  const tokenizer = new Tokenizer(
    json,
    JSON.parse(Deno.readTextFileSync(new URL("tokenizer_config.json", dir))),
  );
  const squad = JSON.parse(
    Deno.readTextFileSync(new URL("../../../shared/data/squad_v1.1_dev_articles_0-9.json", import.meta.url)),
  );
  let checked = 0;
  for (const p of squad.data[0].paragraphs.slice(0, 20)) {
    const question: string = p.qas[0].question;
    const { tokens } = tokenizer.encode(question, { text_pair: p.context });
    const aligned = alignWordPieces([question, p.context], tokens, { lowercase: true });
    assert.equal(aligned.length, tokens.length);
    tokens.forEach((token, i) => {
      const a = aligned[i];
      if (a === null) return assert.ok(token === "[CLS]" || token === "[SEP]");
      const source = a.segment === 0 ? question : p.context;
      const piece = token.startsWith("##") ? token.slice(2) : token;
      if (token !== "[UNK]") {
        assert.equal(bertPreTokenize(source.slice(a.start, a.end), { lowercase: true })[0].text, piece);
      }
      checked++;
    });
    assert.equal(aligned.filter((a) => a?.segment === 1).at(-1)!.end, p.context.trimEnd().length);
  }
  assert.ok(checked > 2000);
});

Deno.test("alignWordPieces by hand: sub-words, accents, [UNK], truncation and mismatches", () => {
  const text = "Héllo unaffable 😀!";
  const tokens = ["[CLS]", "hello", "una", "##ffa", "##ble", "[UNK]", "!", "[SEP]"];
  assert.deepEqual(alignWordPieces(text, tokens, { lowercase: true }), [
    null,
    { start: 0, end: 5, wordId: 0, segment: 0 },
    { start: 6, end: 9, wordId: 1, segment: 0 },
    { start: 9, end: 12, wordId: 1, segment: 0 },
    { start: 12, end: 15, wordId: 1, segment: 0 },
    { start: 16, end: 18, wordId: 2, segment: 0 },
    { start: 18, end: 19, wordId: 3, segment: 0 },
    null,
  ]);
  assert.equal(alignWordPieces(text, ["[CLS]", "hello", "una"], { lowercase: true }).length, 3); // truncated
  assert.throws(() => alignWordPieces(text, ["hello", "##x"], { lowercase: true }), /does not match/);
  assert.throws(() => alignWordPieces(text, ["hel", "una"], { lowercase: true }), /before 'hello' ended/);
  assert.throws(() => alignWordPieces("a", ["a", "b"]), /no word left/);
});
