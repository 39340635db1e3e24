/**
 * The generative tasks on the distributed platform (nats-server + s3rver, runner processes): a translation job
 * on a random-init Marian trains uninterrupted on one runner; the same job killed with SIGKILL after a
 * checkpoint is resumed by another runner and ends with the same learning rates, losses and final weights;
 * the edge then serves the fine-tuned model from S3 (the same translation for both models).
 */
import assert from "node:assert/strict";
import { servicesSkipped } from "../support/services.ts";
import {
  eventsOf,
  finalWeights,
  spawnRunner,
  startWorld,
  stepTable,
  waitForEvent,
  waitForFinal,
} from "./harness.ts";

Deno.test({
  name: "chaos: a translation job killed after a checkpoint resumes on another runner and ends identically",
  ignore: servicesSkipped(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const world = await startWorld();
    const runners: ReturnType<typeof spawnRunner>[] = [];
    try {
      const lines = (path: string) =>
        Deno.readTextFileSync(new URL(path, import.meta.url)).split("\n").slice(0, 48);
      const en = lines("../../../shared/data/multi30k_train10k.en");
      const de = lines("../../../shared/data/multi30k_train10k.de");
      const tsv = ["source\ttarget", ...en.map((s, i) => `${s}\t${de[i]}`)].join("\n") + "\n";
      const pairs = await world.client.uploadDataset(new TextEncoder().encode(tsv), {
        fileName: "pairs.tsv",
      });
      const text = [...en, ...de].join("\n") + "\n";
      const corpus = await world.client.uploadDataset(new TextEncoder().encode(text), {
        fileName: "corpus.txt",
      });
      const marian = await world.client.createModel({
        name: "marian",
        architecture: "marian",
        config: {
          d_model: 16,
          encoder_layers: 1,
          decoder_layers: 1,
          encoder_attention_heads: 2,
          decoder_attention_heads: 2,
          encoder_ffn_dim: 32,
          decoder_ffn_dim: 32,
          max_position_embeddings: 64,
        },
        tokenizer: { dataset: corpus.id, vocab_size: 200 },
        seed: 1,
      });
      const spec = {
        task: "translation" as const,
        base_model: marian.id,
        training_dataset: pairs.id,
        validation_split: 0.25,
        task_options: { eval_generation_rows: 2, max_target_length: 16 },
        hyperparameters: { learning_rate: 3e-3, epochs: 3, batch_size: 2, max_seq_length: 32, seed: 3 },
      };

      const a = spawnRunner(world, "gen-a", { RUNNER_CHECKPOINT_STEPS: "0" });
      runners.push(a);
      const reference = await waitForFinal(world, (await world.client.startJob(spec)).id, 120_000);
      assert.equal(reference.status, "succeeded", JSON.stringify(reference.error));
      const referenceSteps = stepTable(await eventsOf(world, reference.id));
      assert.ok(referenceSteps.size >= 50, `${referenceSteps.size} steps`);
      a.kill("SIGTERM");
      await a.exited;

      const job = await world.client.startJob(spec);
      const first = spawnRunner(world, "gen-b", { RUNNER_CHECKPOINT_STEPS: "10" });
      runners.push(first);
      await waitForEvent(world, job.id, (e) => e.type === "checkpoint" && e.data.step === 20, 120_000);
      first.kill("SIGKILL");
      await first.exited;
      const second = spawnRunner(world, "gen-c", { RUNNER_CHECKPOINT_STEPS: "10" });
      runners.push(second);
      const done = await waitForFinal(world, job.id, 120_000);
      assert.equal(done.status, "succeeded", JSON.stringify(done.error));
      const events = await eventsOf(world, job.id);
      assert.ok(events.some((e) => e.type === "log" && String(e.data.message).startsWith("resumed from")));
      const steps = stepTable(events);
      assert.deepEqual([...steps.keys()].sort((x, y) => x - y), [...referenceSteps.keys()]);
      for (const [step, row] of referenceSteps) assert.deepEqual(steps.get(step), row, `step ${step}`);
      const [w1, w2] = [await finalWeights(world, reference), await finalWeights(world, done)];
      assert.deepEqual([...w2.keys()], [...w1.keys()]);
      for (const [name, values] of w1) assert.deepEqual(w2.get(name), values, name);
      for (const key of ["eval_loss", "bleu", "chrf"]) {
        assert.equal(done.metrics[key], reference.metrics[key], key);
      }

      // The edge serves both fine-tuned models from S3 with the same answer.
      const translate = (model: string) =>
        world.client.infer<{ translation_text: string }[]>(model, {
          inputs: ["A man is walking."],
          parameters: { max_new_tokens: 8 },
        });
      const [t1, t2] = [
        await translate(reference.fine_tuned_model!),
        await translate(done.fine_tuned_model!),
      ];
      assert.equal(typeof t1[0].translation_text, "string");
      assert.deepEqual(t2, t1);
    } finally {
      for (const r of runners) r.kill("SIGTERM");
      await Promise.all(runners.map((r) => r.exited));
      await world.stop();
    }
  },
});
