/**
 * Causal LM fine-tuning: example preparation (packing with EOS or "\n" joins, one truncated example per
 * text, prompt/completion pairs with -100 exactly on the prompt), the TrainingTask's loss against a
 * hand-computed shifted cross-entropy (label smoothing included, ignored labels skipped), param groups from
 * the model's layerOf, and a tiny GPT-2 on Tiny Shakespeare blocks whose eval perplexity falls.
 */
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/backend.ts";
import { initGpt2 } from "../../shared/core/model/gpt2_load.ts";
import { GenerationTokenizer } from "../../shared/core/tokenizer/generation_tokenizer.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { causalLmTask, fineTuneCausalLm } from "../../shared/core/train/causal_lm.ts";
import { IGNORE_INDEX, prepareCausalLmExamples } from "../../shared/core/train/causal_lm_data.ts";
import type { TrainEvent } from "../../shared/core/train/trainer.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import { hyperparametersSchema } from "../../shared/schemas/hyperparameters.ts";

await initBackend("wasm");

const shakespeare = Deno.readTextFileSync(
  new URL("../../../shared/data/tinyshakespeare.txt", import.meta.url),
);
const lines = shakespeare.split("\n").slice(0, 600);
const wordPiece = TextTokenizer.trainWordPiece(lines, { vocabSize: 300, lowercase: true });
const tokenizer = GenerationTokenizer.fromTokenizerJson(wordPiece.toTokenizerJson(), { do_lower_case: true });
const EOS = tokenizer.eosTokenId!;

Deno.test("packing joins documents with EOS (or a newline) and cuts full blocks", () => {
  const docs = ["first citizen speak", "you are all resolved", "we know it"];
  const ids = docs.map((d) => tokenizer.encode(d));
  const stream = ids.flatMap((d) => [...d, EOS]);
  const packed = prepareCausalLmExamples(tokenizer, docs, { blockSize: 4, packing: true, joinWith: "eos" });
  assert.equal(packed.examples.length, Math.floor(stream.length / 4));
  assert.deepEqual(packed.examples.flatMap((e) => e.inputIds), stream.slice(0, packed.examples.length * 4));
  assert.ok(packed.examples.every((e) => e.inputIds.length === 4 && e.labels.join() === e.inputIds.join()));
  const newline = prepareCausalLmExamples(tokenizer, docs, {
    blockSize: 3,
    packing: true,
    joinWith: "newline",
  });
  const joined = tokenizer.encode(docs.join("\n"));
  assert.deepEqual(
    newline.examples.flatMap((e) => e.inputIds),
    joined.slice(0, Math.floor(joined.length / 3) * 3),
  );
  assert.ok(!newline.examples.flatMap((e) => e.inputIds).includes(EOS));
  // A corpus shorter than one block is one short block.
  const short = prepareCausalLmExamples(tokenizer, ["we know it"], {
    blockSize: 64,
    packing: true,
    joinWith: "eos",
  });
  assert.deepEqual(short.examples.map((e) => e.inputIds), [[...tokenizer.encode("we know it"), EOS]]);
});

Deno.test("without packing: one example per text plus EOS, truncated to blockSize", () => {
  const texts = ["first citizen before we proceed any further hear me speak", "speak speak"];
  const data = prepareCausalLmExamples(tokenizer, texts, { blockSize: 5, packing: false, joinWith: "eos" });
  assert.equal(data.examples.length, 2);
  assert.deepEqual(data.examples[0].inputIds, tokenizer.encode(texts[0]).slice(0, 5));
  assert.deepEqual(data.examples[1].inputIds, [...tokenizer.encode(texts[1]), EOS]);
  assert.equal(data.truncated, 1);
});

Deno.test("prompt/completion: -100 exactly on the prompt, EOS appended to the completion", () => {
  const rows = [{ prompt: "first citizen", completion: "speak speak" }, {
    prompt: "you are all",
    completion: "resolved",
  }];
  const data = prepareCausalLmExamples(tokenizer, rows, {
    blockSize: 32,
    packing: true,
    joinWith: "eos",
    promptCompletion: true,
  });
  rows.forEach((row, i) => {
    const prompt = tokenizer.encode(row.prompt);
    const completion = [...tokenizer.encode(row.completion), EOS];
    assert.deepEqual(data.examples[i].inputIds, [...prompt, ...completion]);
    assert.deepEqual(data.examples[i].labels, [...prompt.map(() => IGNORE_INDEX), ...completion]);
  });
  // A prompt that fills the block leaves nothing to learn: skipped and counted.
  const long = prepareCausalLmExamples(tokenizer, [{
    prompt: "first citizen before we proceed",
    completion: "x",
  }], {
    blockSize: 3,
    packing: false,
    joinWith: "eos",
    promptCompletion: true,
  });
  assert.deepEqual([long.examples.length, long.skipped], [0, 1]);
  assert.throws(
    () =>
      prepareCausalLmExamples(tokenizer, ["plain"], {
        blockSize: 8,
        packing: false,
        joinWith: "eos",
        promptCompletion: true,
      }),
    (e) => e instanceof ApiError && e.status === 400,
  );
});

