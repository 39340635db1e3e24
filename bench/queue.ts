/**
 * `deno task bench queue`: the distributed platform on this machine (nats-server + s3rver started as in
 * the tests, runner processes spawned as `deno run -A runner/main.ts`). Prints (1) enqueue → runner start
 * latency (job created → `running` event) p50/p95 over sequential tiny jobs with one idle runner waiting,
 * (2) blob store upload and download throughput in MB/s for one streamed object, and (3) job throughput
 * (tiny jobs per minute, queue of N drained) with 1 vs 2 runner processes, as a ratio. Options:
 * `--jobs N` (default 8), `--latency-jobs N` (default 8), `--upload-mb N` (default 64).
 */
import { parseArgs } from "node:util";
import type { StoredEvent } from "../shared/platform/types.ts";
import {
  type ChaosWorld,
  eventsOf,
  type RunnerProcess,
  spawnRunner,
  startWorld,
  waitForFinal,
} from "../tests/chaos/harness.ts";

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const timeOf = (events: StoredEvent[], status: string) =>
  Date.parse(events.find((e) => e.type === "status" && e.data.status === status)!.time);

async function startRunners(world: ChaosWorld, count: number, tag: string): Promise<RunnerProcess[]> {
  const runners = Array.from(
    { length: count },
    (_, i) => spawnRunner(world, `bench-${tag}-${i}`, { RUNNER_CHECKPOINT_STEPS: "0" }),
  );
  const deadline = Date.now() + 60_000;
  while ((await world.platform.meta.list("runners", "")).length < count) {
    if (Date.now() > deadline) throw new Error("runners did not register within 60 s");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return runners;
}

async function retire(runners: RunnerProcess[]): Promise<void> {
  for (const r of runners) r.kill("SIGTERM");
  await Promise.all(runners.map((r) => r.exited));
}

async function drain(world: ChaosWorld, spec: Record<string, unknown>, jobs: number): Promise<number> {
  const started = performance.now();
  const created = await Promise.all(Array.from({ length: jobs }, () => world.client.createJob({ ...spec })));
  const done = await Promise.all(created.map((job) => waitForFinal(world, job.id, 300_000)));
  const failed = done.filter((job) => job.status !== "succeeded");
  if (failed.length > 0) {
    throw new Error(`${failed.length} jobs did not succeed: ${JSON.stringify(failed[0].error)}`);
  }
  return (performance.now() - started) / 1000;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      jobs: { type: "string", default: "8" },
      "latency-jobs": { type: "string", default: "8" },
      "upload-mb": { type: "string", default: "64" },
    },
  });
  const jobs = Number(values.jobs);
  const latencyJobs = Number(values["latency-jobs"]);
  const uploadMb = Number(values["upload-mb"]);
  const world = await startWorld();
  const spec: Record<string, unknown> = world.jobSpec; // a tiny BERT, 64 steps

  try {
    // 1. Enqueue → start latency, one idle runner, one job at a time.
    const one = await startRunners(world, 1, "latency");
    const latencies: number[] = [];
    for (let i = 0; i < latencyJobs; i++) {
      const job = await world.client.createJob({ ...spec });
      await waitForFinal(world, job.id, 120_000);
      const events = await eventsOf(world, job.id);
      latencies.push(timeOf(events, "running") - timeOf(events, "queued"));
    }
    await retire(one);
    console.log(
      `enqueue → running: p50 ${percentile(latencies, 50)} ms, p95 ${percentile(latencies, 95)} ms ` +
        `(${latencyJobs} jobs, one idle runner)`,
    );

    // 2. Blob throughput: one streamed object of uploadMb MiB in 1 MiB chunks.
    const chunk = new Uint8Array(1024 * 1024).map((_, i) => i * 31);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ >= uploadMb) controller.close();
        else controller.enqueue(chunk);
      },
    });
    let started = performance.now();
    await world.platform.blobs.put("bench/upload.bin", body);
    const upSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    let received = 0;
    for await (const part of (await world.platform.blobs.get("bench/upload.bin"))!) received += part.length;
    const downSeconds = (performance.now() - started) / 1000;
    await world.platform.blobs.delete("bench/upload.bin");
    console.log(
      `blob store (s3rver): upload ${(uploadMb / upSeconds).toFixed(1)} MB/s, download ` +
        `${(received / 1024 / 1024 / downSeconds).toFixed(1)} MB/s (${uploadMb} MiB object)`,
    );

    // 3. Throughput with 1 vs 2 runner processes.
    const results: Record<number, number> = {};
    for (const count of [1, 2]) {
      const runners = await startRunners(world, count, `x${count}`);
      const seconds = await drain(world, spec, jobs);
      await retire(runners);
      results[count] = (jobs / seconds) * 60;
      console.log(
        `${count} runner(s): ${jobs} tiny jobs in ${seconds.toFixed(1)} s = ${
          results[count].toFixed(1)
        } jobs/min`,
      );
    }
    console.log(
      `throughput ratio 2 runners / 1 runner: ${(results[2] / results[1]).toFixed(2)}x ` +
        `(this machine: ${navigator.hardwareConcurrency} cores)`,
    );
  } finally {
    await world.stop();
  }
}

if (import.meta.main) await run(Deno.args);
