/**
 * Seq2seq data and loss: pairs become source + EOS, labels = target + EOS and decoder inputs = labels shifted
 * right behind the start token (truncation keeps EOS); empty texts are 400s naming the row; a padded batch
 * marks only real label tokens; and the label-smoothed token loss equals a hand computation of transformers'
 * LabelSmoother ((1 − ε)·NLL + ε·mean −log p over the vocabulary, averaged over non-padding tokens).
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { ApiError } from "../../shared/schemas/errors.ts";
import { initBackend } from "../../shared/core/backend.ts";
import { GenerationTokenizer } from "../../shared/core/tokenizer/generation_tokenizer.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import {
  collateSeq2Seq,
  languageCodeId,
  prepareTranslationExamples,
  tokenCrossEntropy,
} from "../../shared/core/train/seq2seq_data.ts";

await initBackend("wasm");

const TEXTS = ["a dog runs in the park", "ein hund rennt im park", "the cat sleeps", "die katze schläft"];
const tokenizer = GenerationTokenizer.fromTokenizerJson(
  TextTokenizer.trainWordPiece(TEXTS, { vocabSize: 60, minFrequency: 1, lowercase: false }).toTokenizerJson(),
);
const EOS = tokenizer.eosTokenId!;
const options = { maxSourceLength: 32, maxTargetLength: 32, decoderStartTokenId: 0 };

Deno.test("prepareTranslationExamples: source + EOS, labels + EOS, decoder inputs shifted right", () => {
  const [ex] = prepareTranslationExamples(tokenizer, [{
    source: "the cat sleeps",
    target: "die katze schläft",
  }], {
    ...options,
    sourcePrefix: "a ",
  });
  assert.deepEqual(ex.inputIds, [...tokenizer.encode("a the cat sleeps"), EOS]);
  assert.deepEqual(ex.labels, [...tokenizer.encode("die katze schläft"), EOS]);
  assert.deepEqual(ex.decoderInputIds, [0, ...ex.labels.slice(0, -1)]);
  assert.equal(tokenizer.decode(ex.labels, { skipSpecialTokens: true }), "die katze schläft");
});

Deno.test("prepareTranslationExamples: truncation keeps the EOS at the end", () => {
  const [ex] = prepareTranslationExamples(tokenizer, [{ source: TEXTS[0], target: TEXTS[1] }], {
    ...options,
    maxSourceLength: 3,
    maxTargetLength: 2,
  });
  assert.deepEqual(ex.inputIds, [...tokenizer.encode(TEXTS[0]).slice(0, 2), EOS]);
  assert.deepEqual(ex.labels, [tokenizer.encode(TEXTS[1])[0], EOS]);
  assert.deepEqual(ex.decoderInputIds, [0, tokenizer.encode(TEXTS[1])[0]]);
});

Deno.test("prepareTranslationExamples: an empty source or target is a 400 naming the row", () => {
  const pairs = [{ source: "the cat", target: "die katze" }, { source: "a dog", target: "  " }];
  assert.throws(
    () => prepareTranslationExamples(tokenizer, pairs, options, "training set"),
    (e) => e instanceof ApiError && e.status === 400 && /row 1 has an empty target/.test(e.message),
  );
  assert.throws(
    () => prepareTranslationExamples(tokenizer, [{ source: "", target: "x" }], options),
    (e) => e instanceof ApiError && e.status === 400 && /row 0 has an empty source/.test(e.message),
  );
});

Deno.test("collateSeq2Seq pads with the pad id and selects only real label tokens", () => {
  const examples = prepareTranslationExamples(tokenizer, [
    { source: TEXTS[0], target: TEXTS[1] },
    { source: TEXTS[2], target: TEXTS[3] },
  ], options);
  const pad = tokenizer.padTokenId!;
  const { batch, positions, labels } = collateSeq2Seq(examples, pad);
  const t = batch.decoderInputIds.shape[1];
  assert.equal(t, Math.max(...examples.map((e) => e.labels.length)));
  assert.deepEqual(labels, [...examples[0].labels, ...examples[1].labels]);
  assert.deepEqual(positions, [
    ...examples[0].labels.map((_, i) => i),
    ...examples[1].labels.map((_, i) => t + i),
  ]);
  const ids = batch.inputIds.arraySync();
  const mask = batch.attentionMask.arraySync();
  assert.deepEqual(
    ids[1].slice(examples[1].inputIds.length),
    new Array(ids[1].length - examples[1].inputIds.length).fill(pad),
  );
  assert.equal(mask[1].reduce((a, b) => a + b), examples[1].inputIds.length);
  tf.dispose(Object.values(batch));
});

Deno.test("label-smoothed token loss equals a hand computation (padding ignored)", () => {
  const rows = [[2, 0, -1], [0.5, 0.5, 1], [9, 9, 9], [-1, 3, 0]];
  const positions = [0, 1, 3]; // row 2 is padding
  const labels = [0, 2, 1];
  const eps = 0.1;
  const logSoftmax = (r: number[]) => {
    const m = Math.log(r.reduce((a, v) => a + Math.exp(v), 0));
    return r.map((v) => v - m);
  };
  let nll = 0, smooth = 0;
  positions.forEach((p, i) => {
    const lp = logSoftmax(rows[p]);
    nll += -lp[labels[i]];
    smooth += -lp.reduce((a, b) => a + b) / lp.length;
  });
  const expected = (1 - eps) * nll / 3 + eps * smooth / 3;
  const logits = tf.tensor2d(rows);
  const loss = tokenCrossEntropy(logits, positions, labels, eps);
  assert.ok(Math.abs(loss.dataSync()[0] - expected) < 1e-6, `${loss.dataSync()[0]} vs ${expected}`);
  const plain = tokenCrossEntropy(logits, positions, labels, 0);
  assert.ok(Math.abs(plain.dataSync()[0] - nll / 3) < 1e-6);
  tf.dispose([logits, loss, plain]);
});

Deno.test("language codes: the source starts with its code, labels (and so decoder inputs) with the target's", () => {
  const [en, de] = [7, 9]; // any two vocabulary ids stand for the code tokens
  const [ex] = prepareTranslationExamples(tokenizer, [{
    source: "the cat sleeps",
    target: "die katze schläft",
  }], {
    ...options,
    maxSourceLength: 4,
    maxTargetLength: 32,
    sourceLangId: en,
    targetLangId: de,
  });
  // maxSourceLength counts the code: code + 2 tokens + EOS.
  assert.deepEqual(ex.inputIds, [en, ...tokenizer.encode("the cat sleeps").slice(0, 2), EOS]);
  assert.deepEqual(ex.labels, [de, ...tokenizer.encode("die katze schläft"), EOS]);
  assert.deepEqual(ex.decoderInputIds, [0, de, ...tokenizer.encode("die katze schläft")]);
  assert.equal(languageCodeId(tokenizer, undefined, "task_options.source_lang"), null);
  assert.equal(languageCodeId(tokenizer, "katze", "task_options.target_lang"), tokenizer.tokenId("katze"));
  assert.throws(
    () => languageCodeId(tokenizer, "de_DE", "task_options.target_lang"),
    (e: unknown) =>
      e instanceof ApiError && e.status === 400 && /task_options\.target_lang 'de_DE'/.test(e.message),
  );
});
