/**
 * End to end over real HTTP on the embedded platform: upload a CSV, create a small random base model whose
 * vocabulary is built from that dataset, fine-tune it, follow the job's SSE stream to `succeeded`, predict
 * with the fine-tuned model, and check that a second tenant can neither see nor use any of it.
 */
import assert from "node:assert/strict";
import { startEmbeddedInstance } from "../support/embedded_instance.ts";
import { EdgetuneError, type JobEvent, type LabelScore } from "../../shared/client/mod.ts";

const reviews = await Deno.readFile(new URL("../../tools/demo/reviews.csv", import.meta.url));

Deno.test("spine: upload → model → job → SSE → predict, isolated per tenant", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const { tenantA, tenantB } = instance;
    const dataset = await tenantA.uploadDataset(reviews, { fileName: "reviews.csv", name: "reviews" });
    assert.equal(dataset.rows, 200);
    assert.deepEqual(dataset.columns, ["text", "label"]);

    const base = await tenantA.createModel({
      name: "tiny-bert",
      architecture: "bert",
      config: { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64 },
      tokenizer: { dataset: dataset.id, column: "text", vocab_size: 400, lowercase: true },
      seed: 1,
    });
    assert.equal(base.task, null);

    const job = await tenantA.createJob({
      task: "text-classification",
      base_model: base.id,
      training_dataset: dataset.id,
      validation_split: 0.2,
      hyperparameters: { learning_rate: 3e-3, epochs: 10, batch_size: 16, max_seq_length: 32, seed: 3 },
    } as never);
    assert.equal(job.status, "queued");

    const events: JobEvent[] = [];
    await tenantA.followEvents(job.id, (event) => events.push(event), {
      signal: AbortSignal.timeout(240_000),
    });
    const statuses = events.filter((e) => e.type === "status").map((e) => e.data.status);
    assert.deepEqual(statuses, ["queued", "running", "succeeded"]);
    assert.ok(events.some((e) => e.type === "step" && typeof e.data.loss === "number"));
    const evals = events.filter((e) => e.type === "eval");
    assert.ok(evals.length >= 3, "one evaluation per epoch");
    const seqs = events.map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), "event ids are 1..n in order");

    const done = await tenantA.getJob(job.id);
    assert.equal(done.status, "succeeded");
    assert.ok(done.fine_tuned_model);
    assert.ok(done.metrics.accuracy >= 0.9, `held-out accuracy ${done.metrics.accuracy}`);

    const single = await tenantA.predict(
      done.fine_tuned_model!,
      "The camera is excellent. Love it.",
    ) as LabelScore[];
    assert.equal(single.length, 2);
    assert.equal(single[0].label, "positive");
    assert.ok(single[0].score >= single[1].score);
    assert.ok(Math.abs(single[0].score + single[1].score - 1) < 1e-5);
    const batch = await tenantA.predict(done.fine_tuned_model!, [
      "The charger broke on the first day. Avoid it.",
      "The mattress is wonderful. Five stars.",
    ], 1) as LabelScore[][];
    assert.deepEqual(batch.map((scores) => scores.map((s) => s.label)), [["negative"], ["positive"]]);

    // Resuming the stream after the last event replays nothing and ends (the job is final).
    const replay: JobEvent[] = [];
    await tenantA.followEvents(job.id, (event) => replay.push(event), { afterSeq: seqs.at(-1) });
    assert.equal(replay.length, 0);

    // Tenant B sees none of it.
    for (
      const attempt of [
        () => tenantB.getDataset(dataset.id),
        () => tenantB.getModel(base.id),
        () => tenantB.getJob(job.id),
        () => tenantB.predict(done.fine_tuned_model!, "hello"),
        () =>
          tenantB.createJob(
            { task: "text-classification", base_model: base.id, training_dataset: dataset.id } as never,
          ),
      ]
    ) {
      await assert.rejects(
        attempt,
        (error: unknown) => error instanceof EdgetuneError && error.status === 404,
      );
    }
  } finally {
    await instance.stop();
  }
});
