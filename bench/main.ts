/**
 * `deno task bench [name ...]`: runs the named benchmarks (all when none is named) and prints each one's
 * results next to its baseline from the same run, as ratios. Benchmarks measure; tests assert. Each entry
 * lives in its own module and exports a `run(args)` that prints its own table.
 */
const benchmarks: Record<
  string,
  { describe: string; load: () => Promise<{ run(args: string[]): Promise<void> }> }
> = {
  sst2: {
    describe: "SST-2: short fine-tune of a small model, dev accuracy vs the majority class",
    load: () => import("./sst2.ts"),
  },
  train: {
    describe: "training step speed: edgetune vs PyTorch on this CPU, same model and batches",
    load: () => import("./train.ts"),
  },
  serve: {
    describe:
      "serving: predictions/s and latency vs PyTorch eager (same model, same batching), 200-client load",
    load: () => import("./serve.ts"),
  },
  pretrain: {
    describe: "masked-lm pre-training then fine-tuning (SST-2, TREC) vs the same recipe from random init",
    load: () => import("./pretrain.ts"),
  },
  queue: {
    describe: "distributed platform: enqueue → running latency, S3 throughput, 1 vs 2 runner processes",
    load: () => import("./queue.ts"),
  },
  tasks: {
    describe:
      "task breadth: one self-pre-trained small BERT vs random init (SST-2, SMS, AG, STS-B, CoNLL, SQuAD)",
    load: () => import("./tasks.ts"),
  },
  generative: {
    describe:
      "generative: GPT-2 causal-lm perplexity and Marian en→de BLEU/chrF, untrained vs fine-tuned; generate() tok/s with vs without KV cache",
    load: () => import("./generative.ts"),
  },
};

const [first, ...rest] = Deno.args;
const names = first && !first.startsWith("-") ? [first] : Object.keys(benchmarks);
const args = first && !first.startsWith("-") ? rest : Deno.args;
for (const name of names) {
  const entry = benchmarks[name];
  if (!entry) {
    console.error(`unknown benchmark '${name}'; known: ${Object.keys(benchmarks).join(", ")}`);
    Deno.exit(2);
  }
  console.log(`\n=== bench ${name}: ${entry.describe} ===`);
  const module = await entry.load();
  await module.run(args);
}
