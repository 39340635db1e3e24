/**
 * Pre-training benchmark (issue 3's "fine-tuning results from a small base model the platform pre-trained
 * itself with masked-lm versus the same model from random init"). A small BERT with a WordPiece vocabulary
 * learned from the pre-training text is pre-trained with the masked-LM task on ../shared/data WikiText-2
 * (validation split, detokenized) plus the SST-2 and TREC training texts (domain-adaptive; the TREC questions
 * held out for evaluation are left out), then fine-tuned twice with the same recipe and seed — (a) from the
 * pre-trained encoder, (b) from random init — on SST-2 (a subset of sst2_train_8k → full sst2_dev) and TREC
 * (coarse labels, the part before ':'; a seeded 10% of trec_train_5500 held out). Prints accuracy side by side
 * with the majority class, the MLM held-out perplexity / masked-token accuracy before and after pre-training,
 * and training examples/s with the backend label.
 * Options: --pretrain-epochs N (default 12), --block N (pre-training sequence length, default 64),
 * --pretrain-lr X (default 1e-3), --pretrain-dropout X (default 0), --train-rows N (SST-2 subset, default
 * 4000), --epochs N (fine-tuning, default 3), --layers N (default 2), --hidden N (default 128), --quick (a
 * minutes-long smoke run).
 */
import { prepareBackend } from "../shared/core/backend/prepare.ts";
import {
  BERT_DEFAULTS,
  type BertConfig,
  classifyTexts,
  fineTuneSequenceClassifier,
  initBertForSequenceClassification,
  loadBertForSequenceClassification,
  shuffledIndices,
  TextTokenizer,
} from "../shared/core/mod.ts";
import { initBertForMaskedLM, maskedLmStateDict } from "../shared/core/model/mlm_head.ts";
import { mlmExamples, tokenCount } from "../shared/core/tasks/mlm/examples.ts";
import { MaskedLmTask } from "../shared/core/tasks/mlm/task.ts";
import { train } from "../shared/core/train/trainer.ts";
import { hyperparametersSchema } from "../shared/schemas/hyperparameters.ts";
import { readLabelledTsv } from "./sst2.ts";

const DATA = new URL("../../shared/data/", import.meta.url);
const SEED = 13;

function option(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
}

/** WikiText-2 paragraphs with its escapes undone (`@-@` → `-`), `<unk>` dropped, headings skipped. */
async function wikitextParagraphs(): Promise<string[]> {
  const text = await Deno.readTextFile(new URL("wikitext2_valid.tokens", DATA));
  return text.split("\n").map((line) => line.trim())
    .filter((line) => line !== "" && !/^=.*=$/.test(line))
    .map((line) => line.replace(/ @(.)@ /g, "$1").replace(/<unk>/g, "").replace(/\s+/g, " ").trim());
}

/** TREC train_5500 with coarse labels, split into a seeded 90% train / 10% held-out. */
async function trecSplit() {
  const lines = (await Deno.readTextFile(new URL("trec_train_5500.label", DATA))).split("\n").filter(Boolean);
  const rows = lines.map((line) => {
    const space = line.indexOf(" ");
    return { label: line.slice(0, line.indexOf(":")), text: line.slice(space + 1).trim() };
  });
  const order = shuffledIndices(rows.length, SEED);
  const heldOut = Math.round(rows.length * 0.1);
  return {
    train: order.slice(heldOut).map((i) => rows[i]),
    test: order.slice(0, heldOut).map((i) => rows[i]),
  };
}

interface LabelledSet {
  texts: string[];
  labels: string[];
}

interface FineTuneOutcome {
  accuracy: number;
  examplesPerSecond: number;
  seconds: number;
}

