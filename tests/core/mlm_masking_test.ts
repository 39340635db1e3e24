/**
 * Masked-LM corruption: on a large batch about 15% of the eligible tokens are selected and those split about
 * 80/10/10 into [MASK] / random token / unchanged; special tokens and padding are never selected; labels hold
 * the original id exactly at selected positions; the same seed repeats the corruption; the rate follows
 * mlm_probability; bad settings and a vocabulary without [MASK] are refused with a 400. Also the example
 * layouts (split windows, HF group_texts concatenation).
 */
import assert from "node:assert/strict";
import { createRng } from "../../shared/core/random.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import {
  type MaskingVocabulary,
  maskingVocabulary,
  maskTokens,
  MLM_IGNORE,
} from "../../shared/core/tasks/mlm/masking.ts";
import { mlmExamples } from "../../shared/core/tasks/mlm/examples.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

const PAD = 0, UNK = 1, CLS = 2, SEP = 3, MASK = 4;
const VOCAB: MaskingVocabulary = {
  maskId: MASK,
  vocabSize: 1000,
  specialIds: new Set([PAD, UNK, CLS, SEP, MASK]),
};

/** rows × seq ids: [CLS] words… [SEP] then padding, with a sprinkling of [UNK] inside. */
function syntheticBatch(rows: number, seq: number, seed: number) {
  const rng = createRng(seed);
  const ids = new Int32Array(rows * seq);
  const mask = new Int32Array(rows * seq);
  for (let r = 0; r < rows; r++) {
    const length = 8 + rng.nextInt(seq - 8 + 1);
    for (let s = 0; s < length; s++) {
      const id = s === 0 ? CLS : s === length - 1 ? SEP : rng.next() < 0.02 ? UNK : 5 + rng.nextInt(995);
      ids[r * seq + s] = id;
      mask[r * seq + s] = 1;
    }
  }
  return { ids, mask };
}

Deno.test("masking: ≈15% of eligible tokens selected, split ≈80/10/10; specials and padding never", () => {
  const { ids, mask } = syntheticBatch(400, 128, 7);
  const out = maskTokens(ids, mask, VOCAB, 0.15, createRng(11));
  let eligible = 0, selected = 0, masked = 0, replaced = 0, unchanged = 0;
  for (let i = 0; i < ids.length; i++) {
    const isEligible = mask[i] === 1 && !VOCAB.specialIds.has(ids[i]);
    if (!isEligible) {
      assert.equal(out.labels[i], MLM_IGNORE, `position ${i} (id ${ids[i]}, mask ${mask[i]}) was selected`);
      assert.equal(out.inputIds[i], ids[i], `position ${i} changed without being selected`);
      continue;
    }
    eligible++;
    if (out.labels[i] === MLM_IGNORE) {
      assert.equal(out.inputIds[i], ids[i]);
      continue;
    }
    selected++;
    assert.equal(out.labels[i], ids[i], "the label is the original id");
    if (out.inputIds[i] === MASK) masked++;
    else if (out.inputIds[i] !== ids[i]) replaced++;
    else unchanged++;
    assert.ok(out.inputIds[i] >= 0 && out.inputIds[i] < VOCAB.vocabSize);
  }
  assert.ok(eligible > 20_000, `eligible ${eligible}`);
  assert.equal(out.selected, selected);
  const rate = selected / eligible;
  assert.ok(Math.abs(rate - 0.15) < 0.01, `selected ${rate}`);
  // A random replacement may draw the original id (1/1000) or [MASK]: both shift at most ~0.1% of selections.
  assert.ok(Math.abs(masked / selected - 0.8) < 0.02, `[MASK] share ${masked / selected}`);
  assert.ok(Math.abs(replaced / selected - 0.1) < 0.02, `random share ${replaced / selected}`);
  assert.ok(Math.abs(unchanged / selected - 0.1) < 0.02, `unchanged share ${unchanged / selected}`);
});

Deno.test("masking: the rate follows the probability", () => {
  const { ids, mask } = syntheticBatch(200, 64, 3);
  const eligible = ids.filter((id, i) => mask[i] === 1 && !VOCAB.specialIds.has(id)).length;
  for (const p of [0.05, 0.3, 0.6]) {
    const out = maskTokens(ids, mask, VOCAB, p, createRng(5));
    assert.ok(Math.abs(out.selected / eligible - p) < 0.02, `p=${p}: ${out.selected / eligible}`);
  }
});

Deno.test("masking: the same seed gives the same corruption, another seed another one", () => {
  const { ids, mask } = syntheticBatch(32, 48, 9);
  const a = maskTokens(ids, mask, VOCAB, 0.15, createRng(123));
  const b = maskTokens(ids, mask, VOCAB, 0.15, createRng(123));
  const c = maskTokens(ids, mask, VOCAB, 0.15, createRng(124));
  assert.deepEqual(a.inputIds, b.inputIds);
  assert.deepEqual(a.labels, b.labels);
  assert.notDeepEqual(a.labels, c.labels);
  assert.deepEqual(ids, syntheticBatch(32, 48, 9).ids, "the input is not modified");
});

Deno.test("masking: invalid probability and a vocabulary without [MASK] are 400s", () => {
  const { ids, mask } = syntheticBatch(2, 16, 1);
  for (const p of [0, 1, -0.1, 1.5, NaN]) {
    assert.throws(
      () => maskTokens(ids, mask, VOCAB, p, createRng(1)),
      (e: unknown) => e instanceof ApiError && e.status === 400 && /mlm_probability/.test(e.message),
    );
  }
  assert.throws(
    () => maskingVocabulary({ specialIds: { pad: 0, unk: 1, cls: 2, sep: 3, mask: -1 }, vocabSize: 10 }),
    (e: unknown) => e instanceof ApiError && e.status === 400 && /\[MASK\]/.test(e.message),
  );
  const tokenizer = TextTokenizer.trainWordPiece(["alpha beta gamma"], { vocabSize: 40 });
  const vocabulary = maskingVocabulary(tokenizer);
  assert.equal(vocabulary.maskId, tokenizer.specialIds.mask);
  assert.equal(vocabulary.specialIds.size, 5);
});

Deno.test("examples: split windows keep every token; concatenation makes full blocks", () => {
  const tokenizer = TextTokenizer.trainWordPiece(["one two three four five six seven"], { vocabSize: 60 });
  const { cls, sep } = tokenizer.specialIds;
  const texts = ["one two three four five six seven", "", "two three"];
  const split = mlmExamples(tokenizer, texts, { maxLength: 5 });
  const lengths = texts.map((t) => tokenizer.tokenize(t).length);
  assert.equal(split.length, Math.ceil(lengths[0] / 3) + Math.ceil(lengths[2] / 3));
  for (const row of split) {
    assert.equal(row.ids[0], cls);
    assert.equal(row.ids.at(-1), sep);
    assert.ok(row.ids.length <= 5);
    assert.deepEqual(row.typeIds, row.ids.map(() => 0));
  }
  const content = split.flatMap((r) => r.ids.slice(1, -1));
  assert.deepEqual(content, texts.flatMap((t) => tokenizer.tokenize(t)));

  const grouped = mlmExamples(tokenizer, texts, { maxLength: 4, layout: "concatenate" });
  const stream = [cls, ...tokenizer.tokenize(texts[0]), sep, cls, ...tokenizer.tokenize(texts[2]), sep];
  assert.deepEqual(grouped.flatMap((r) => r.ids), stream);
  assert.ok(grouped.slice(0, -1).every((r) => r.ids.length === 4));
  assert.throws(() => mlmExamples(tokenizer, texts, { maxLength: 2 }), /maxLength/);
});
