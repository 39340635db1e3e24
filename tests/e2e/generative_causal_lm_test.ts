/**
 * Causal language modelling end to end over real HTTP on the embedded platform: a slice of tinyshakespeare
 * uploaded as a plain `text` dataset, a random GPT-2 created through the API (WordPiece learned from it), a
 * causal-lm job whose held-out perplexity ends below the untrained model's (that one computed here with the
 * core on the exported base model and the same held-out blocks), then text generation at predict (pipeline
 * shape, sampling, cache on/off, return_full_text, stop strings, streaming) and a prompt/completion job.
 * Specs a client can get wrong are 400s.
 */
import assert from "node:assert/strict";
import { startEmbeddedInstance, TENANT_A_KEY } from "../support/embedded_instance.ts";
import { type EdgetuneClient, EdgetuneError, type JobEvent } from "../../shared/client/mod.ts";
import { parseTar } from "../../edge/models/tar.ts";
import { readSafetensors } from "../../shared/core/checkpoint/safetensors.ts";
import { loadGenerativeModel } from "../../shared/core/model/generative_load.ts";
import { GenerationTokenizer } from "../../shared/core/tokenizer/generation_tokenizer.ts";
import { causalLmTask } from "../../shared/core/train/causal_lm.ts";
import { prepareCausalLmExamples } from "../../shared/core/train/causal_lm_data.ts";
import type { CausalLanguageModel } from "../../shared/core/generate/types.ts";

const SHAKESPEARE = new URL("../../../shared/data/tinyshakespeare.txt", import.meta.url);
const BLOCK = 32;
const encode = (text: string) => new TextEncoder().encode(text);

async function runToEnd(client: EdgetuneClient, jobId: string): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  await client.followEvents(jobId, (event: JobEvent) => events.push(event), {
    signal: AbortSignal.timeout(120_000),
  });
  return events;
}

const is400 = (pattern: RegExp) => (e: unknown) =>
  e instanceof EdgetuneError && e.status === 400 && pattern.test(e.message);

/** The exported folder of a model (GET /v1/models/:id/export), file name → bytes. */
async function exportedFiles(url: string, modelId: string): Promise<Map<string, Uint8Array>> {
  const response = await fetch(`${url}/v1/models/${modelId}/export`, {
    headers: { Authorization: `Bearer ${TENANT_A_KEY}` },
  });
  assert.equal(response.status, 200);
  const files = parseTar(new Uint8Array(await response.arrayBuffer()));
  return new Map(files.map((f) => [f.name.slice(f.name.lastIndexOf("/") + 1), f.data]));
}

/** eval_loss of a causal-lm folder on plain-text lines, prepared as the job prepares its held-out text. */
async function heldOutLoss(files: Map<string, Uint8Array>, lines: string[]): Promise<number> {
  const text = (name: string) => new TextDecoder().decode(files.get(name)!);
  const tokenizer = GenerationTokenizer.fromTokenizerJson(
    text("tokenizer.json"),
    files.has("tokenizer_config.json") ? JSON.parse(text("tokenizer_config.json")) : {},
  );
  const { model } = loadGenerativeModel(
    text("config.json"),
    readSafetensors(files.get("model.safetensors")!),
  );
  try {
    const causal = model as CausalLanguageModel;
    const { examples } = prepareCausalLmExamples(tokenizer, lines, {
      blockSize: Math.min(BLOCK, causal.maxPositions),
      packing: true,
      joinWith: "newline",
    });
    const metrics = await causalLmTask(causal).evaluate(examples, { batchSize: 16, labelSmoothing: 0 });
    return metrics.eval_loss;
  } finally {
    model.dispose();
  }
}

