/**
 * Jobs that require a capability only run on runners that advertise it: a `requires: ["gpu"]` job stays
 * queued while only a plain runner is up, and runs as soon as a runner with `gpu` joins; plain jobs keep
 * running on the plain runner meanwhile. Runners register themselves in the metadata store while they run.
 */
import assert from "node:assert/strict";
import { createEmbeddedPlatform } from "../../shared/platform/mod.ts";
import { startServer } from "../../app/server.ts";
import { startRunner } from "../../runner/worker.ts";
import { EdgetuneClient, EdgetuneError } from "../../shared/client/mod.ts";

const reviews = await Deno.readFile(new URL("../../tools/demo/reviews.csv", import.meta.url));
const KEY = "capabilities-test-key-000000";

async function waitFor<T>(probe: () => Promise<T | null>, what: string, ms = 60_000): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const value = await probe();
    if (value !== null) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("a job that requires gpu waits for a gpu runner; plain jobs run meanwhile", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "edgetune-caps-" });
  const platform = await createEmbeddedPlatform(dataDir);
  const server = await startServer({ platform, apiKeys: new Map([[KEY, "t"]]), quiet: true });
  const client = new EdgetuneClient(server.url, KEY);
  let gpuRunner: Awaited<ReturnType<typeof startRunner>> | null = null;
  try {
    const dataset = await client.uploadDataset(reviews, { fileName: "reviews.csv" });
    const base = await client.createModel({
      name: "tiny",
      config: { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32 },
      tokenizer: { dataset: dataset.id, vocab_size: 200 },
    });
    const spec = {
      task: "text-classification",
      base_model: base.id,
      training_dataset: dataset.id,
      hyperparameters: { epochs: 1, batch_size: 32, max_seq_length: 16, learning_rate: 1e-3 },
    };
    await assert.rejects(
      client.createJob({ ...spec, requires: ["g p u"] } as never),
      (error: unknown) => error instanceof EdgetuneError && error.status === 400,
    );
    const gpuJob = await client.createJob({ ...spec, requires: ["gpu"] } as never);
    assert.deepEqual(gpuJob.requires, ["gpu"]);
    const plainJob = await client.createJob(spec as never);

    await waitFor(
      async () => (await client.getJob(plainJob.id)).status === "succeeded" ? true : null,
      "plain job",
    );
    assert.equal((await client.getJob(gpuJob.id)).status, "queued", "no gpu runner yet");

    gpuRunner = await startRunner({ platform, runnerId: "gpu-runner", capabilities: ["gpu"], log: () => {} });
    const registered = await platform.meta.get<{ capabilities: string[] }>("runners", "gpu-runner");
    assert.deepEqual(registered?.value.capabilities, ["gpu"]);
    await waitFor(
      async () => (await client.getJob(gpuJob.id)).status === "succeeded" ? true : null,
      "gpu job",
    );
    const events = await client.request<{ data: { type: string; data: Record<string, unknown> }[] }>(
      "GET",
      `/v1/jobs/${gpuJob.id}/events?format=json`,
    );
    const running = events.data.find((e) => e.type === "status" && e.data.status === "running");
    assert.equal(running?.data.runner, "gpu-runner");
  } finally {
    await gpuRunner?.stop();
    assert.equal(await platform.meta.get("runners", "gpu-runner"), null, "a stopped runner deregisters");
    await server.stop({ closePlatform: true });
    await Deno.remove(dataDir, { recursive: true });
  }
});
