/**
 * Task-breadth benchmark (issue 6): ONE small BERT that the platform pre-trains itself — a WordPiece vocabulary
 * learned from WikiText-2 (validation split) plus every task's training texts, then masked-LM pre-training
 * for a fixed budget on the same text — exported as a HF BertForMaskedLM folder (tasks/mlm/export.ts), read
 * back and fine-tuned with one fixed short recipe per task; every task is also fine-tuned with the same recipe
 * and seed from random init of the same shape. Tasks: SST-2 (accuracy), SMS spam with balanced class
 * weights (spam F1 / MCC), AG News (macro F1), STS-B (pearson / spearman), CoNLL-2003 NER (seqeval entity
 * F1) and SQuAD v1.1 (exact match / F1, articles 0–7 → 8–9). Prints one table with a trivial baseline where
 * one means something, both results and the seconds each fine-tune took, plus the wall time of every part.
 * Options: --pretrain-epochs N (default 2), --pretrain-blocks N (seeded sample of 64-token blocks, default
 * 12000), --epochs N (fine-tuning, default 3), --lr X (fine-tuning, default 1e-3), --layers N (default 2),
 * --hidden N (default 128), --only a,b (task keys: sst2, sms, ag, stsb, conll, squad), --quick (a smoke run
 * of under a minute).
 */
import { prepareBackend } from "../shared/core/backend/prepare.ts";
import { readSafetensors } from "../shared/core/checkpoint/safetensors.ts";
import { macroF1 } from "../shared/core/eval/metrics.ts";
import { BERT_DEFAULTS, type BertConfig, shuffledIndices, TextTokenizer } from "../shared/core/mod.ts";
import { initBertForMaskedLM } from "../shared/core/model/mlm_head.ts";
import { balancedClassWeights } from "../shared/core/tasks/class_weights.ts";
import { mlmExamples, tokenCount } from "../shared/core/tasks/mlm/examples.ts";
import { exportMaskedLmFolder } from "../shared/core/tasks/mlm/export.ts";
import { MaskedLmTask } from "../shared/core/tasks/mlm/task.ts";
import { detectScheme } from "../shared/core/tasks/tagging.ts";
import { tokenClassificationMetrics } from "../shared/core/train/token_classification.ts";
import { train } from "../shared/core/train/trainer.ts";
import { hyperparametersSchema } from "../shared/schemas/hyperparameters.ts";
import * as data from "./tasks_data.ts";
import { answer, classify, type Outcome, type Recipe, regress, type Start, tag } from "./tasks_recipes.ts";

const SEED = 13;

function option(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
}

const progress = (message: string) => console.error(`[tasks bench] ${message}`);
const clock = () => performance.now() / 1000;

/** One benchmark row: how to fine-tune from a start, and how to print its metric(s). */
interface TaskRow {
  key: string;
  task: string;
  metric: string;
  baseline: string;
  run: (start: Start) => Promise<Outcome>;
  show: (o: Outcome) => string;
}

const f4 = (x: number | undefined) => (x === undefined ? "?" : x.toFixed(4));
const f1pct = (x: number | undefined) => (x === undefined ? "?" : x.toFixed(1));
const sortedLabels = (labels: string[]) => [...new Set(labels)].sort();

function majorityLabel(labels: string[]): string {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0][0];
}

/** CoNLL's own baseline: every word gets its most frequent training tag (unseen words "O"). */
function memorisedTags(train: data.TaggedRows, test: data.TaggedRows): string[][] {
  const counts = new Map<string, Map<string, number>>();
  train.tokens.forEach((words, s) =>
    words.forEach((w, i) => {
      const byTag = counts.get(w) ?? new Map<string, number>();
      byTag.set(train.tags[s][i], (byTag.get(train.tags[s][i]) ?? 0) + 1);
      counts.set(w, byTag);
    })
  );
  return test.tokens.map((words) =>
    words.map((w) => {
      const byTag = counts.get(w);
      return byTag ? [...byTag].sort((a, b) => b[1] - a[1])[0][0] : "O";
    })
  );
}

