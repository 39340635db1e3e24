/**
 * GenerationTokenizer: encode/decode round trips for GPT-2's byte-level BPE (non-ASCII included), a
 * WordPiece vocabulary (`##` joining) and a SentencePiece-style Unigram with Metaspace `▁`; the special ids
 * from tokenizer_config.json or the usual names; explicit EOS / post-processor special tokens; errors.
 */
import assert from "node:assert/strict";
import { GenerationTokenizer } from "../../shared/core/tokenizer/generation_tokenizer.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

const GPT2_JSON = Deno.readTextFileSync(
  new URL("../../../shared/data/tokenizers/gpt2/tokenizer.json", import.meta.url),
);

/** A T5-like tokenizer: Metaspace pre-tokenizer/decoder, Unigram pieces, `</s>` appended by the template. */
function metaspaceJson(): object {
  const pieces = [
    "<pad>",
    "</s>",
    "<unk>",
    "▁hello",
    "▁world",
    "▁",
    "h",
    "e",
    "l",
    "o",
    "w",
    "r",
    "d",
    "!",
    "é",
  ];
  return {
    version: "1.0",
    added_tokens: ["<pad>", "</s>", "<unk>"].map((content, id) => ({
      id,
      content,
      special: true,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
    })),
    normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }],
      pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 0 } }],
      special_tokens: { "</s>": { id: "</s>", ids: [1], tokens: ["</s>"] } },
    },
    decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    model: { type: "Unigram", unk_id: 2, vocab: pieces.map((p, i) => [p, i < 3 ? 0 : -1 - i / 10]) },
  };
}

Deno.test("GPT-2 byte-level BPE round-trips text, non-ASCII included, and finds <|endoftext|>", () => {
  const tok = GenerationTokenizer.fromTokenizerJson(GPT2_JSON, { model_max_length: 1024 });
  assert.equal(tok.vocabSize, 50257);
  assert.equal(tok.eosTokenId, 50256);
  assert.equal(tok.bosTokenId, 50256);
  assert.equal(tok.padTokenId, null);
  assert.equal(tok.tokenId("<|endoftext|>"), 50256);
  assert.equal(tok.tokenId("no such token"), null);
  const text = "Héllo wörld — 日本語 😀 , isn't it ?  two  spaces\nnew line";
  const ids = tok.encode(text);
  assert.ok(!ids.includes(50256));
  assert.equal(tok.decode(ids), text);
  assert.deepEqual(tok.encode("Hello world"), [15496, 995]);
  const withEos = tok.encode("Hello world", { addEos: true });
  assert.deepEqual(withEos, [15496, 995, 50256]);
  assert.equal(tok.decode(withEos), "Hello world<|endoftext|>");
  assert.equal(tok.decode(withEos, { skipSpecialTokens: true }), "Hello world");
  assert.equal(tok.decode(tok.encode("a , b"), { cleanUpTokenizationSpaces: true }), "a, b");
  // Streaming: pieces concatenate to the text and never split a character (😀 spans several tokens).
  const stream = tok.decodeStream();
  const pieces = ids.map((id) => stream.push(id));
  assert.equal(pieces.join("") + stream.flush(), text);
  assert.ok(pieces.every((p) => !p.includes("\uFFFD")));
  assert.ok(pieces.some((p) => p === ""), "an incomplete character is held back");
  // Saving and loading again gives the same ids.
  const again = GenerationTokenizer.fromTokenizerJson(tok.toTokenizerJson());
  assert.deepEqual(again.encode(text), ids);
});

Deno.test("WordPiece: ## pieces join on decode; [SEP]/[CLS]/[PAD] are the special ids", () => {
  const texts = ["the quick brown fox jumps", "the lazy dog sleeps", "quick quick brown"];
  const wp = TextTokenizer.trainWordPiece(texts, { vocabSize: 40, lowercase: true, minFrequency: 2 });
  const tok = GenerationTokenizer.fromTokenizerJson(wp.toTokenizerJson(), { do_lower_case: true });
  assert.equal(tok.eosTokenId, tok.tokenId("[SEP]"));
  assert.equal(tok.bosTokenId, tok.tokenId("[CLS]"));
  assert.equal(tok.padTokenId, 0);
  const ids = tok.encode("The lazy fox jumps");
  const pieces = tok.idsToTokens(ids);
  assert.ok(pieces.some((p) => p?.startsWith("##")), `expected ## pieces in ${pieces}`);
  assert.equal(tok.decode(ids), "the lazy fox jumps");
  // The BERT post-processor adds [CLS] … [SEP] only when asked.
  const framed = tok.encode("the dog", { addSpecialTokens: true });
  assert.equal(framed[0], tok.bosTokenId);
  assert.equal(framed[framed.length - 1], tok.eosTokenId);
  assert.equal(tok.decode(framed, { skipSpecialTokens: true }), "the dog");
});

Deno.test("Metaspace ▁ pieces decode back to spaced text; the template appends </s> when asked", () => {
  const tok = GenerationTokenizer.fromTokenizerJson(metaspaceJson(), {
    eos_token: "</s>",
    pad_token: "<pad>",
  });
  assert.equal(tok.eosTokenId, 1);
  assert.equal(tok.padTokenId, 0);
  assert.equal(tok.bosTokenId, null);
  const ids = tok.encode("hello world hé!");
  assert.ok(!ids.includes(1));
  assert.equal(tok.decode(ids), "hello world hé!");
  assert.deepEqual(tok.encode("hello", { addSpecialTokens: true }), [3, 1]);
  assert.deepEqual(tok.encode("hello", { addSpecialTokens: true, addEos: true }), [3, 1]);
  assert.equal(tok.decode([3, 4, 1], { skipSpecialTokens: true }), "hello world");
});

Deno.test("special tokens: explicit null means none; unknown names and bad JSON are 400", () => {
  const tok = GenerationTokenizer.fromTokenizerJson(metaspaceJson(), { eos_token: null });
  assert.equal(tok.eosTokenId, null);
  assert.throws(
    () => tok.encode("hello", { addEos: true }),
    (e) => e instanceof ApiError && e.status === 400,
  );
  assert.throws(
    () => GenerationTokenizer.fromTokenizerJson(metaspaceJson(), { eos_token: { content: "<eos>" } }),
    (e) => e instanceof ApiError && e.status === 400 && /eos_token '<eos>'/.test(e.message),
  );
  assert.throws(
    () => GenerationTokenizer.fromTokenizerJson("{not json"),
    (e) => e instanceof ApiError && e.status === 400,
  );
  assert.throws(
    () => GenerationTokenizer.fromTokenizerJson({ version: "1.0" }),
    (e) => e instanceof ApiError && e.status === 400 && /model/.test(e.message),
  );
});
