/**
 * The training settings over HTTP (issue 3's acceptance): a job combining layer-wise LR decay, gradual
 * unfreezing, LAMB and a cyclic schedule runs end to end, its step events show the cyclic learning rate,
 * and out-of-range or inconsistent settings (freezing more layers than the model has, Nesterov without
 * momentum) are refused with a 400 that names the field — before anything is queued.
 */
import assert from "node:assert/strict";
import { startEmbeddedInstance } from "../support/embedded_instance.ts";
import { EdgetuneError, type JobEvent } from "../../shared/client/mod.ts";

const reviews = await Deno.readFile(new URL("../../tools/demo/reviews.csv", import.meta.url));

Deno.test("a LAMB + cyclic LR + layer-wise decay + gradual unfreezing job runs end to end", async () => {
  const instance = await startEmbeddedInstance();
  try {
    const { tenantA } = instance;
    const dataset = await tenantA.uploadDataset(reviews, { fileName: "reviews.csv" });
    const base = await tenantA.createModel({
      name: "tiny",
      config: { hidden_size: 32, num_hidden_layers: 3, num_attention_heads: 2, intermediate_size: 64 },
      tokenizer: { dataset: dataset.id, vocab_size: 400 },
      seed: 2,
    });
    const hyperparameters = {
      learning_rate: 4e-3,
      epochs: 4,
      batch_size: 16,
      max_seq_length: 32,
      optimizer: "lamb",
      lr_scheduler_type: "cyclic",
      cyclic_step_size_up: 5,
      cyclic_mode: "triangular2",
      layer_lr_decay: 0.8,
      gradual_unfreezing: { interval: 1, unit: "epoch", initial_groups: 1 },
      seed: 5,
    };
    const job = await tenantA.createJob({
      task: "text-classification",
      base_model: base.id,
      training_dataset: dataset.id,
      validation_split: 0.2,
      hyperparameters,
    } as never);
    assert.equal(job.hyperparameters.optimizer, "lamb");
    assert.equal(job.hyperparameters.layer_lr_decay, 0.8);

    const events: JobEvent[] = [];
    await tenantA.followEvents(job.id, (event) => events.push(event), {
      signal: AbortSignal.timeout(120_000),
    });
    const done = await tenantA.getJob(job.id);
    assert.equal(done.status, "succeeded", JSON.stringify(done.error));

    // torch CyclicLR triangular2 between learning_rate/10 and learning_rate, 5 steps up, 5 down, amplitude
    // halved every cycle: the reported LR follows it step by step.
    const lrs = events.filter((e) => e.type === "step").map((e) => Number(e.data.learning_rate));
    assert.equal(lrs.length, 40);
    const low = 4e-4, high = 4e-3;
    const expected = lrs.map((_, step) => {
      const cycle = Math.floor(1 + step / 10);
      const x = Math.abs(step / 5 - 2 * cycle + 1);
      return low + (high - low) * Math.max(0, 1 - x) / 2 ** (cycle - 1);
    });
    lrs.forEach((lr, i) =>
      assert.ok(Math.abs(lr - expected[i]) < 1e-9, `step ${i}: ${lr} vs ${expected[i]}`)
    );
    assert.ok(events.some((e) => e.type === "eval"));
  } finally {
    await instance.stop();
  }
});

Deno.test("bad or inconsistent training settings are a 400 naming the field, and queue nothing", async () => {
  const instance = await startEmbeddedInstance({ runner: false });
  try {
    const { tenantA } = instance;
    const dataset = await tenantA.uploadDataset(reviews, { fileName: "reviews.csv" });
    const base = await tenantA.createModel({
      name: "tiny",
      config: { hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32 },
      tokenizer: { dataset: dataset.id, vocab_size: 200 },
    });
    const attempt = (hyperparameters: Record<string, unknown>) =>
      tenantA.createJob({
        task: "text-classification",
        base_model: base.id,
        training_dataset: dataset.id,
        hyperparameters,
      } as never);
    const cases: [Record<string, unknown>, string][] = [
      [{ freeze_layers: 3 }, "freeze_layers"],
      [{ lr_multipliers: { "layer.5": 0.5 } }, "lr_multipliers"],
      [{ optimizer: "sgd", sgd_nesterov: true, sgd_momentum: 0 }, "sgd_nesterov"],
      [{ learning_rate: -1 }, "learning_rate"],
      [{ layer_lr_decay: 1.5 }, "layer_lr_decay"],
      [{ lr_scheduler_type: "sawtooth" }, "lr_scheduler_type"],
      [{ gradient_accumulation_steps: 0 }, "gradient_accumulation_steps"],
      [{ not_a_setting: 1 }, "not_a_setting"],
    ];
    for (const [hyperparameters, field] of cases) {
      await assert.rejects(attempt(hyperparameters), (error: unknown) => {
        assert.ok(error instanceof EdgetuneError);
        assert.equal(error.status, 400, `${field}: ${error.message}`);
        assert.match(JSON.stringify(error.details) + error.message, new RegExp(field), field);
        return true;
      });
    }
    const jobs = await tenantA.request<{ data: unknown[] }>("GET", "/v1/jobs");
    assert.equal(jobs.data.length, 0);
  } finally {
    await instance.stop();
  }
});
