/**
 * Runs the platform contract suite against the distributed platform on a real nats-server (JetStream) and
 * s3rver, started once for this file (tests/support/services.ts); each case gets its own namespace and
 * bucket. Also checks that two platform instances (two edge/runner processes) share data and notifications.
 * Without nats-server on PATH this FAILS, unless EDGETUNE_SKIP_SERVICES=1 skips it deliberately.
 */
import assert from "node:assert/strict";
import type { ManagedPlatform, PlatformOptions } from "../../shared/platform/mod.ts";
import {
  createDistributedPlatform,
  type DistributedPlatformOptions,
} from "../../shared/platform/distributed/platform.ts";
import { servicesSkipped, startServices, type TestServices } from "../support/services.ts";
import { platformContractCases } from "./contract.ts";
import { take } from "./contract_helpers.ts";

const options: Required<PlatformOptions> = { leaseMs: 300, maxDeliver: 3, eventRetention: 5 };
let instance = 0;

function platformOptions(services: TestServices, namespace: string): DistributedPlatformOptions {
  return {
    ...options,
    natsUrl: services.natsUrl,
    namespace,
    s3: { ...services.s3, bucket: `edgetune-${namespace.toLowerCase()}`, partSize: 5 * 1024 * 1024 },
  };
}

Deno.test({
  name: "distributed platform (nats-server + s3rver)",
  ignore: servicesSkipped(),
  async fn(t) {
    const services = await startServices();
    try {
      const factory = (): Promise<ManagedPlatform> =>
        createDistributedPlatform(platformOptions(services, `t${Date.now().toString(36)}${instance++}`));
      for (const { name, fn } of platformContractCases(factory, { name: "distributed", ...options })) {
        await t.step(name, fn);
      }

      await t.step("two platform instances see the same data", async () => {
        const edge = await createDistributedPlatform(platformOptions(services, "shared"));
        const runner = await createDistributedPlatform(platformOptions(services, "shared"));
        try {
          const controller = new AbortController();
          const watched = take(runner.meta.watch("jobs", "t1.", { signal: controller.signal }), 1);
          const taking = runner.queue.take();
          await edge.blobs.put("datasets/t1/ds_1/data.jsonl", new TextEncoder().encode('{"text":"hi"}\n'));
          await edge.meta.create("jobs", "t1.job_1", { status: "queued" });
          await edge.queue.publish({ tenant: "t1", jobId: "job_1" }, "job_1");
          const delivery = await taking;
          assert.equal(delivery?.message.jobId, "job_1");
          assert.equal((await runner.blobs.stat("datasets/t1/ds_1/data.jsonl"))?.size, 14);
          await runner.events.append("t1.job_1", "started", { step: 0 });
          await delivery?.ack();
          assert.deepEqual((await watched).map((c) => [c.key, c.value]), [["t1.job_1", {
            status: "queued",
          }]]);
          controller.abort();
          assert.deepEqual((await take(edge.events.read("t1.job_1", {}))).map((e) => e.type), ["started"]);
          assert.equal(await edge.queue.depth(), 0);
        } finally {
          await edge.close();
          await runner.close();
        }
      });
    } finally {
      await services.stop();
    }
  },
});