Deno.test("causal-lm: GPT-2 from scratch on tinyshakespeare, then text generation at predict", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const { tenantA } = instance;
    const lines = (await Deno.readTextFile(SHAKESPEARE)).split("\n");
    const trainLines = lines.slice(0, 400);
    const heldOutLines = lines.slice(400, 480);
    const train = await tenantA.uploadDataset(encode(trainLines.join("\n") + "\n"), { fileName: "x.txt" });
    assert.equal(train.format, "text");
    assert.deepEqual(train.columns, ["text"]);
    assert.equal(train.rows, 400);
    const heldOut = await tenantA.uploadDataset(encode(heldOutLines.join("\n") + "\n"), {
      fileName: "held_out.txt",
    });
    const base = await tenantA.createModel({
      name: "tiny-gpt2",
      architecture: "gpt2",
      config: { n_embd: 32, n_layer: 2, n_head: 2, n_positions: 64 },
      tokenizer: { dataset: train.id, column: "text", vocab_size: 400, lowercase: false },
      seed: 1,
    });
    assert.equal(base.task, "causal-lm");
    assert.equal(base.config.model_type, "gpt2");

    const untrainedLoss = await heldOutLoss(await exportedFiles(instance.url, base.id), heldOutLines);
    const job = await tenantA.startJob({
      task: "causal-lm",
      base_model: base.id,
      training_dataset: train.id,
      validation_dataset: heldOut.id,
      task_options: { block_size: BLOCK },
      hyperparameters: { learning_rate: 3e-3, epochs: 3, batch_size: 16, warmup_ratio: 0, seed: 2 },
    });
    const events = await runToEnd(tenantA, job.id);
    const done = await tenantA.getJob(job.id);
    assert.equal(done.status, "succeeded", JSON.stringify(done.error));
    const evals = events.filter((e) => e.type === "eval");
    assert.equal(evals.length, 3, "one evaluation per epoch");
    for (const e of evals) {
      const metrics = (e.data.metrics ?? e.data) as Record<string, number>;
      assert.equal(typeof metrics.eval_loss, "number");
      assert.ok(Math.abs(Math.log(metrics.perplexity) - metrics.eval_loss) < 1e-6);
    }
    const untrainedPerplexity = Math.exp(untrainedLoss);
    console.log(
      `causal-lm perplexity: untrained ${untrainedPerplexity.toFixed(1)} → trained ${
        done.metrics.perplexity.toFixed(1)
      }`,
    );
    assert.ok(
      done.metrics.perplexity < 0.5 * untrainedPerplexity,
      `${done.metrics.perplexity} vs untrained ${untrainedPerplexity}`,
    );
    const lm = done.fine_tuned_model!;
    assert.equal((await tenantA.getModel(lm)).task, "causal-lm");

    // Pipeline shape: one input → [{generated_text}], the prompt included.
    const sampled = await tenantA.infer<{ generated_text: string }[]>(lm, {
      inputs: "ROMEO:",
      parameters: { max_new_tokens: 10, seed: 1, do_sample: true },
    });
    assert.equal(sampled.length, 1);
    assert.ok(sampled[0].generated_text.startsWith("ROMEO:"));
    const again = await tenantA.infer<{ generated_text: string }[]>(lm, {
      inputs: "ROMEO:",
      parameters: { max_new_tokens: 10, seed: 1, do_sample: true },
    });
    assert.deepEqual(again, sampled, "a seeded sample is reproducible");

    const greedy = (parameters: Record<string, unknown>) =>
      tenantA.infer<{ generated_text: string }[]>(lm, {
        inputs: "ROMEO:",
        parameters: { max_new_tokens: 12, ...parameters },
      });
    const cached = await greedy({ use_cache: true });
    assert.deepEqual(await greedy({ use_cache: false }), cached);
    const continuation = await greedy({ return_full_text: false });
    assert.equal(cached[0].generated_text, "ROMEO:" + continuation[0].generated_text);
    assert.ok(continuation[0].generated_text.length > 0);

    // A stop string that occurs in the greedy continuation cuts the text just before it.
    const words = continuation[0].generated_text.trim().split(/\s+/);
    const stopWord = words[Math.min(1, words.length - 1)];
    const stopped = await greedy({ return_full_text: false, stop: [stopWord] });
    const expected = continuation[0].generated_text.slice(
      0,
      continuation[0].generated_text.indexOf(stopWord),
    );
    assert.equal(stopped[0].generated_text, expected);

    // A list of inputs → one list per input.
    const batch = await tenantA.infer<{ generated_text: string }[][]>(lm, {
      inputs: ["ROMEO:", "JULIET:"],
      parameters: { max_new_tokens: 5 },
    });
    assert.equal(batch.length, 2);
    assert.ok(batch[1][0].generated_text.startsWith("JULIET:"));

    // Streaming: token events, then `done` whose text is the prompt + the concatenated tokens.
    const streamed = [];
    for await (
      const event of tenantA.streamGeneration(lm, { inputs: "ROMEO:", parameters: { max_new_tokens: 12 } })
    ) {
      streamed.push(event);
    }
    const last = streamed.at(-1)!;
    assert.equal(last.event, "done");
    const tokenEvents = streamed.slice(0, -1);
    assert.ok(tokenEvents.length >= 1 && tokenEvents.every((e) => e.data.generated_text === null));
    const pieces = tokenEvents.map((e) => (e.data.token as { text: string }).text).join("");
    assert.equal(last.data.generated_text, "ROMEO:" + pieces);
    assert.equal(last.data.generated_text, cached[0].generated_text);
    assert.equal(
      (last.data.details as { generated_tokens: number }).generated_tokens,
      tokenEvents.length,
    );

    // Bad predict bodies are 400s.
    await assert.rejects(
      () => tenantA.infer(lm, { inputs: "ROMEO:", parameters: { num_return_sequences: 3, num_beams: 2 } }),
      is400(/num_return_sequences/),
    );
    await assert.rejects(
      async () => {
        for await (const _ of tenantA.streamGeneration(lm, { inputs: ["a", "b"] })) { /* drain */ }
      },
      is400(/single input/),
    );
    // A prompt longer than the model's positions is a 400 answer, not an error inside a started stream.
    await assert.rejects(
      async () => {
        for await (const _ of tenantA.streamGeneration(lm, { inputs: trainLines.slice(0, 40).join(" ") })) {
          /* drain */
        }
      },
      is400(/the model's maximum is 64/),
    );
  } finally {
    await instance.stop();
  }
});

