/**
 * Generative-models benchmark (issue 9): in one run, (a) causal-lm on Tiny Shakespeare — a small GPT-2 from
 * random init with a cased WordPiece vocabulary learned from the training paragraphs, fine-tuned briefly with
 * fineTuneCausalLm; held-out perplexity of the untrained vs the trained model on the same held-out blocks;
 * (b) translation on Multi30k en→de — a small Marian from random init with one WordPiece vocabulary over both
 * sides, fine-tuned with fineTuneSeq2Seq on a slice of multi30k_train10k; BLEU, chrF (greedy, against the raw
 * reference sentences) and eval_loss of the untrained vs the trained model on the same validation pairs;
 * (c) generation speed — generate() tokens/s with the KV cache on vs off (alternating runs, same inputs, same
 * number of new tokens) for both trained models, the ratio, and whether both paths gave identical tokens.
 * Prints the backend label and each part's wall time. Data: ../shared/data (read by path, never copied).
 * Options: --lm-paragraphs N (training paragraphs, default 6500 = all 90%), --lm-epochs N (default 1), --mt-pairs N
 * (training pairs, default 10000), --mt-epochs N (default 4), --eval-pairs N (default 200), --new-tokens N
 * (default 64), --rounds N (speed rounds, default 2), --quick (a smoke run of a minute or two).
 */
import { prepareBackend } from "../shared/core/backend/prepare.ts";
import type { CausalLanguageModel, Seq2SeqModel } from "../shared/core/generate/types.ts";
import { corpusBleu } from "../shared/core/metrics/bleu.ts";
import { corpusChrf } from "../shared/core/metrics/chrf.ts";
import { initGenerativeModel } from "../shared/core/model/generative_load.ts";
import { GenerationTokenizer } from "../shared/core/tokenizer/generation_tokenizer.ts";
import { TextTokenizer } from "../shared/core/tokenizer/text_tokenizer.ts";
import { causalLmTask, fineTuneCausalLm } from "../shared/core/train/causal_lm.ts";
import { prepareCausalLmExamples } from "../shared/core/train/causal_lm_data.ts";
import { fineTuneSeq2Seq, seq2seqTask, translateExamples } from "../shared/core/train/seq2seq.ts";
import { prepareTranslationExamples, type TranslationPair } from "../shared/core/train/seq2seq_data.ts";
import type { TrainEvent } from "../shared/core/train/trainer.ts";
import { hyperparametersSchema } from "../shared/schemas/hyperparameters.ts";
import { type CacheSpeed, measureCacheSpeed } from "./generative_speed.ts";

const DATA = new URL("../../shared/data/", import.meta.url);
const SEED = 7;
const BLOCK = 64;
const MAX_TARGET = 48;

function option(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
}

const progress = (message: string) => console.error(`[generative bench] ${message}`);
const seconds = (since: number) => (performance.now() - since) / 1000;

/** Training throughput from step events: examples and busy seconds. */
function stepCounter(batchSize: number) {
  const counter = {
    steps: 0,
    lastLoss: NaN,
    onEvent: (event: TrainEvent) => {
      if (event.type !== "step") return;
      counter.steps++;
      counter.lastLoss = event.loss;
      if (counter.steps % 25 === 0) progress(`step ${counter.steps}: loss ${event.loss.toFixed(3)}`);
    },
    batchSize,
  };
  return counter;
}

interface LmOutcome {
  vocab: number;
  params: number;
  trainBlocks: number;
  heldOutBlocks: number;
  epochs: number;
  steps: number;
  trainSeconds: number;
  before: Record<string, number>;
  after: Record<string, number>;
  speed: CacheSpeed;
  seconds: number;
}

