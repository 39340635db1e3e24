/**
 * SST-2 benchmark (issue 2's "the core learns on real data"): a small BERT with a WordPiece vocabulary learned
 * from the training sentences, randomly initialised, fine-tuned briefly on a subset of
 * ../shared/data/sst2_train_8k.tsv and evaluated on the full dev split. Printed side by side with the
 * majority-class baseline from the same data; also the training speed with the backend named.
 * Options: --train-rows N (default 4000), --epochs N (default 2).
 */
import {
  BERT_DEFAULTS,
  classifyTexts,
  fineTuneSequenceClassifier,
  initBertForSequenceClassification,
  prepareBackend,
  TextTokenizer,
} from "../shared/core/mod.ts";
import { hyperparametersSchema } from "../shared/schemas/hyperparameters.ts";
import { readTable } from "../shared/data/mod.ts";

const DATA = new URL("../../shared/data/", import.meta.url);

export async function readLabelledTsv(name: string, textColumn: string, labelColumn: string) {
  const file = await Deno.open(new URL(name, DATA));
  const texts: string[] = [], labels: string[] = [];
  for await (const { row } of readTable(file.readable, "tsv")) {
    texts.push(row[textColumn].trim());
    labels.push(row[labelColumn].trim());
  }
  return { texts, labels };
}

function option(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
}

export async function run(args: string[]): Promise<void> {
  const backend = await prepareBackend({
    preference: Deno.env.get("EDGETUNE_BACKEND"),
    native: Deno.env.get("EDGETUNE_NATIVE") !== "off",
  });
  const trainRows = option(args, "train-rows", 4000);
  const epochs = option(args, "epochs", 2);
  const train = await readLabelledTsv("sst2_train_8k.tsv", "sentence", "label");
  const dev = await readLabelledTsv("sst2_dev.tsv", "sentence", "label");
  const labelNames = ["0", "1"];
  const toIds = (labels: string[]) => labels.map((l) => labelNames.indexOf(l));

  const tokenizer = TextTokenizer.trainWordPiece(train.texts, { vocabSize: 4000, lowercase: true });
  const config = {
    ...BERT_DEFAULTS,
    vocab_size: tokenizer.vocabSize,
    hidden_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 512,
    max_position_embeddings: 128,
  };
  const model = initBertForSequenceClassification(config, 2, 1);
  const hyperparameters = hyperparametersSchema.parse({
    learning_rate: 1e-3,
    epochs,
    batch_size: 32,
    max_seq_length: 64,
    warmup_ratio: 0.1,
    seed: 1,
  });
  const started = performance.now();
  let examplesPerSecond = 0;
  await fineTuneSequenceClassifier({
    model,
    tokenizer,
    train: { texts: train.texts.slice(0, trainRows), labels: toIds(train.labels.slice(0, trainRows)) },
    validation: null,
    hyperparameters,
    onEvent: (event) => {
      if (event.type === "step") examplesPerSecond = event.examples_per_second;
    },
    shouldStop: () => false,
  });
  const seconds = (performance.now() - started) / 1000;
  const probabilities = await classifyTexts(model, tokenizer, dev.texts, { maxLength: 64 });
  const predictions = probabilities.map((p) => (p[1] > p[0] ? 1 : 0));
  const gold = toIds(dev.labels);
  const accuracy = predictions.filter((p, i) => p === gold[i]).length / gold.length;
  const positives = gold.filter((g) => g === 1).length;
  const majority = Math.max(positives, gold.length - positives) / gold.length;
  model.dispose();

  console.log(
    `backend ${backend.label}; model: BERT 2x128, vocab ${tokenizer.vocabSize} learned from SST-2 train`,
  );
  console.log(
    `train ${trainRows} rows x ${epochs} epochs in ${seconds.toFixed(1)} s (${
      examplesPerSecond.toFixed(1)
    } ex/s)`,
  );
  console.log("| SST-2 dev (872) | accuracy |");
  console.log("|---|---|");
  console.log(`| majority class | ${majority.toFixed(4)} |`);
  console.log(`| edgetune, random init, short run | ${accuracy.toFixed(4)} |`);
  console.log(`ratio to majority: ${(accuracy / majority).toFixed(3)}`);
}

if (import.meta.main) await run(Deno.args);