Deno.test("causal-lm: prompt/completion JSONL trains; bad specs and rows are 400s", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const { tenantA } = instance;
    const pairs = [
      ["Q: who loves Juliet?", " Romeo"],
      ["Q: who loves Romeo?", " Juliet"],
      ["Q: who is the king?", " Lear"],
      ["Q: who is the prince?", " Hamlet"],
    ];
    const jsonl = Array.from({ length: 8 }, (_, i) => pairs[i % 4])
      .map(([prompt, completion]) => JSON.stringify({ prompt, completion })).join("\n") + "\n";
    const dataset = await tenantA.uploadDataset(encode(jsonl), { fileName: "qa.jsonl" });
    const base = await tenantA.createModel({
      name: "qa-gpt2",
      architecture: "gpt2",
      config: { n_embd: 16, n_layer: 1, n_head: 2, n_positions: 32 },
      tokenizer: { dataset: dataset.id, column: "prompt", vocab_size: 80, lowercase: true },
    });
    const job = await tenantA.startJob({
      task: "causal-lm",
      base_model: base.id,
      training_dataset: dataset.id,
      validation_split: 0.25,
      columns: { prompt: "prompt", completion: "completion" },
      task_options: { packing: false },
      hyperparameters: { learning_rate: 1e-2, epochs: 2, batch_size: 4, seed: 3 },
    });
    await runToEnd(tenantA, job.id);
    const done = await tenantA.getJob(job.id);
    assert.equal(done.status, "succeeded", JSON.stringify(done.error));
    assert.equal(typeof done.metrics.perplexity, "number");
    assert.ok(Number.isFinite(done.metrics.perplexity));

    // An empty completion is refused at job creation, naming its line.
    const withEmpty = encode(jsonl + JSON.stringify({ prompt: "Q: who?", completion: "  " }) + "\n");
    const bad = await tenantA.uploadDataset(withEmpty, { fileName: "bad.jsonl" });
    await assert.rejects(
      () =>
        tenantA.startJob({
          task: "causal-lm",
          base_model: base.id,
          training_dataset: bad.id,
          columns: { prompt: "prompt", completion: "completion" },
        }),
      (e: unknown) =>
        e instanceof EdgetuneError && e.status === 400 && /line 9: empty completion/.test(e.message),
    );
    // causal-lm on an encoder base model.
    const bert = await tenantA.createModel({
      name: "bert",
      architecture: "bert",
      config: { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32 },
      tokenizer: { dataset: dataset.id, column: "prompt", vocab_size: 80, lowercase: true },
    });
    await assert.rejects(
      () =>
        tenantA.startJob({
          task: "causal-lm",
          base_model: bert.id,
          training_dataset: dataset.id,
          columns: { prompt: "prompt", completion: "completion" },
        }),
      is400(/gpt2/),
    );
    // A missing column is named.
    await assert.rejects(
      () => tenantA.startJob({ task: "causal-lm", base_model: base.id, training_dataset: dataset.id }),
      is400(/"text"|'text'/),
    );
  } finally {
    await instance.stop();
  }
});