async function causalLmPart(args: string[], quick: boolean): Promise<LmOutcome> {
  const started = performance.now();
  const text = await Deno.readTextFile(new URL("tinyshakespeare.txt", DATA));
  const paragraphs = text.split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean);
  const cut = Math.floor(paragraphs.length * 0.9);
  const trainTexts = paragraphs.slice(0, Math.min(cut, option(args, "lm-paragraphs", quick ? 300 : 6500)));
  const heldTexts = paragraphs.slice(cut);
  const wordPiece = TextTokenizer.trainWordPiece(paragraphs.slice(0, cut), {
    vocabSize: 4000,
    lowercase: false,
  });
  const tokenizer = GenerationTokenizer.fromTokenizerJson(wordPiece.toTokenizerJson(), {});
  const model = initGenerativeModel({
    model_type: "gpt2",
    vocab_size: tokenizer.vocabSize,
    n_positions: 128,
    n_embd: 128,
    n_layer: 2,
    n_head: 4,
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    bos_token_id: tokenizer.eosTokenId,
    eos_token_id: tokenizer.eosTokenId,
    pad_token_id: tokenizer.padTokenId,
  }, SEED) as CausalLanguageModel;
  const heldOut = prepareCausalLmExamples(tokenizer, heldTexts, {
    blockSize: BLOCK,
    packing: true,
    joinWith: "eos",
  }).examples.slice(0, quick ? 20 : 100);
  const task = causalLmTask(model);
  const before = await task.evaluate(heldOut, { batchSize: 32, labelSmoothing: 0 });
  progress(`causal-lm: untrained held-out ${JSON.stringify(before)}`);
  const epochs = option(args, "lm-epochs", 1);
  const hyperparameters = hyperparametersSchema.parse({
    learning_rate: 2e-3,
    epochs,
    batch_size: 16,
    max_seq_length: BLOCK,
    warmup_ratio: 0.05,
    weight_decay: 0.01,
    seed: SEED,
  });
  const counter = stepCounter(16);
  const trainStarted = performance.now();
  const result = await fineTuneCausalLm({
    model,
    tokenizer,
    train: trainTexts,
    validation: null,
    hyperparameters,
    onEvent: counter.onEvent,
    shouldStop: () => false,
  });
  const trainSeconds = seconds(trainStarted);
  const after = await task.evaluate(heldOut, { batchSize: 32, labelSmoothing: 0 });
  progress(`causal-lm: trained held-out ${JSON.stringify(after)} (${trainSeconds.toFixed(0)} s training)`);
  const prompts = heldOut.slice(0, 4).map((e) => e.inputIds.slice(0, 16));
  const speed = await measureCacheSpeed(
    model,
    prompts,
    option(args, "new-tokens", 64),
    option(args, "rounds", 2),
  );
  const outcome: LmOutcome = {
    vocab: tokenizer.vocabSize,
    params: model.parameterCount(),
    trainBlocks: result.examples.train,
    heldOutBlocks: heldOut.length,
    epochs,
    steps: result.steps,
    trainSeconds,
    before,
    after,
    speed,
    seconds: seconds(started),
  };
  model.dispose();
  return outcome;
}

interface MtScores {
  bleu: number;
  chrf: number;
  eval_loss: number;
  perplexity: number;
  gen_len: number;
}

interface MtOutcome {
  vocab: number;
  params: number;
  trainPairs: number;
  evalPairs: number;
  epochs: number;
  steps: number;
  trainSeconds: number;
  before: MtScores;
  after: MtScores;
  sample: { source: string; reference: string; before: string; after: string };
  speed: CacheSpeed;
  seconds: number;
}

async function readPairs(base: string): Promise<TranslationPair[]> {
  const read = async (ext: string) => (await Deno.readTextFile(new URL(`${base}.${ext}`, DATA))).split("\n");
  const [en, de] = [await read("en"), await read("de")];
  return en.map((source, i) => ({ source: source.trim(), target: (de[i] ?? "").trim() }))
    .filter((p) => p.source !== "" && p.target !== "");
}