export async function run(args: string[]): Promise<void> {
  const benchStarted = clock();
  const quick = args.includes("--quick");
  const backend = await prepareBackend({ preference: Deno.env.get("EDGETUNE_BACKEND"), buildNative: true });
  console.log(`backend ${backend.label}`);
  const pretrainEpochs = option(args, "pretrain-epochs", quick ? 1 : 2);
  const pretrainBlocks = option(args, "pretrain-blocks", quick ? 300 : 12000);
  const epochs = option(args, "epochs", quick ? 1 : 3);
  const learningRate = option(args, "lr", 1e-3);
  const layers = option(args, "layers", 2);
  const hidden = option(args, "hidden", 128);
  const block = 64;
  const onlyIndex = args.indexOf("--only");
  const only = onlyIndex >= 0 ? new Set(args[onlyIndex + 1].split(",")) : null;
  const scale = (n: number) => (quick ? Math.max(50, Math.round(n / 10)) : n);
  const times: [string, number][] = [];

  // Data (held-out splits fixed by SEED).
  let t = clock();
  const sst2 = await data.sst2(scale(2000));
  const sms = await data.smsSpam(SEED, 600, scale(1500));
  const ag = await data.agNews(SEED, 600, scale(1500));
  const stsb = await data.stsb(SEED, scale(2000), scale(800));
  const conll = await data.conll(SEED, scale(2000), scale(800));
  const squad = await data.squad(SEED, scale(700), scale(250));
  const wiki = await data.wikitextParagraphs();
  const corpus = [
    ...(quick ? wiki.slice(0, 300) : wiki),
    ...sst2.corpus,
    ...sms.corpus,
    ...ag.corpus,
    ...stsb.corpus,
    ...conll.corpus,
    ...squad.corpus,
  ];
  times.push(["read data", clock() - t]);

  // Tokenizer and model shape.
  t = clock();
  const tokenizer = TextTokenizer.trainWordPiece(corpus, { vocabSize: 8000, lowercase: false });
  const config: BertConfig = {
    ...BERT_DEFAULTS,
    vocab_size: tokenizer.vocabSize,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: Math.max(1, hidden / 32),
    intermediate_size: hidden * 4,
    max_position_embeddings: 128,
  };
  times.push(["WordPiece vocabulary", clock() - t]);

  // Pre-training: run_mlm's layout (texts joined, cut into 64-token blocks); a seeded sample of blocks.
  t = clock();
  const blocks = mlmExamples(tokenizer, corpus, { maxLength: block, layout: "concatenate" });
  const order = shuffledIndices(blocks.length, SEED);
  const heldOutCount = Math.min(200, Math.max(1, Math.round(blocks.length * 0.02)));
  const mlmHeldOut = order.slice(0, heldOutCount).map((i) => blocks[i]);
  const mlmTrain = order.slice(heldOutCount, heldOutCount + pretrainBlocks).map((i) => blocks[i]);
  const mlm = initBertForMaskedLM(config, SEED);
  const mlmTask = new MaskedLmTask(mlm, tokenizer, { evalSeed: SEED, dropout: { hidden: 0, attention: 0 } });
  const before = await mlmTask.evaluate(mlmHeldOut, { batchSize: 64, labelSmoothing: 0 });
  progress(`pre-training ${mlmTrain.length} of ${blocks.length} blocks x ${pretrainEpochs} epochs`);
  await train({
    task: mlmTask,
    train: mlmTrain,
    validation: null,
    hyperparameters: hyperparametersSchema.parse({
      learning_rate: 1e-3,
      epochs: pretrainEpochs,
      batch_size: 32,
      max_seq_length: block,
      warmup_ratio: 0.06,
      hidden_dropout: 0,
      attention_dropout: 0,
      seed: SEED,
    }),
    onEvent: () => {},
    shouldStop: () => false,
  });
  const after = await mlmTask.evaluate(mlmHeldOut, { batchSize: 64, labelSmoothing: 0 });
  // The base model as a job would publish it: the HF folder, read back.
  const folder = exportMaskedLmFolder(mlm, tokenizer);
  mlm.dispose();
  const configJson = JSON.parse(new TextDecoder().decode(folder["config.json"]));
  const tensors = readSafetensors(folder["model.safetensors"]);
  const pretrainSeconds = clock() - t;
  times.push(["masked-LM pre-training", pretrainSeconds]);
  progress(`pre-training done in ${pretrainSeconds.toFixed(0)} s: ${JSON.stringify(after)}`);

  const short: Recipe = { epochs, learningRate, batchSize: 32, maxSeqLength: 64 };
  const smsLabels = sortedLabels(sms.train.labels);
  const spam = smsLabels.indexOf("spam");
  const agLabels = sortedLabels(ag.train.labels);
  const agMajority = agLabels.indexOf(majorityLabel(ag.train.labels));
  const sst2Majority = majorityLabel(sst2.train.labels);
  const conllScheme = detectScheme([...conll.train.tags, ...conll.test.tags]);
  const memorised = tokenClassificationMetrics(
    conll.test.tags,
    memorisedTags(conll.train, conll.test),
    conllScheme,
  );
  const allRows: TaskRow[] = [
    {
      key: "sst2",
      task: `text-classification: SST-2 (${sst2.train.texts.length} → dev ${sst2.test.texts.length})`,
      metric: "accuracy",
      baseline: f4(sst2.test.labels.filter((l) => l === sst2Majority).length / sst2.test.labels.length),
      run: (start) => classify(start, short, sst2, sortedLabels(sst2.train.labels)),
      show: (o) => f4(o.metrics.accuracy),
    },
    {
      key: "sms",
      task:
        `text-classification: SMS spam, balanced weights (${sms.train.texts.length} → ${sms.test.texts.length})`,
      metric: "f1(spam) / mcc",
      baseline: "0.0000 / 0.0000",
      run: (start) =>
        classify(start, short, sms, smsLabels, balancedClassWeights(sms.train.labels, smsLabels)),
      show: (o) => `${f4(o.classF1?.[spam])} / ${f4(o.metrics.mcc)}`,
    },
    {
      key: "ag",
      task: `text-classification: AG News (${ag.train.texts.length} → ${ag.test.texts.length})`,
      metric: "macro_f1",
      baseline: f4(
        macroF1(
          ag.test.labels.map(() => agMajority),
          ag.test.labels.map((l) => agLabels.indexOf(l)),
          agLabels.length,
        ),
      ),
      run: (start) => classify(start, short, ag, agLabels),
      show: (o) => f4(o.metrics.macro_f1),
    },
    {
      key: "stsb",
      task: `text-regression: STS-B (${stsb.train.texts.length} → dev ${stsb.test.texts.length})`,
      metric: "pearson / spearman",
      baseline: "–",
      run: (start) => regress(start, short, stsb),
      show: (o) => `${f4(o.metrics.pearson)} / ${f4(o.metrics.spearman)}`,
    },
    {
      key: "conll",
      task:
        `token-classification: CoNLL-2003 NER (${conll.train.tokens.length} → testa ${conll.test.tokens.length})`,
      metric: "f1 (seqeval)",
      baseline: `${f4(memorised.f1)} (memorised tag)`,
      run: (start) => tag(start, short, conll),
      show: (o) => f4(o.metrics.f1),
    },
    {
      key: "squad",
      task:
        `question-answering: SQuAD v1.1 (${squad.train.length} q, art. 0–7 → ${squad.test.length} q, art. 8–9)`,
      metric: "exact_match / f1",
      baseline: "–",
      run: (start) => answer(start, { ...short, maxSeqLength: 128, docStride: 64 }, squad),
      show: (o) => `${f1pct(o.metrics.exact_match)} / ${f1pct(o.metrics.f1)}`,
    },
  ];
  const rows = allRows.filter((row) => !only || only.has(row.key));

  const results: { row: TaskRow; random: Outcome; pretrained: Outcome }[] = [];
  for (const row of rows) {
    t = clock();
    const random = await row.run({ configJson, tokenizer, tensors: null, seed: SEED });
    progress(`${row.key} random init: ${row.show(random)} in ${random.seconds.toFixed(0)} s`);
    const pretrained = await row.run({ configJson, tokenizer, tensors, seed: SEED });
    progress(`${row.key} pre-trained: ${row.show(pretrained)} in ${pretrained.seconds.toFixed(0)} s`);
    results.push({ row, random, pretrained });
    times.push([`fine-tune ${row.key} (both)`, clock() - t]);
  }

  console.log(
    `model: BERT ${layers}x${hidden} (${config.num_attention_heads} heads, FFN ${config.intermediate_size}), ` +
      `WordPiece vocab ${tokenizer.vocabSize} learned from WikiText-2 valid + the tasks' training texts`,
  );
  console.log(
    `pre-training (masked-lm 15%, 80-10-10): ${mlmTrain.length} blocks of ${block} tokens ` +
      `(${tokenCount(mlmTrain)} tokens, seeded sample of ${blocks.length}) x ${pretrainEpochs} epochs, ` +
      `lr 1e-3, batch 32; held-out perplexity ${before.perplexity.toFixed(0)} → ${
        after.perplexity.toFixed(1)
      }, ` +
      `masked-token accuracy ${before.accuracy.toFixed(3)} → ${after.accuracy.toFixed(3)}`,
  );
  console.log(
    `fine-tuning recipe (both columns, seed ${SEED}): lr ${learningRate}, batch 32, ${epochs} epochs, warmup 0.1, ` +
      `max_seq_length 64 (SQuAD 128, doc stride 64); metrics: the core task evaluators, once, on the held-out part after training`,
  );
  console.log(
    "| task | metric | trivial baseline | random init | pre-trained (masked-lm) | seconds (random / pre-trained) |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const { row, random, pretrained } of results) {
    console.log(
      `| ${row.task} | ${row.metric} | ${row.baseline} | ${row.show(random)} | ${row.show(pretrained)} | ` +
        `${random.seconds.toFixed(0)} / ${pretrained.seconds.toFixed(0)} |`,
    );
  }
  console.log(
    "baselines: majority class of the training labels (SMS: all ham; AG: macro F1 of one class); CoNLL: each " +
      "word's most frequent training tag",
  );
  console.log(
    `wall time: ${times.map(([part, s]) => `${part} ${s.toFixed(0)} s`).join(", ")}; total ${
      (clock() - benchStarted).toFixed(0)
    } s`,
  );
}

if (import.meta.main) await run(Deno.args);
