/**
 * Translation end to end over real HTTP on the embedded platform, on Multi30k English→German: pairs
 * uploaded (a) as one TSV with source/target columns for a random Marian and (b) as two aligned plain-text
 * datasets for a random T5 (both with a WordPiece learned from both languages' lines), a translation job
 * each whose evaluations carry eval_loss, BLEU and chrF, then predict in the translation pipeline shape
 * (greedy, beam search, several sequences, the job's source_prefix applied). Specs a client can get wrong
 * are 400s at job creation; a model whose translations come out empty still trains and scores.
 */
import assert from "node:assert/strict";
import { startEmbeddedInstance, TENANT_A_KEY } from "../support/embedded_instance.ts";
import { parseTar } from "../../edge/models/tar.ts";
import { FOLDER_FILES } from "../../edge/models/upload.ts";
import { readSafetensors, writeSafetensors } from "../../shared/core/checkpoint/safetensors.ts";
import { TextTokenizer } from "../../shared/core/tokenizer/text_tokenizer.ts";
import { type EdgetuneClient, EdgetuneError, type JobEvent } from "../../shared/client/mod.ts";

const ENGLISH = new URL("../../../shared/data/multi30k_train10k.en", import.meta.url);
const GERMAN = new URL("../../../shared/data/multi30k_train10k.de", import.meta.url);
const PAIRS = 300;
const encode = (text: string) => new TextEncoder().encode(text);
const textFile = (lines: string[]) => encode(lines.join("\n") + "\n");

async function corpus(): Promise<{ en: string[]; de: string[] }> {
  const read = async (url: URL) => (await Deno.readTextFile(url)).split("\n").slice(0, PAIRS + 40);
  return { en: await read(ENGLISH), de: await read(GERMAN) };
}

/** The exported folder of a model (GET /v1/models/:id/export), file name → bytes. */
async function exportedFiles(url: string, modelId: string): Promise<Record<string, Uint8Array>> {
  const response = await fetch(`${url}/v1/models/${modelId}/export`, {
    headers: { Authorization: `Bearer ${TENANT_A_KEY}` },
  });
  assert.equal(response.status, 200);
  const files = parseTar(new Uint8Array(await response.arrayBuffer()));
  return Object.fromEntries(files.map((f) => [f.name.slice(f.name.lastIndexOf("/") + 1), f.data]));
}

async function runToEnd(client: EdgetuneClient, jobId: string): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  await client.followEvents(jobId, (event: JobEvent) => events.push(event), {
    signal: AbortSignal.timeout(120_000),
  });
  return events;
}

const is400 = (pattern: RegExp) => (e: unknown) =>
  e instanceof EdgetuneError && e.status === 400 && pattern.test(e.message);

function assertTranslationMetrics(events: JobEvent[], expectedEvals: number): Record<string, number>[] {
  const evals = events.filter((e) => e.type === "eval").map((e) =>
    (e.data.metrics ?? e.data) as Record<
      string,
      number
    >
  );
  assert.equal(evals.length, expectedEvals);
  for (const metrics of evals) {
    assert.equal(typeof metrics.eval_loss, "number");
    for (const key of ["bleu", "chrf"]) {
      assert.equal(typeof metrics[key], "number", key);
      assert.ok(metrics[key] >= 0 && metrics[key] <= 100, `${key} = ${metrics[key]}`);
    }
  }
  return evals;
}