async function translationPart(args: string[], quick: boolean): Promise<MtOutcome> {
  const started = performance.now();
  const allTrain = await readPairs("multi30k_train10k");
  const train = allTrain.slice(0, option(args, "mt-pairs", quick ? 400 : 10000));
  const evalPairs = (await readPairs("multi30k_val")).slice(0, option(args, "eval-pairs", quick ? 40 : 200));
  const wordPiece = TextTokenizer.trainWordPiece(allTrain.flatMap((p) => [p.source, p.target]), {
    vocabSize: 6000,
    lowercase: false,
  });
  const tokenizer = GenerationTokenizer.fromTokenizerJson(wordPiece.toTokenizerJson(), {});
  const model = initGenerativeModel({
    model_type: "marian",
    vocab_size: tokenizer.vocabSize,
    d_model: 128,
    encoder_layers: 2,
    decoder_layers: 2,
    encoder_attention_heads: 4,
    decoder_attention_heads: 4,
    encoder_ffn_dim: 512,
    decoder_ffn_dim: 512,
    max_position_embeddings: 128,
    dropout: 0,
    scale_embedding: true,
    pad_token_id: tokenizer.padTokenId,
    eos_token_id: tokenizer.eosTokenId,
    bos_token_id: null,
    decoder_start_token_id: tokenizer.padTokenId,
    forced_eos_token_id: tokenizer.eosTokenId,
  }, SEED) as Seq2SeqModel;
  const examples = prepareTranslationExamples(tokenizer, evalPairs, {
    maxSourceLength: MAX_TARGET,
    maxTargetLength: MAX_TARGET,
    decoderStartTokenId: model.decoderStartTokenId,
  });
  const task = seq2seqTask(model, tokenizer);
  const score = async (): Promise<{ scores: MtScores; texts: string[] }> => {
    const losses = await task.evaluate(examples, { batchSize: 32, labelSmoothing: 0 });
    const { texts, lengths } = await translateExamples(model, tokenizer, examples, {
      numBeams: 1,
      maxNewTokens: MAX_TARGET,
      batchSize: 32,
    });
    const references = evalPairs.map((p) => p.target);
    return {
      scores: {
        bleu: corpusBleu(texts, references).score,
        chrf: corpusChrf(texts, references).score,
        eval_loss: losses.eval_loss,
        perplexity: losses.perplexity,
        gen_len: lengths.reduce((a, b) => a + b, 0) / lengths.length,
      },
      texts,
    };
  };
  const before = await score();
  progress(`translation: untrained ${JSON.stringify(before.scores)}`);
  const epochs = option(args, "mt-epochs", quick ? 1 : 4);
  const hyperparameters = hyperparametersSchema.parse({
    learning_rate: 2e-3,
    epochs,
    batch_size: 32,
    max_seq_length: MAX_TARGET,
    warmup_ratio: 0.05,
    weight_decay: 0.01,
    seed: SEED,
  });
  const counter = stepCounter(32);
  const trainStarted = performance.now();
  const result = await fineTuneSeq2Seq({
    model,
    tokenizer,
    train,
    validation: null,
    hyperparameters,
    onEvent: counter.onEvent,
    shouldStop: () => false,
  });
  const trainSeconds = seconds(trainStarted);
  const after = await score();
  progress(`translation: trained ${JSON.stringify(after.scores)} (${trainSeconds.toFixed(0)} s training)`);
  const speed = await measureCacheSpeed(
    model,
    examples.slice(0, 4).map((e) => e.inputIds),
    option(args, "new-tokens", 64),
    option(args, "rounds", 2),
  );
  const outcome: MtOutcome = {
    vocab: tokenizer.vocabSize,
    params: model.parameterCount(),
    trainPairs: train.length,
    evalPairs: evalPairs.length,
    epochs,
    steps: result.steps,
    trainSeconds,
    before: before.scores,
    after: after.scores,
    sample: {
      source: evalPairs[0].source,
      reference: evalPairs[0].target,
      before: before.texts[0],
      after: after.texts[0],
    },
    speed,
    seconds: seconds(started),
  };
  model.dispose();
  return outcome;
}

