/**
 * Job estimates: `POST /v1/jobs` with `dry_run` runs the same validation as a real create (400/404 alike),
 * creates and queues nothing, and plans steps, examples, parameters (checked against the model record's own
 * count and the frozen groups' sizes) and memory; its time estimate lands within 2× of the measured time of
 * running the same job (a ratio of two measurements in this run, not a timed threshold); a running job
 * reports `eta_seconds`, a finished one null.
 */
import assert from "node:assert/strict";
import { resetCalibration } from "../../edge/routes/job_estimate_calibration.ts";
import { EdgetuneError, type JobSpec, type JobView } from "../../shared/client/mod.ts";
import { type EmbeddedInstance, startEmbeddedInstance } from "../support/embedded_instance.ts";

const reviews = await Deno.readFile(new URL("../../tools/demo/reviews.csv", import.meta.url));

async function setup(instance: EmbeddedInstance, config: Record<string, number>) {
  const dataset = await instance.tenantA.uploadDataset(reviews, { fileName: "reviews.csv" });
  const model = await instance.tenantA.createModel({
    name: "tiny",
    config,
    tokenizer: { dataset: dataset.id, vocab_size: 600 },
  });
  const spec = (hyperparameters: Record<string, unknown>): JobSpec => ({
    task: "text-classification",
    base_model: model.id,
    training_dataset: dataset.id,
    validation_split: 0.2,
    hyperparameters: { batch_size: 16, max_seq_length: 32, learning_rate: 2e-3, ...hyperparameters },
  });
  return { dataset, model, spec };
}

const rejects = (promise: Promise<unknown>, status: number, message: RegExp) =>
  assert.rejects(
    promise,
    (e: unknown) => e instanceof EdgetuneError && e.status === status && message.test(e.message),
  );

Deno.test("estimate: dry run validates like a create, queues nothing, and plans the job", async () => {
  const instance = await startEmbeddedInstance({ runner: false });
  try {
    const h = 32;
    const { model, spec } = await setup(instance, {
      hidden_size: h,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 64,
    });
    const a = instance.tenantA;
    const plan = await a.estimateJob(spec({ epochs: 3 }));
    assert.equal(plan.object, "fine_tuning.job.estimate");
    assert.deepEqual(plan.examples, { train: 160, validation: 40 }); // 200 rows, 20% held out
    assert.equal(plan.steps_per_epoch, Math.ceil(160 / 16));
    assert.equal(plan.total_steps, 3 * Math.ceil(160 / 16));
    assert.equal(plan.evaluations, 3);
    assert.equal(plan.parameters.total, model.parameters, "same count as the model record");
    assert.equal(plan.parameters.frozen, 0);
    assert.equal(plan.memory.weights_bytes, 4 * model.parameters);
    assert.equal(plan.memory.optimizer_bytes, 2 * 4 * plan.parameters.trainable, "AdamW keeps two moments");
    const m = plan.memory;
    assert.equal(m.peak_bytes, m.weights_bytes + m.gradients_bytes + m.optimizer_bytes + m.activations_bytes);
    assert.ok(plan.tokens.per_example_p50 <= plan.tokens.per_example_p90);
    assert.ok(plan.tokens.per_example_p90 <= 32);
    assert.ok(plan.flops.train > 0 && plan.estimated_seconds > 0);
    assert.equal(plan.time[0].seconds, plan.estimated_seconds);

    const accumulated = await a.estimateJob(spec({ epochs: 2, gradient_accumulation_steps: 3 }));
    assert.equal(accumulated.steps_per_epoch, Math.ceil(10 / 3));
    const capped = await a.estimateJob(spec({ max_seq_length: 8 }));
    assert.deepEqual([capped.tokens.per_example_p50, capped.tokens.per_example_p90], [8, 8]);
    assert.ok(capped.flops.train < plan.flops.train);

    const vocab = Number(model.config.vocab_size);
    const embeddings = (vocab + 512 + 2) * h + 2 * h;
    const frozenEmbeddings = await a.estimateJob(spec({ freeze_embeddings: true }));
    assert.equal(frozenEmbeddings.parameters.frozen, embeddings);
    const headOnly = await a.estimateJob(spec({ freeze_encoder: true }));
    assert.equal(headOnly.parameters.trainable, h * h + h + h * 2 + 2, "pooler + 2-label classifier");
    const sgd = await a.estimateJob(spec({ optimizer: "sgd", sgd_momentum: 0 }));
    assert.equal(sgd.memory.optimizer_bytes, 0);

    await rejects(a.estimateJob(spec({ freeze_layers: 5 })), 400, /freeze_layers/);
    await rejects(a.estimateJob({ ...spec({}), base_model: "mdl_missing" }), 404, /base_model 'mdl_missing'/);
    await rejects(a.estimateJob(spec({ epochs: 0 })), 400, /epochs/);
    await rejects(a.startJob({ ...spec({}), dry_run: "yes" } as never), 400, /dry_run/);
    assert.deepEqual((await a.listJobs()).data, [], "a dry run creates no job");
  } finally {
    await instance.stop();
  }
});

Deno.test("estimate: the dry-run time is within 2x of the measured run; running jobs report an ETA", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const { spec } = await setup(instance, {
      hidden_size: 128,
      num_hidden_layers: 3,
      num_attention_heads: 4,
      intermediate_size: 512,
    });
    const a = instance.tenantA;
    resetCalibration(); // measured now, under the same load as the run below
    const jobSpec = spec({ epochs: 16, seed: 5 });
    const plan = await a.estimateJob(jobSpec);
    const job = await a.startJob(jobSpec);
    const etas: number[] = [];
    let view: JobView = job;
    while (!["succeeded", "failed", "cancelled"].includes(view.status)) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      view = await a.getJobView(job.id);
      if (view.status === "running" && view.progress.step > 0) {
        assert.equal(typeof view.eta_seconds, "number", "a running job past its first step has an ETA");
        etas.push(view.eta_seconds!);
      }
    }
    assert.equal(view.status, "succeeded");
    assert.equal(view.eta_seconds, null, "no ETA once finished");
    assert.ok(etas.length > 0 && etas.every((eta) => Number.isFinite(eta) && eta >= 0), `etas ${etas}`);
    const measured = (Date.parse(view.finished_at!) - Date.parse(view.started_at!)) / 1000;
    const ratio = plan.estimated_seconds / measured;
    console.log(`estimate ${plan.estimated_seconds} s, measured ${measured} s, ratio ${ratio.toFixed(2)}`);
    assert.ok(ratio >= 0.5 && ratio <= 2, `estimate ${plan.estimated_seconds} s vs measured ${measured} s`);
    assert.equal(view.progress.total_steps, plan.total_steps, "the plan's steps are the job's steps");
  } finally {
    await instance.stop();
  }
});
