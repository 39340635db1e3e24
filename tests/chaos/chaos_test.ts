/**
 * Chaos against real servers (nats-server + s3rver, runner processes): two runners drain a queue of jobs in
 * parallel and deregister on SIGTERM; a runner killed with SIGKILL mid-epoch after a checkpoint is replaced
 * by another that resumes and produces the same learning rates, losses and final weights as an
 * uninterrupted run (same seed, dropout on); the same when the kill lands while a checkpoint upload is in
 * flight (the previous checkpoint survives intact); a nats-server restart mid-job still ends in the same
 * model; SIGTERM checkpoints and requeues the running job; a cancel stops the job where it runs; a
 * duplicate create/publish makes one job.
 */
import assert from "node:assert/strict";
import { servicesSkipped } from "../support/services.ts";
import { decodeTrainerState } from "../../shared/core/train/trainer_state.ts";
import type { JobRecord } from "../../shared/schemas/resources.ts";
import type { RunnerRecord } from "../../runner/worker.ts";
import {
  checkpointBlobKey,
  eventsOf,
  finalWeights,
  type RunnerProcess,
  spawnRunner,
  startWorld,
  stepTable,
  waitForEvent,
  waitForFinal,
} from "./harness.ts";

Deno.test({
  name: "chaos: runners crash, restart and scale out without changing a job's result",
  ignore: servicesSkipped(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(context) {
    const world = await startWorld();
    /** A step whose failure shows the runners' output. */
    const t = {
      step: async (name: string, fn: () => Promise<void>) =>
        await context.step(name, async () => {
          try {
            await fn();
          } catch (error) {
            for (const r of runners) console.error(`--- ${r.id} ---\n${r.output().slice(-2000)}`);
            for (const r of runners) r.kill("SIGKILL"); // the next step starts from a clean slate
            await Promise.all(runners.map((r) => r.exited));
            throw error;
          }
        }),
    };
    const runners: RunnerProcess[] = [];
    const spawn = (id: string, env: Record<string, string> = {}) => {
      const runner = spawnRunner(world, id, env);
      runners.push(runner);
      return runner;
    };
    const createJob = () => world.client.createJob({ ...world.jobSpec });
    let reference: {
      job: JobRecord;
      steps: Map<number, [number, number]>;
      weights: Map<string, Float32Array>;
    };

    /** The interrupted job ended exactly like the reference: every step's LR and loss, final weights. */
    const assertLikeReference = async (job: JobRecord) => {
      assert.equal(job.status, "succeeded", JSON.stringify(job.error));
      const steps = stepTable(await eventsOf(world, job.id));
      assert.deepEqual([...steps.keys()].sort((a, b) => a - b), [...reference.steps.keys()]);
      for (const [step, row] of reference.steps) assert.deepEqual(steps.get(step), row, `step ${step}`);
      const weights = await finalWeights(world, job);
      assert.deepEqual([...weights.keys()], [...reference.weights.keys()]);
      for (const [name, values] of reference.weights) assert.deepEqual(weights.get(name), values, name);
      assert.deepEqual(await finalMetrics(job), await finalMetrics(reference.job));
      assert.equal(await world.platform.blobs.stat(checkpointBlobKey(job.id)), null, "checkpoint deleted");
    };

    /** The metrics the job finished with (its `succeeded` event; the record also holds throttled progress). */
    const finalMetrics = async (job: JobRecord) =>
      (await eventsOf(world, job.id)).find((e) => e.type === "status" && e.data.status === "succeeded")?.data
        .metrics;
    /** SIGTERM every runner still alive and wait for it to exit. */
    const retireAll = async () => {
      for (const r of runners) r.kill("SIGTERM");
      await Promise.all(runners.map((r) => r.exited));
    };

    try {
      await t.step("two runners drain four jobs in parallel, then deregister on SIGTERM", async () => {
        const a = spawn("runner-a", { RUNNER_CHECKPOINT_STEPS: "0" });
        const b = spawn("runner-b", { RUNNER_CHECKPOINT_STEPS: "0" });
        await waitFor(async () => (await world.platform.meta.list("runners", "")).length === 2, "2 runners");
        const jobs = await Promise.all([createJob(), createJob(), createJob(), createJob()]);
        const done = await Promise.all(jobs.map((job) => waitForFinal(world, job.id)));
        assert.deepEqual(done.map((j) => j.status), ["succeeded", "succeeded", "succeeded", "succeeded"]);
        const ranOn = await Promise.all(jobs.map(async (job) => {
          const running = (await eventsOf(world, job.id)).find((e) =>
            e.type === "status" && e.data.status === "running"
          );
          return String(running?.data.runner);
        }));
        assert.deepEqual([...new Set(ranOn)].sort(), ["runner-a", "runner-b"], `jobs ran on ${ranOn}`);
        const weights = await Promise.all(done.map((job) => finalWeights(world, job)));
        for (const w of weights.slice(1)) {
          assert.deepEqual(w, weights[0], "identical jobs give identical models");
        }
        reference = {
          job: done[0],
          steps: stepTable(await eventsOf(world, done[0].id)),
          weights: weights[0],
        };
        assert.ok(reference.steps.size >= 40, `${reference.steps.size} steps`);
        a.kill("SIGTERM");
        b.kill("SIGTERM");
        assert.deepEqual([(await a.exited).code, (await b.exited).code], [0, 0]);
        assert.deepEqual(await world.platform.meta.list<RunnerRecord>("runners", ""), []);
      });

      await t.step(
        "kill -9 mid-epoch after a checkpoint: a second runner resumes and ends identically",
        async () => {
          const job = await createJob();
          const first = spawn("runner-c", { RUNNER_CHECKPOINT_STEPS: "6" });
          const checkpoint = await waitForEvent(
            world,
            job.id,
            (e) => e.type === "checkpoint" && e.data.step === 12,
          );
          first.kill("SIGKILL");
          await first.exited;
          const killedAt = Math.max(...stepTable(await eventsOf(world, job.id)).keys());
          assert.ok(killedAt < reference.steps.size, `killed at step ${killedAt}, before the end`);
          spawn("runner-d", { RUNNER_CHECKPOINT_STEPS: "6" });
          const done = await waitForFinal(world, job.id);
          await retireAll();
          const events = await eventsOf(world, job.id);
          const resumed = events.find((e) =>
            e.type === "log" && String(e.data.message).startsWith("resumed from")
          );
          assert.ok(resumed, "the second runner resumed from a checkpoint");
          assert.ok(Number(String(resumed.data.message).split(" ").at(-1)) >= Number(checkpoint.data.step));
          await assertLikeReference(done);
        },
      );

      await t.step(
        "kill -9 during a checkpoint upload: the previous checkpoint survives and is resumed",
        async () => {
          const job = await createJob();
          const first = spawn("runner-e", {
            RUNNER_CHECKPOINT_STEPS: "8",
            RUNNER_TEST_UPLOAD_STALL_MS: "1500",
          });
          await waitForEvent(world, job.id, (e) => e.type === "checkpoint" && e.data.step === 8);
          await waitForEvent(world, job.id, (e) => e.type === "checkpoint_upload" && e.data.step === 16);
          first.kill("SIGKILL"); // the upload of step 16 is stalled half-way
          await first.exited;
          const events = await eventsOf(world, job.id);
          assert.ok(
            !events.some((e) => e.type === "checkpoint" && e.data.step === 16),
            "upload never finished",
          );
          const stored = await world.platform.blobs.get(checkpointBlobKey(job.id));
          assert.ok(stored, "the step-8 checkpoint is still there");
          const state = decodeTrainerState(new Uint8Array(await new Response(stored).arrayBuffer()));
          assert.equal(state.step, 8);
          spawn("runner-f", { RUNNER_CHECKPOINT_STEPS: "8" });
          const done = await waitForFinal(world, job.id);
          await retireAll();
          const logs = (await eventsOf(world, job.id)).filter((e) => e.type === "log").map((e) =>
            e.data.message
          );
          assert.ok(logs.includes("resumed from step 8"), JSON.stringify(logs));
          await assertLikeReference(done);
        },
      );

      await t.step("nats-server restarts mid-job: the job still completes with the same model", async () => {
        const runner = spawn("runner-g", { RUNNER_CHECKPOINT_STEPS: "4" });
        const job = await createJob();
        await waitForEvent(world, job.id, (e) => e.type === "checkpoint" && e.data.step === 8);
        await world.services.restartNats(500);
        const done = await waitForFinal(world, job.id, 90_000);
        await assertLikeReference(done);
        await retireAll();
        assert.equal((await runner.exited).code, 0);
      });

      await t.step("SIGTERM checkpoints the running job and requeues it for the next runner", async () => {
        const first = spawn("runner-h", { RUNNER_CHECKPOINT_STEPS: "0" });
        const job = await createJob();
        await waitForEvent(world, job.id, (e) => e.type === "step" && Number(e.data.step) >= 10);
        first.kill("SIGTERM");
        assert.equal((await first.exited).code, 0);
        const events = await eventsOf(world, job.id);
        const requeued = events.find((e) =>
          e.type === "status" && e.data.status === "queued" && e.data.reason
        );
        assert.equal(requeued?.data.reason, "runner shutting down");
        const saved = events.filter((e) => e.type === "checkpoint").map((e) => Number(e.data.step));
        assert.equal(saved.length, 1, "exactly one checkpoint: the shutdown one");
        assert.equal((await world.client.getJob(job.id)).status, "queued");
        spawn("runner-i", { RUNNER_CHECKPOINT_STEPS: "0" });
        const done = await waitForFinal(world, job.id);
        await retireAll();
        const logs = (await eventsOf(world, job.id)).filter((e) => e.type === "log").map((e) =>
          e.data.message
        );
        assert.ok(logs.includes(`resumed from step ${saved[0]}`), JSON.stringify(logs));
        await assertLikeReference(done);
      });

      await t.step("a cancel stops the job on the runner that has it and drops its checkpoint", async () => {
        spawn("runner-j", { RUNNER_CHECKPOINT_STEPS: "2" });
        const job = await createJob();
        await waitForEvent(world, job.id, (e) => e.type === "checkpoint" && e.data.step === 4);
        await world.client.cancelJob(job.id);
        const done = await waitForFinal(world, job.id);
        await retireAll();
        assert.equal(done.status, "cancelled");
        const ran = stepTable(await eventsOf(world, job.id)).size;
        assert.ok(ran < reference.steps.size, `stopped after ${ran} of ${reference.steps.size} steps`);
        assert.equal(await world.platform.blobs.stat(checkpointBlobKey(job.id)), null, "checkpoint deleted");
      });

      await t.step("a duplicate create or publish makes one job", async () => {
        await retireAll();
        const depth = await world.platform.queue.depth();
        const one = await world.client.createJob({ ...world.jobSpec }, "same-key");
        const two = await world.client.createJob({ ...world.jobSpec }, "same-key");
        assert.equal(two.id, one.id);
        assert.deepEqual(await world.platform.queue.publish({ tenant: "chaos", jobId: one.id }, one.id), {
          duplicate: true,
        });
        assert.equal(await world.platform.queue.depth(), depth + 1);
      });
    } finally {
      for (const r of runners) r.kill("SIGKILL");
      await Promise.all(runners.map((r) => r.exited));
      await world.stop();
    }
  },
});

async function waitFor(check: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