Deno.test("translation: Marian from a TSV of pairs, T5 from aligned text files; predict translates", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const { tenantA } = instance;
    const { en, de } = await corpus();
    const bothLanguages = await tenantA.uploadDataset(textFile([...en, ...de]), { fileName: "vocab.txt" });
    const tokenizer = { dataset: bothLanguages.id, column: "text", vocab_size: 600, lowercase: true };

    // (a) One TSV with source/target columns → Marian.
    const tsv = "source\ttarget\n" + en.slice(0, PAIRS).map((s, i) => `${s}\t${de[i]}`).join("\n") + "\n";
    const pairs = await tenantA.uploadDataset(encode(tsv), { fileName: "pairs.tsv" });
    assert.equal(pairs.rows, PAIRS);
    const marian = await tenantA.createModel({
      name: "tiny-marian",
      architecture: "marian",
      config: {
        d_model: 32,
        encoder_layers: 1,
        decoder_layers: 1,
        encoder_attention_heads: 2,
        decoder_attention_heads: 2,
        encoder_ffn_dim: 64,
        decoder_ffn_dim: 64,
        max_position_embeddings: 64,
      },
      tokenizer,
      seed: 1,
    });
    assert.equal(marian.task, "translation");
    const marianJob = await tenantA.startJob({
      task: "translation",
      base_model: marian.id,
      training_dataset: pairs.id,
      validation_split: 0.1,
      task_options: { eval_generation_rows: 6, max_target_length: 24 },
      hyperparameters: { learning_rate: 5e-3, epochs: 5, batch_size: 16, max_seq_length: 32, seed: 2 },
    });
    const marianEvals = assertTranslationMetrics(await runToEnd(tenantA, marianJob.id), 5);
    const marianDone = await tenantA.getJob(marianJob.id);
    assert.equal(marianDone.status, "succeeded", JSON.stringify(marianDone.error));
    assert.ok(marianEvals[4].eval_loss < marianEvals[0].eval_loss, "the held-out loss falls");
    const translator = marianDone.fine_tuned_model!;
    assert.equal((await tenantA.getModel(translator)).task, "translation");

    const greedy = await tenantA.infer<{ translation_text: string }[]>(translator, {
      inputs: ["A man is walking."],
      parameters: { max_new_tokens: 12 },
    });
    assert.equal(greedy.length, 1);
    assert.deepEqual(Object.keys(greedy[0]), ["translation_text"]);
    assert.equal(typeof greedy[0].translation_text, "string");
    const beams = await tenantA.infer<{ translation_text: string }[]>(translator, {
      inputs: ["A man is walking.", "Two dogs play in the snow."],
      parameters: { max_new_tokens: 12, num_beams: 3 },
    });
    assert.equal(beams.length, 2);
    assert.ok(beams.every((b) => typeof b.translation_text === "string"));
    const single = await tenantA.infer<{ translation_text: string }[]>(translator, {
      inputs: "A man is walking.",
      parameters: { max_new_tokens: 12 },
    });
    assert.deepEqual(single, greedy, "a string input answers like a one-element list");
    // Several translations per input: one list per input (HF's shape), best beam first.
    const alternatives = await tenantA.infer<{ translation_text: string }[][]>(translator, {
      inputs: ["A man is walking.", "Two dogs play in the snow."],
      parameters: { max_new_tokens: 12, num_beams: 3, num_return_sequences: 2 },
    });
    assert.equal(alternatives.length, 2);
    assert.ok(alternatives.every((list) => Array.isArray(list) && list.length === 2));
    assert.deepEqual(alternatives.map((list) => list[0]), beams);

    // (b) Two aligned text datasets → T5, with aligned validation datasets and a source prefix.
    const upload = (lines: string[], fileName: string) =>
      tenantA.uploadDataset(textFile(lines), { fileName });
    const sources = await upload(en.slice(0, PAIRS), "train.en.txt");
    const targets = await upload(de.slice(0, PAIRS), "train.de.txt");
    const validSources = await upload(en.slice(PAIRS, PAIRS + 20), "valid.en.txt");
    const validTargets = await upload(de.slice(PAIRS, PAIRS + 20), "valid.de.txt");
    const t5 = await tenantA.createModel({
      name: "tiny-t5",
      architecture: "t5",
      config: { d_model: 32, d_kv: 16, d_ff: 64, num_layers: 1, num_heads: 2 },
      tokenizer,
      seed: 3,
    });
    assert.equal(t5.task, "translation");
    const t5Job = await tenantA.startJob({
      task: "translation",
      base_model: t5.id,
      training_dataset: sources.id,
      training_target_dataset: targets.id,
      validation_dataset: validSources.id,
      validation_target_dataset: validTargets.id,
      task_options: { eval_generation_rows: 4, max_target_length: 24, source_prefix: "translate: " },
      hyperparameters: { learning_rate: 3e-3, epochs: 1, batch_size: 16, max_seq_length: 32, seed: 4 },
    });
    const t5Evals = assertTranslationMetrics(await runToEnd(tenantA, t5Job.id), 1);
    const t5Done = await tenantA.getJob(t5Job.id);
    assert.equal(t5Done.status, "succeeded", JSON.stringify(t5Done.error));
    console.log(
      `translation: marian eval_loss ${marianEvals.map((m) => m.eval_loss.toFixed(3)).join(" → ")}, ` +
        `bleu ${marianEvals[4].bleu.toFixed(2)}, chrf ${marianEvals[4].chrf.toFixed(2)}; ` +
        `t5 eval_loss ${t5Evals[0].eval_loss.toFixed(3)}, bleu ${t5Evals[0].bleu.toFixed(2)}, ` +
        `chrf ${t5Evals[0].chrf.toFixed(2)}`,
    );
    // Predict encodes the source after the job's source_prefix, which the export carries in config.json
    // (transformers' `prefix`): the re-imported folder is served with it and translates as the fine-tuned model.
    const t5Model = t5Done.fine_tuned_model!;
    assert.equal((await tenantA.getModel(t5Model)).task_options.source_prefix, "translate: ");
    // Only the files an import accepts.
    const exported = Object.entries(await exportedFiles(instance.url, t5Model));
    const folder = Object.fromEntries(exported.filter(([name]) => name in FOLDER_FILES));
    const imported = await tenantA.importModel(folder, "t5-imported");
    assert.equal(imported.task_options.source_prefix, "translate: ");
    // The same folder without `prefix` in its config needs the prefix in the input to translate the same.
    const config = JSON.parse(new TextDecoder().decode(folder["config.json"]));
    assert.equal(config.prefix, "translate: ");
    delete config.prefix;
    const bare = await tenantA.importModel(
      { ...folder, "config.json": new TextEncoder().encode(JSON.stringify(config)) },
      "t5-bare",
    );
    assert.deepEqual(bare.task_options, {});
    // Seeded sampling at a high temperature: sensitive to any change of the encoder input.
    const translate = (modelId: string, text: string) =>
      tenantA.infer<{ translation_text: string }[]>(modelId, {
        inputs: text,
        parameters: { max_new_tokens: 10, do_sample: true, seed: 7, temperature: 3 },
      });
    const prefixed = await translate(bare.id, "translate: A man is walking.");
    assert.notDeepEqual(await translate(bare.id, "A man is walking."), prefixed, "the prefix matters");
    assert.deepEqual(await translate(t5Model, "A man is walking."), prefixed);
    assert.deepEqual(await translate(imported.id, "A man is walking."), prefixed);
    const t5Beams = await tenantA.infer<{ translation_text: string }[]>(t5Done.fine_tuned_model!, {
      inputs: ["A man is walking."],
      parameters: { max_new_tokens: 8, num_beams: 3 },
    });
    assert.equal(t5Beams.length, 1);
    assert.equal(typeof t5Beams[0].translation_text, "string");
  } finally {
    await instance.stop();
  }
});