const f = (x: number, digits = 2) => x.toFixed(digits);

function speedRow(name: string, s: CacheSpeed): string {
  return `| ${name} | ${s.tokensPerRun} | ${f(s.cachedTokensPerSecond, 1)} | ${
    f(s.uncachedTokensPerSecond, 1)
  } | ${f(s.ratio)} | ${s.identical ? "yes" : "NO"} |`;
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes("--quick");
  const total = performance.now();
  const backend = await prepareBackend({
    preference: Deno.env.get("EDGETUNE_BACKEND"),
    native: Deno.env.get("EDGETUNE_NATIVE") !== "off",
    buildNative: true,
  });
  progress(`backend ${backend.label}`);
  const lm = await causalLmPart(args, quick);
  const mt = await translationPart(args, quick);

  console.log(`backend ${backend.label}${quick ? " (--quick smoke run)" : ""}`);
  console.log(
    `(a) causal-lm, Tiny Shakespeare: GPT-2 2x128 (4 heads, ${lm.params} params), cased WordPiece vocab ` +
      `${lm.vocab}; ${lm.trainBlocks} training blocks of ${BLOCK} tokens x ${lm.epochs} epoch(s) = ${lm.steps} ` +
      `steps (batch 16, lr 2e-3) in ${f(lm.trainSeconds, 1)} s; part wall time ${f(lm.seconds, 1)} s`,
  );
  console.log(`| held-out (last 10% of paragraphs, ${lm.heldOutBlocks} blocks) | eval_loss | perplexity |`);
  console.log("|---|---|---|");
  console.log(`| untrained (random init) | ${f(lm.before.eval_loss, 3)} | ${f(lm.before.perplexity, 1)} |`);
  console.log(`| fine-tuned | ${f(lm.after.eval_loss, 3)} | ${f(lm.after.perplexity, 1)} |`);
  console.log(`perplexity ratio untrained / trained: ${f(lm.before.perplexity / lm.after.perplexity)}`);
  console.log(
    `(b) translation, Multi30k en→de: Marian 2+2x128 (4 heads, ${mt.params} params), cased WordPiece vocab ` +
      `${mt.vocab} over both sides; ${mt.trainPairs} training pairs x ${mt.epochs} epoch(s) = ${mt.steps} ` +
      `steps (batch 32, lr 2e-3) in ${f(mt.trainSeconds, 1)} s; part wall time ${f(mt.seconds, 1)} s`,
  );
  console.log(
    `| multi30k_val first ${mt.evalPairs} pairs, greedy | BLEU | chrF | eval_loss | perplexity | gen_len |`,
  );
  console.log("|---|---|---|---|---|---|");
  for (const [name, s] of [["untrained (random init)", mt.before], ["fine-tuned", mt.after]] as const) {
    console.log(
      `| ${name} | ${f(s.bleu)} | ${f(s.chrf)} | ${f(s.eval_loss, 3)} | ${f(s.perplexity, 1)} | ${
        f(s.gen_len, 1)
      } |`,
    );
  }
  console.log(`sample: ${JSON.stringify(mt.sample)}`);
  console.log(
    `(c) generate() greedy speed, 4 inputs x ${option(args, "new-tokens", 64)} new tokens (EOS off), ` +
      `${lm.speed.rounds} alternating rounds per path`,
  );
  console.log(
    "| model | tokens per run | useCache: true tok/s | useCache: false tok/s | ratio | identical |",
  );
  console.log("|---|---|---|---|---|---|");
  console.log(speedRow("GPT-2 (prompt 16 tokens)", lm.speed));
  console.log(speedRow("Marian (val sources)", mt.speed));
  console.log(`total wall time ${f(seconds(total), 1)} s`);
}

if (import.meta.main) await run(Deno.args);
