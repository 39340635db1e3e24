/**
 * Seq2seq fine-tuning end to end on real data: a tiny T5 (2+2 layers, d_model 32) with a WordPiece vocabulary
 * learned from both sides of 56 Multi30k English→German pairs trains for a few epochs through
 * fineTuneSeq2Seq and the generic loop; the held-out eval_loss falls, perplexity = exp(NLL), the evaluation
 * translates held-out sources and reports BLEU and chrF, greedy batching gives the same tokens as one row at
 * a time, and bad input (empty set, empty target, a tokenizer larger than the model) is a 400.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../shared/core/backend.ts";
import { initT5 } from "../../shared/core/model/t5_load.ts";
import { GenerationTokenizer } from "../../shared/core/tokenizer/generation_tokenizer.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { generate } from "../../shared/core/generate/generate.ts";
import {
  fineTuneSeq2Seq,
  greedyTranslate,
  seq2seqTask,
  translateExamples,
} from "../../shared/core/train/seq2seq.ts";
import { prepareTranslationExamples, type TranslationPair } from "../../shared/core/train/seq2seq_data.ts";
import type { TrainEvent } from "../../shared/core/train/trainer.ts";
import { hyperparametersSchema } from "../../shared/schemas/hyperparameters.ts";
import { ApiError } from "../../shared/schemas/errors.ts";

await initBackend("wasm");

const lines = (path: string) => Deno.readTextFileSync(new URL(path, import.meta.url)).split("\n");
const en = lines("../../../shared/data/multi30k_train10k.en");
const de = lines("../../../shared/data/multi30k_train10k.de");
const pairs: TranslationPair[] = en.slice(0, 56).map((source, i) => ({ source, target: de[i] }));
const trainPairs = pairs.slice(0, 48);
const heldOut = pairs.slice(48);
const textTokenizer = TextTokenizer.trainWordPiece(pairs.flatMap((p) => [p.source, p.target]), {
  vocabSize: 300,
  minFrequency: 1,
});
const tokenizer = GenerationTokenizer.fromTokenizerJson(textTokenizer.toTokenizerJson());
const CONFIG = {
  model_type: "t5",
  vocab_size: tokenizer.vocabSize,
  d_model: 32,
  d_kv: 8,
  num_heads: 4,
  d_ff: 64,
  num_layers: 2,
  num_decoder_layers: 2,
  relative_attention_num_buckets: 16,
  relative_attention_max_distance: 64,
  dropout_rate: 0.0,
  pad_token_id: tokenizer.padTokenId,
  eos_token_id: tokenizer.eosTokenId,
  decoder_start_token_id: tokenizer.padTokenId,
};
const generation = { rows: 4, numBeams: 1, maxNewTokens: 12 };

Deno.test("a tiny T5 fine-tuned on Multi30k pairs lowers the held-out loss and reports BLEU/chrF", async () => {
  const model = initT5(CONFIG, 5);
  const task = seq2seqTask(model, tokenizer, { evalGeneration: generation });
  const validation = prepareTranslationExamples(tokenizer, heldOut, {
    maxSourceLength: 48,
    maxTargetLength: 48,
    decoderStartTokenId: model.decoderStartTokenId,
  });
  // Scored as the trainer will score it (label smoothing 0.1 in eval_loss; perplexity is always unsmoothed).
  const before = await task.evaluate(validation, { batchSize: 8, labelSmoothing: 0.1 });
  const plain = await task.evaluate(validation, { batchSize: 8, labelSmoothing: 0 });
  const events: TrainEvent[] = [];
  const hp = hyperparametersSchema.parse({
    learning_rate: 1e-2,
    epochs: 5,
    batch_size: 8,
    max_seq_length: 48,
    warmup_ratio: 0,
    weight_decay: 0,
    seed: 1,
    label_smoothing: 0.1,
  });
  const result = await fineTuneSeq2Seq({
    model,
    tokenizer,
    train: trainPairs,
    validation: heldOut,
    hyperparameters: hp,
    onEvent: (e) => void events.push(e),
    shouldStop: () => false,
    evalGeneration: generation,
  });
  assert.equal(result.status, "completed");
  assert.equal(result.steps, 5 * 6);
  const after = result.metrics;
  assert.ok(after.eval_loss < before.eval_loss - 1, `eval_loss ${before.eval_loss} → ${after.eval_loss}`);
  assert.ok(
    after.perplexity < before.perplexity / 3,
    `perplexity ${before.perplexity} → ${after.perplexity}`,
  );
  assert.ok(
    Math.abs(Math.log(plain.perplexity) - plain.eval_loss) < 1e-4,
    "perplexity = exp(unsmoothed loss)",
  );
  assert.ok(before.eval_loss > plain.eval_loss, "smoothing adds the ε-weighted uniform term");
  assert.equal(before.perplexity, plain.perplexity);
  for (const key of ["bleu", "chrf", "gen_len"]) {
    assert.ok(Number.isFinite(after[key]) && after[key] >= 0, `${key}: ${after[key]}`);
  }
  assert.ok(after.chrf > 0, "some characters of the translations match");
  assert.ok(events.filter((e) => e.type === "eval").length >= 5);
  model.dispose();
});

Deno.test("batched greedy decoding gives each row the tokens it gets alone", () => {
  const model = initT5(CONFIG, 9);
  const sources = prepareTranslationExamples(tokenizer, heldOut.slice(0, 3), {
    maxSourceLength: 48,
    maxTargetLength: 48,
    decoderStartTokenId: 0,
  }).map((e) => e.inputIds);
  const before = tf.memory().numTensors;
  const batched = greedyTranslate(model, sources, 8);
  const alone = sources.map((s) => greedyTranslate(model, [s], 8)[0]);
  assert.equal(tf.memory().numTensors, before, "no leaked tensors");
  assert.deepEqual(batched, alone);
  assert.ok(batched.every((ids) => ids.length > 0 && ids.length <= 8));
  model.dispose();
});

Deno.test("generate() over T5 (cached and uncached, greedy and beam) agrees with greedyTranslate", async () => {
  const model = initT5(CONFIG, 9);
  const examples = prepareTranslationExamples(tokenizer, heldOut.slice(0, 2), {
    maxSourceLength: 48,
    maxTargetLength: 48,
    decoderStartTokenId: 0,
  });
  const greedy = greedyTranslate(model, examples.map((e) => e.inputIds), 8);
  for (const [i, example] of examples.entries()) {
    const expected = greedy[i].filter((id) => id !== model.eosTokenId);
    for (const useCache of [true, false]) {
      const result = await generate(model, example.inputIds, { maxNewTokens: 8, useCache });
      assert.deepEqual(result.sequences[0].tokens, expected, `row ${i}, useCache ${useCache}`);
    }
  }
  const beams = await translateExamples(model, tokenizer, examples, {
    numBeams: 3,
    maxNewTokens: 8,
    batchSize: 2,
  });
  assert.equal(beams.texts.length, 2);
  assert.ok(beams.lengths.every((n) => n <= 8), `beam lengths ${beams.lengths}`);
  model.dispose();
});

Deno.test("fineTuneSeq2Seq refuses bad input with 400s", async () => {
  const model = initT5(CONFIG, 1);
  const small = initT5({ ...CONFIG, vocab_size: 20 }, 1);
  const base = {
    model,
    tokenizer,
    validation: null,
    hyperparameters: hyperparametersSchema.parse({ epochs: 1 }),
    onEvent: () => {},
    shouldStop: () => false,
  };
  const is400 = (pattern: RegExp) => (e: unknown) =>
    e instanceof ApiError && e.status === 400 && pattern.test(e.message);
  await assert.rejects(fineTuneSeq2Seq({ ...base, train: [] }), is400(/training set is empty/));
  await assert.rejects(
    fineTuneSeq2Seq({ ...base, train: trainPairs, validation: [{ source: "a dog", target: "" }] }),
    is400(/validation set: row 0 has an empty target/),
  );
  await assert.rejects(
    fineTuneSeq2Seq({ ...base, model: small, train: trainPairs }),
    is400(/vocab_size is 20/),
  );
  model.dispose();
  small.dispose();
});

Deno.test("a forced first token (target language code): greedyTranslate keeps it, generate() forces it too", async () => {
  const model = initT5(CONFIG, 9);
  const examples = prepareTranslationExamples(tokenizer, heldOut.slice(0, 2), {
    maxSourceLength: 48,
    maxTargetLength: 48,
    decoderStartTokenId: 0,
  });
  const forced = 5;
  const greedy = greedyTranslate(model, examples.map((e) => e.inputIds), 6, forced);
  const free = greedyTranslate(model, examples.map((e) => e.inputIds), 6, null);
  assert.ok(greedy.every((ids) => ids[0] === forced), "every row starts with the forced token");
  assert.notDeepEqual(greedy.map((ids) => ids.slice(1)), free.map((ids) => ids.slice(0, -1)));
  for (const [i, example] of examples.entries()) {
    const result = await generate(model, example.inputIds, { maxNewTokens: 5, forcedBosTokenId: forced });
    // generate() feeds the forced token as part of the decoder prefix and returns what follows it.
    const expected = greedy[i].slice(1).filter((id) => id !== model.eosTokenId);
    assert.deepEqual(result.sequences[0].tokens, expected.slice(0, result.sequences[0].tokens.length));
  }
  model.dispose();
});