Deno.test("translation: specs a client can get wrong are 400s at job creation", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const { tenantA } = instance;
    const { en, de } = await corpus();
    const upload = (lines: string[], fileName: string) =>
      tenantA.uploadDataset(textFile(lines), { fileName });
    const sources = await upload(en.slice(0, 40), "train.en.txt");
    const targets = await upload(de.slice(0, 40), "train.de.txt");
    const tokenizer = { dataset: sources.id, column: "text", vocab_size: 100, lowercase: true };
    const t5 = await tenantA.createModel({
      name: "tiny-t5",
      architecture: "t5",
      config: { d_model: 16, d_kv: 8, d_ff: 32, num_layers: 1, num_heads: 2 },
      tokenizer,
    });
    const aligned = (targetId: string) =>
      tenantA.startJob({
        task: "translation",
        base_model: t5.id,
        training_dataset: sources.id,
        training_target_dataset: targetId,
      });

    const withEmpty = de.slice(0, 40);
    withEmpty[6] = "";
    const emptyTarget = await upload(withEmpty, "empty.de.txt");
    await assert.rejects(() => aligned(emptyTarget.id), is400(/line 7: empty/));

    const tsv = "source\ttarget\n" +
      en.slice(0, 4).map((s, i) => `${s}\t${i === 2 ? " " : de[i]}`).join("\n");
    const pairs = await tenantA.uploadDataset(encode(tsv + "\n"), { fileName: "pairs.tsv" });
    await assert.rejects(
      () => tenantA.startJob({ task: "translation", base_model: t5.id, training_dataset: pairs.id }),
      is400(/line 4: empty target/),
    );

    const gpt2 = await tenantA.createModel({
      name: "gpt2",
      architecture: "gpt2",
      config: { n_embd: 16, n_layer: 1, n_head: 2, n_positions: 32 },
      tokenizer,
    });
    await assert.rejects(
      () => tenantA.startJob({ task: "translation", base_model: gpt2.id, training_dataset: pairs.id }),
      is400(/t5, mbart, marian/),
    );
    await assert.rejects(
      () =>
        tenantA.startJob({
          task: "causal-lm",
          base_model: gpt2.id,
          training_dataset: sources.id,
          training_target_dataset: targets.id,
        }),
      is400(/translation only/),
    );
    await assert.rejects(
      () =>
        tenantA.startJob({
          task: "translation",
          base_model: t5.id,
          training_dataset: sources.id,
          training_target_dataset: targets.id,
          validation_dataset: sources.id,
        }),
      is400(/validation_target_dataset/),
    );
  } finally {
    await instance.stop();
  }
});