Deno.test("the task's loss is the shifted cross-entropy over non-ignored labels, label smoothing honoured", () => {
  const model = initGpt2({
    model_type: "gpt2",
    vocab_size: 12,
    n_positions: 8,
    n_embd: 8,
    n_layer: 1,
    n_head: 2,
  }, 1);
  const task = causalLmTask(model);
  const examples = [
    { inputIds: [1, 2, 3, 4], labels: [IGNORE_INDEX, IGNORE_INDEX, 3, 4] },
    { inputIds: [5, 6], labels: [5, 6] },
  ];
  const manual = (smoothing: number) => {
    let sum = 0;
    let count = 0;
    for (const e of examples) {
      const ids = tf.tensor2d([e.inputIds], undefined, "int32");
      const logits = model.forward(ids, tf.onesLike(ids), { training: false });
      const logProbs = tf.logSoftmax(logits).arraySync() as number[][];
      for (let t = 0; t + 1 < e.inputIds.length; t++) {
        if (e.labels[t + 1] === IGNORE_INDEX) continue;
        const nll = -logProbs[t][e.labels[t + 1]];
        const smooth = -logProbs[t].reduce((a, b) => a + b, 0) / logProbs[t].length;
        sum += (1 - smoothing) * nll + smoothing * smooth;
        count++;
      }
      tf.dispose([ids, logits]);
    }
    return sum / count;
  };
  for (const smoothing of [0, 0.1]) {
    const loss = task.loss(examples, { training: false, seed: 1, labelSmoothing: smoothing });
    assert.ok(Math.abs(loss.dataSync()[0] - manual(smoothing)) < 1e-5, `smoothing ${smoothing}`);
    loss.dispose();
  }
  assert.equal(task.layerOf!("transformer.h.0.attn.c_attn.weight"), 1);
  assert.equal(task.params.size, model.params.size);
  model.dispose();
});

Deno.test("fine-tuning a tiny GPT-2 on Tiny Shakespeare blocks lowers eval perplexity", async () => {
  const text = lines.join("\n");
  const model = initGpt2({
    model_type: "gpt2",
    vocab_size: tokenizer.vocabSize,
    n_positions: 32,
    n_embd: 32,
    n_layer: 2,
    n_head: 2,
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
  }, 7);
  const heldOut = text.slice(0, 1200);
  const options = { blockSize: 32, packing: true, joinWith: "newline" } as const;
  const validation = prepareCausalLmExamples(tokenizer, [heldOut], options).examples;
  const before = await causalLmTask(model).evaluate(validation, { batchSize: 8, labelSmoothing: 0 });
  const events: TrainEvent[] = [];
  const result = await fineTuneCausalLm({
    model,
    tokenizer,
    train: [text.slice(0, 6000)],
    validation: [heldOut],
    data: { packing: true, joinWith: "newline" },
    hyperparameters: hyperparametersSchema.parse({
      learning_rate: 5e-3,
      epochs: 2,
      batch_size: 8,
      max_seq_length: 32,
      warmup_ratio: 0,
      weight_decay: 0,
      seed: 3,
    }),
    onEvent: (e) => void events.push(e),
    shouldStop: () => false,
  });
  assert.equal(result.status, "completed");
  const evals = events.filter((e) => e.type === "eval");
  assert.equal(evals.length, 2);
  const after = result.metrics.perplexity;
  console.log(`perplexity ${before.perplexity.toFixed(1)} → ${after.toFixed(1)} in ${result.steps} steps`);
  assert.ok(after < before.perplexity * 0.6, `perplexity ${before.perplexity} → ${after}`);
  assert.ok(Math.abs(Math.log(after) - result.metrics.eval_loss) < 1e-9);
  model.dispose();
});

Deno.test("freezing uses the model's layers: embeddings and block 0 stay, block 1 and ln_f train", async () => {
  const model = initGpt2({
    model_type: "gpt2",
    vocab_size: tokenizer.vocabSize,
    n_positions: 16,
    n_embd: 16,
    n_layer: 2,
    n_head: 2,
  }, 2);
  const snapshot = () =>
    new Map([...model.params].map(([name, v]) => [name, Float32Array.from(v.dataSync())]));
  const before = snapshot();
  await fineTuneCausalLm({
    model,
    tokenizer,
    train: [{ prompt: "first citizen", completion: "speak speak" }, {
      prompt: "you are",
      completion: "resolved",
    }],
    validation: null,
    hyperparameters: hyperparametersSchema.parse({
      learning_rate: 1e-2,
      epochs: 1,
      batch_size: 2,
      warmup_ratio: 0,
      freeze_embeddings: true,
      freeze_layers: 1,
    }),
    onEvent: () => {},
    shouldStop: () => false,
  });
  const after = snapshot();
  const changed = [...before.keys()].filter((name) =>
    before.get(name)!.some((x, i) => x !== after.get(name)![i])
  );
  assert.ok(changed.length > 0);
  assert.ok(changed.every((name) => /^transformer\.(h\.1\.|ln_f\.)/.test(name)), `changed: ${changed}`);
  assert.ok(changed.some((name) => name.startsWith("transformer.h.1.")));
  model.dispose();
});
