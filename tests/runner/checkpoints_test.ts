/**
 * The runner's crash safety on the embedded platform (no services needed): JobCheckpoints stores, announces,
 * reloads and deletes a job's trainer state and drops an unreadable one; a runner registers itself in
 * "runners" with the job it runs; `shutdown()` checkpoints the running job, puts it back to `queued` with
 * the reason and releases it; a second runner resumes it from that checkpoint and finishes with the same
 * losses and weights as a job that was never interrupted; the checkpoint is deleted after success.
 */
import assert from "node:assert/strict";
import { createEmbeddedPlatform } from "../../shared/platform/mod.ts";
import type { Platform, StoredEvent } from "../../shared/platform/types.ts";
import { startServer } from "../../app/server.ts";
import { EdgetuneClient } from "../../shared/client/mod.ts";
import { checkpointKey, JobCheckpoints } from "../../runner/checkpoints.ts";
import { type RunnerRecord, startRunner } from "../../runner/worker.ts";
import type { TrainerState } from "../../shared/core/train/trainer_state.ts";
import type { JobRecord } from "../../shared/schemas/resources.ts";

const API_KEY = "runner-test-key-000000000000";

async function world() {
  const dataDir = await Deno.makeTempDir({ prefix: "edgetune-runner-" });
  const platform = await createEmbeddedPlatform(dataDir, { leaseMs: 5000 });
  const server = await startServer({
    platform,
    apiKeys: new Map([[API_KEY, "t"]]),
    runner: false,
    quiet: true,
  });
  const client = new EdgetuneClient(server.url, API_KEY);
  return {
    platform,
    client,
    async stop() {
      await server.stop({ closePlatform: true });
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

async function events(platform: Platform, key: string) {
  const out: StoredEvent[] = [];
  for await (const e of platform.events.read(key, {})) out.push(e);
  return out;
}

function tinyState(step: number): TrainerState {
  return {
    version: 1,
    fingerprint: { examples: 4, batchSize: 2, accumulation: 1, totalSteps: 4, seed: 1 },
    step,
    epoch: 1,
    batchInEpoch: 0,
    microBatches: step,
    shuffle: { seed: 7, state: [1, 2, 3, 4], pendingNormal: null },
    lossSum: 1.5,
    lastEval: {},
    plateau: { scale: 1, best: Infinity, numBadEvals: 0, cooldownCounter: 0 },
    earlyStopping: null,
    best: null,
    bestWeights: null,
    weights: new Map([["w", { shape: [2], data: Float32Array.of(step, -step) }]]),
    optimizer: { step, slots: {} },
  };
}

Deno.test("JobCheckpoints: save announces and replaces, load decodes, clear deletes, junk is dropped", async () => {
  const w = await world();
  try {
    const checkpoints = new JobCheckpoints(w.platform, "t", "job_x", { steps: 2, stallMs: 5 });
    assert.equal(await checkpoints.load(), null);
    await checkpoints.save(tinyState(2));
    await checkpoints.save(tinyState(4));
    const loaded = await checkpoints.load();
    assert.equal(loaded?.step, 4);
    assert.deepEqual(loaded?.weights.get("w")?.data, Float32Array.of(4, -4));
    assert.equal(loaded?.plateau?.best, Infinity);
    const types = (await events(w.platform, "t.job_x")).map((e) => `${e.type}:${e.data.step}`);
    assert.deepEqual(types, ["checkpoint_upload:2", "checkpoint:2", "checkpoint_upload:4", "checkpoint:4"]);
    await checkpoints.clear();
    assert.equal(await w.platform.blobs.stat(checkpointKey("t", "job_x")), null);
    await w.platform.blobs.put(checkpointKey("t", "job_x"), new TextEncoder().encode("not a state"));
    assert.equal(await checkpoints.load(), null);
    assert.equal(await w.platform.blobs.stat(checkpointKey("t", "job_x")), null, "junk deleted");
  } finally {
    await w.stop();
  }
});

Deno.test("shutdown checkpoints and requeues the running job; another runner resumes it exactly", async () => {
  const w = await world();
  try {
    const lines = (await Deno.readTextFile(new URL("../../tools/demo/reviews.csv", import.meta.url))).split(
      "\n",
    );
    const dataset = await w.client.uploadDataset(new TextEncoder().encode(lines.slice(0, 33).join("\n")), {
      fileName: "r.csv",
    });
    const base = await w.client.createModel({
      name: "tiny",
      architecture: "bert",
      config: { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32 },
      tokenizer: { dataset: dataset.id, column: "text", vocab_size: 150, lowercase: true },
      seed: 1,
    });
    const spec: Record<string, unknown> = {
      task: "text-classification",
      base_model: base.id,
      training_dataset: dataset.id,
      validation_split: 0.25,
      hyperparameters: { learning_rate: 3e-3, epochs: 3, batch_size: 2, max_seq_length: 16, seed: 2 },
    };
    const quiet = () => {};
    const reference = await w.client.createJob({ ...spec });
    const interrupted = await w.client.createJob({ ...spec });
    const first = await startRunner({ platform: w.platform, runnerId: "first", checkpoints: {}, log: quiet });
    const referenceKey = `t.${reference.id}`;
    const key = `t.${interrupted.id}`;
    let seenRegistered = false;
    for await (
      const e of w.platform.events.read(key, { follow: true, signal: AbortSignal.timeout(60_000) })
    ) {
      if (e.type !== "step" || Number(e.data.step) < 5) continue;
      const record = await w.platform.meta.get<RunnerRecord>("runners", "first");
      seenRegistered = record?.value.running.includes(key) ?? false;
      break;
    }
    await first.shutdown();
    assert.ok(seenRegistered, "the runner's record lists the job it runs");
    assert.deepEqual(await w.platform.meta.list("runners", ""), [], "deregistered");
    assert.equal((await w.client.getJob(interrupted.id)).status, "queued");
    const afterShutdown = await events(w.platform, key);
    const requeue = afterShutdown.find((e) =>
      e.type === "status" && e.data.status === "queued" && e.data.reason
    );
    assert.equal(requeue?.data.reason, "runner shutting down");
    const saved = afterShutdown.filter((e) => e.type === "checkpoint").map((e) => Number(e.data.step));
    assert.equal(saved.length, 1);

    const second = await startRunner({ platform: w.platform, runnerId: "second", log: quiet });
    for (const id of [reference.id, interrupted.id]) {
      for await (
        const e of w.platform.events.read(`t.${id}`, { follow: true, signal: AbortSignal.timeout(60_000) })
      ) {
        if (e.type === "status" && e.data.status === "succeeded") break;
      }
    }
    await second.stop();
    const all = await events(w.platform, key);
    assert.ok(all.some((e) => e.type === "log" && e.data.message === `resumed from step ${saved[0]}`));
    const table = (list: StoredEvent[]) => {
      const byStep = new Map<number, unknown>();
      for (const e of list) {
        if (e.type === "step") byStep.set(Number(e.data.step), [e.data.learning_rate, e.data.loss]);
      }
      return [...byStep].sort((a, b) => a[0] - b[0]);
    };
    assert.deepEqual(table(all), table(await events(w.platform, referenceKey)));
    const weights = async (job: JobRecord) => {
      const done = await w.client.getJob(job.id);
      const stream = await w.platform.blobs.get(`models/t/${done.fine_tuned_model}/model.safetensors`);
      return new Uint8Array(await new Response(stream!).arrayBuffer());
    };
    assert.deepEqual(await weights(interrupted), await weights(reference), "byte-identical model files");
    assert.equal(await w.platform.blobs.stat(checkpointKey("t", interrupted.id)), null, "checkpoint deleted");
  } finally {
    await w.stop();
  }
});