Deno.test("translation: aligned datasets of different lengths are a 400 at job creation", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const { tenantA } = instance;
    const { en, de } = await corpus();
    const upload = (lines: string[], fileName: string) =>
      tenantA.uploadDataset(textFile(lines), { fileName });
    const sources = await upload(en.slice(0, 40), "train.en.txt");
    const shorter = await upload(de.slice(0, 39), "short.de.txt");
    const marian = await tenantA.createModel({
      name: "tiny-marian",
      architecture: "marian",
      config: {
        d_model: 16,
        encoder_layers: 1,
        decoder_layers: 1,
        encoder_attention_heads: 2,
        decoder_attention_heads: 2,
        encoder_ffn_dim: 32,
        decoder_ffn_dim: 32,
      },
      tokenizer: { dataset: sources.id, column: "text", vocab_size: 100, lowercase: true },
    });
    await assert.rejects(
      () =>
        tenantA.startJob({
          task: "translation",
          base_model: marian.id,
          training_dataset: sources.id,
          training_target_dataset: shorter.id,
        }),
      (e: unknown) =>
        e instanceof EdgetuneError && e.status === 400 && /differ in length/.test(e.message) &&
        e.message.includes("40") && e.message.includes("39"),
    );
  } finally {
    await instance.stop();
  }
});

Deno.test("translation: held-out translations that are empty (EOS first) score 0, the job succeeds", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const { tenantA } = instance;
    const { en, de } = await corpus();
    // The golden Marian with a fixed final_logits_bias that makes EOS win every step, before and after training.
    const golden = new URL("../fixtures/golden/marian_tiny/", import.meta.url);
    const configText = await Deno.readTextFile(new URL("config.json", golden));
    const tensors = readSafetensors(await Deno.readFile(new URL("model.safetensors", golden)));
    const eos = JSON.parse(configText).eos_token_id as number;
    const vocab = JSON.parse(configText).vocab_size as number;
    tensors.set("final_logits_bias", { dtype: "F32", shape: [1, vocab], data: new Float32Array(vocab) });
    tensors.get("final_logits_bias")!.data[eos] = 1000;
    const tokenizer = TextTokenizer.trainWordPiece([...en.slice(0, 20), ...de.slice(0, 20)], {
      vocabSize: 90,
      lowercase: true,
      minFrequency: 1,
    });
    const model = await tenantA.importModel({
      "config.json": encode(configText),
      "model.safetensors": writeSafetensors(tensors),
      "tokenizer.json": encode(tokenizer.toTokenizerJson()),
    }, "eos-marian");
    assert.equal(model.task, "translation");
    assert.deepEqual(
      await tenantA.infer(model.id, { inputs: ["A man is walking."], parameters: { max_new_tokens: 5 } }),
      [{ translation_text: "" }],
    );
    const tsv = "source\ttarget\n" + en.slice(0, 20).map((s, i) => `${s}\t${de[i]}`).join("\n") + "\n";
    const pairs = await tenantA.uploadDataset(encode(tsv), { fileName: "pairs.tsv" });
    const job = await tenantA.startJob({
      task: "translation",
      base_model: model.id,
      training_dataset: pairs.id,
      validation_split: 0.2,
      task_options: { eval_generation_rows: 2, max_target_length: 8 },
      hyperparameters: { learning_rate: 1e-4, epochs: 1, batch_size: 8, max_seq_length: 32 },
    });
    await runToEnd(tenantA, job.id);
    const done = await tenantA.getJob(job.id);
    assert.equal(done.status, "succeeded", JSON.stringify(done.error));
    assert.equal(done.metrics.bleu, 0);
    assert.equal(done.metrics.gen_len, 0);
  } finally {
    await instance.stop();
  }
});
