/**
 * Runs the platform contract suite against the embedded platform (a fresh temp data dir per test), plus
 * embedded-only checks: jobs and records survive a restart, and a lease held when the process stopped
 * expires into a redelivery after the restart.
 */
import assert from "node:assert/strict";
import {
  createEmbeddedPlatform,
  type ManagedPlatform,
  type PlatformOptions,
} from "../../shared/platform/mod.ts";
import { registerPlatformContract } from "./contract.ts";

const options: Required<PlatformOptions> = { leaseMs: 300, maxDeliver: 3, eventRetention: 5 };

async function freshPlatform(): Promise<ManagedPlatform> {
  const dir = await Deno.makeTempDir({ prefix: "edgetune-platform-" });
  const platform = await createEmbeddedPlatform(dir, options);
  return {
    ...platform,
    close: async () => {
      await platform.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

registerPlatformContract(freshPlatform, { name: "embedded", ...options });

Deno.test("embedded: records, queued jobs and expired leases survive a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgetune-restart-" });
  try {
    const before = await createEmbeddedPlatform(dir, options);
    await before.meta.create("jobs", "t1.job_x", { status: "queued" });
    await before.queue.publish({ tenant: "t1", jobId: "job_x" }, "job_x");
    await before.queue.publish({ tenant: "t1", jobId: "job_y" }, "job_y");
    const leased = await before.queue.take();
    assert.equal(leased?.message.jobId, "job_x");
    await before.events.append("t1.job_x", "queued", {});
    await before.close(); // the process "dies" holding the lease on job_x

    const after = await createEmbeddedPlatform(dir, options);
    try {
      assert.deepEqual((await after.meta.get("jobs", "t1.job_x"))?.value, { status: "queued" });
      assert.equal(await after.queue.depth(), 2);
      assert.deepEqual(await after.queue.publish({ tenant: "t1", jobId: "job_x" }, "job_x"), {
        duplicate: true,
      });
      const taken = [await after.queue.take(), await after.queue.take()];
      assert.deepEqual(taken.map((d) => [d?.message.jobId, d?.attempt]).sort(), [["job_x", 2], ["job_y", 1]]);
      for (const delivery of taken) await delivery?.ack();
      assert.equal((await after.events.append("t1.job_x", "started", {})).seq, 2);
    } finally {
      await after.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("embedded: two platforms on one data dir share notifications", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgetune-shared-" });
  const edge = await createEmbeddedPlatform(dir, options);
  const runner = await createEmbeddedPlatform(dir, options);
  try {
    const taking = runner.queue.take();
    await edge.queue.publish({ tenant: "t1", jobId: "job_s" }, "job_s");
    const delivery = await taking;
    assert.equal(delivery?.message.jobId, "job_s");
    await delivery?.ack();
    await runner.meta.create("jobs", "t1.job_s", { status: "done" });
    assert.deepEqual((await edge.meta.get("jobs", "t1.job_s"))?.value, { status: "done" });
  } finally {
    await edge.close();
    await runner.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("embedded: a failed put leaves no temporary file behind", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgetune-blobs-" });
  const platform = await createEmbeddedPlatform(dir, options);
  try {
    const failing = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(1000));
        controller.error(new Error("aborted upload"));
      },
    });
    await assert.rejects(platform.blobs.put("datasets/t1/ds_x/data.csv", failing), /aborted upload/);
    const leftovers: string[] = [];
    for await (const entry of Deno.readDir(`${dir}/blobs/datasets/t1/ds_x`)) leftovers.push(entry.name);
    assert.deepEqual(leftovers, []);
  } finally {
    await platform.close();
    await Deno.remove(dir, { recursive: true });
  }
});