/** Fine-tunes one classifier (from `encoder` weights, or random init when null) and scores the test set. */
async function fineTuneAndScore(
  config: BertConfig,
  tokenizer: TextTokenizer,
  encoder: ReturnType<typeof maskedLmStateDict> | null,
  trainSet: LabelledSet,
  testSet: LabelledSet,
  epochs: number,
): Promise<FineTuneOutcome> {
  const labelNames = [...new Set(trainSet.labels)].sort();
  const toIds = (labels: string[]) => labels.map((l) => labelNames.indexOf(l));
  const model = encoder
    ? loadBertForSequenceClassification(config, encoder, labelNames.length, SEED).model
    : initBertForSequenceClassification(config, labelNames.length, SEED);
  const hyperparameters = hyperparametersSchema.parse({
    learning_rate: 5e-4,
    epochs,
    batch_size: 32,
    max_seq_length: 64,
    warmup_ratio: 0.1,
    seed: SEED,
  });
  let examples = 0, busy = 0;
  const started = performance.now();
  await fineTuneSequenceClassifier({
    model,
    tokenizer,
    train: { texts: trainSet.texts, labels: toIds(trainSet.labels) },
    validation: null,
    hyperparameters,
    onEvent: (event) => {
      if (event.type !== "step") return;
      examples += Math.min(hyperparameters.batch_size, trainSet.texts.length);
      busy += Math.min(hyperparameters.batch_size, trainSet.texts.length) / event.examples_per_second;
    },
    shouldStop: () => false,
  });
  const seconds = (performance.now() - started) / 1000;
  const probabilities = await classifyTexts(model, tokenizer, testSet.texts, { maxLength: 64 });
  const gold = toIds(testSet.labels);
  const correct = probabilities.filter((p, i) => p.indexOf(Math.max(...p)) === gold[i]).length;
  model.dispose();
  return { accuracy: correct / gold.length, examplesPerSecond: examples / busy, seconds };
}

function majority(trainLabels: string[], testLabels: string[]): number {
  const counts = new Map<string, number>();
  for (const l of trainLabels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1])[0][0];
  return testLabels.filter((l) => l === top).length / testLabels.length;
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes("--quick");
  const backend = await prepareBackend({ preference: Deno.env.get("EDGETUNE_BACKEND"), buildNative: true });
  const pretrainEpochs = option(args, "pretrain-epochs", quick ? 1 : 12);
  const trainRows = option(args, "train-rows", quick ? 800 : 4000);
  const epochs = option(args, "epochs", quick ? 1 : 3);
  const layers = option(args, "layers", 2);
  const hidden = option(args, "hidden", 128);
  const block = option(args, "block", 64);
  const pretrainLr = option(args, "pretrain-lr", 1e-3);
  const pretrainDropout = option(args, "pretrain-dropout", 0);
  const progress = (message: string) => console.error(`[pretrain bench] ${message}`);

  const sst2Train = await readLabelledTsv("sst2_train_8k.tsv", "sentence", "label");
  const sst2Dev = await readLabelledTsv("sst2_dev.tsv", "sentence", "label");
  const trec = await trecSplit();
  let wiki = await wikitextParagraphs();
  if (quick) wiki = wiki.slice(0, 300);
  const corpus = [...wiki, ...sst2Train.texts, ...trec.train.map((r) => r.text)];

  const tokenizer = TextTokenizer.trainWordPiece(corpus, { vocabSize: 8000, lowercase: true });
  const config: BertConfig = {
    ...BERT_DEFAULTS,
    vocab_size: tokenizer.vocabSize,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: Math.max(1, hidden / 32),
    intermediate_size: hidden * 4,
    max_position_embeddings: 128,
  };

  // Pre-training: HF run_mlm's layout (texts joined and cut into `block`-token blocks), 2% held out.
  const blocks = mlmExamples(tokenizer, corpus, { maxLength: block, layout: "concatenate" });
  const order = shuffledIndices(blocks.length, SEED);
  const heldOutCount = Math.max(1, Math.round(blocks.length * 0.02));
  const mlmHeldOut = order.slice(0, heldOutCount).map((i) => blocks[i]);
  const mlmTrain = order.slice(heldOutCount).map((i) => blocks[i]);
  const mlm = initBertForMaskedLM(config, SEED);
  const task = new MaskedLmTask(mlm, tokenizer, {
    evalSeed: SEED,
    dropout: { hidden: pretrainDropout, attention: pretrainDropout },
  });
  const before = await task.evaluate(mlmHeldOut, { batchSize: 64, labelSmoothing: 0 });
  let pretrainBusy = 0, pretrainExamples = 0;
  const pretrainHp = hyperparametersSchema.parse({
    learning_rate: pretrainLr,
    epochs: pretrainEpochs,
    batch_size: 32,
    max_seq_length: block,
    warmup_ratio: 0.06,
    hidden_dropout: pretrainDropout,
    attention_dropout: pretrainDropout,
    seed: SEED,
  });
  progress(
    `pre-training ${mlmTrain.length} blocks x ${pretrainEpochs} epochs; held-out ${JSON.stringify(before)}`,
  );
  const pretrainStarted = performance.now();
  await train({
    task,
    train: mlmTrain,
    validation: mlmHeldOut,
    hyperparameters: pretrainHp,
    onEvent: (event) => {
      if (event.type === "eval") progress(`epoch ${event.epoch}: ${JSON.stringify(event.metrics)}`);
      if (event.type !== "step") return;
      const size = Math.min(pretrainHp.batch_size, mlmTrain.length);
      pretrainExamples += size;
      pretrainBusy += size / event.examples_per_second;
    },
    shouldStop: () => false,
  });
  const pretrainSeconds = (performance.now() - pretrainStarted) / 1000;
  const after = await task.evaluate(mlmHeldOut, { batchSize: 64, labelSmoothing: 0 });
  const encoder = maskedLmStateDict(mlm);
  mlm.dispose();

  const sst2Subset = {
    texts: sst2Train.texts.slice(0, trainRows),
    labels: sst2Train.labels.slice(0, trainRows),
  };
  const trecTrain = { texts: trec.train.map((r) => r.text), labels: trec.train.map((r) => r.label) };
  const trecTest = { texts: trec.test.map((r) => r.text), labels: trec.test.map((r) => r.label) };
  const results: Record<string, { random: FineTuneOutcome; pretrained: FineTuneOutcome; majority: number }> =
    {};
  for (
    const [name, trainSet, testSet] of [
      [`SST-2 dev (${sst2Dev.texts.length})`, sst2Subset, sst2Dev],
      [`TREC-6 held-out (${trecTest.texts.length})`, trecTrain, trecTest],
    ] as const
  ) {
    const random = await fineTuneAndScore(config, tokenizer, null, trainSet, testSet, epochs);
    progress(`${name} random init: ${JSON.stringify(random)}`);
    const pretrained = await fineTuneAndScore(config, tokenizer, encoder, trainSet, testSet, epochs);
    progress(`${name} pre-trained: ${JSON.stringify(pretrained)}`);
    results[name] = { random, pretrained, majority: majority(trainSet.labels, testSet.labels) };
  }

  console.log(
    `backend ${backend.label}; model: BERT ${layers}x${hidden}, vocab ${tokenizer.vocabSize} learned from ` +
      "the pre-training text",
  );
  console.log(
    `pre-training (masked-lm, 15% / 80-10-10): ${mlmTrain.length} blocks of ≤${block} tokens ` +
      `(${
        tokenCount(mlmTrain)
      } tokens: WikiText-2 valid + SST-2 train + TREC train) x ${pretrainEpochs} epochs ` +
      `(lr ${pretrainLr}, dropout ${pretrainDropout}) in ${pretrainSeconds.toFixed(0)} s, ${
        (pretrainExamples / pretrainBusy).toFixed(1)
      } ex/s ` +
      `(${((pretrainExamples / pretrainBusy) * tokenCount(mlmTrain) / mlmTrain.length).toFixed(0)} tokens/s)`,
  );
  console.log(
    `MLM held-out (${mlmHeldOut.length} blocks): perplexity ${before.perplexity.toFixed(1)} → ` +
      `${after.perplexity.toFixed(1)}, masked-token accuracy ${before.accuracy.toFixed(3)} → ` +
      `${after.accuracy.toFixed(3)}`,
  );
  console.log(
    `fine-tuning recipe (both columns): lr 5e-4, batch 32, ${epochs} epochs, max_seq_length 64, seed ${SEED}; ` +
      `SST-2 on the first ${trainRows} training rows, TREC-6 on ${trecTrain.texts.length} rows`,
  );
  console.log(
    "| test set | majority class | random init | pre-trained (masked-lm) | ratio | fine-tune ex/s |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const [name, r] of Object.entries(results)) {
    console.log(
      `| ${name} | ${r.majority.toFixed(4)} | ${r.random.accuracy.toFixed(4)} | ` +
        `${r.pretrained.accuracy.toFixed(4)} | ${(r.pretrained.accuracy / r.random.accuracy).toFixed(3)} | ` +
        `${r.random.examplesPerSecond.toFixed(0)} / ${r.pretrained.examplesPerSecond.toFixed(0)} |`,
    );
  }
}

if (import.meta.main) await run(Deno.args);
