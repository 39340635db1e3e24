/**
 * Contract tests for the JobQueue: publish/take/ack and depth, dedupe, at-least-once redelivery after a
 * lease runs out (attempt 2), lease loss, the capabilities filter, retry delays, giveUp and automatic
 * give-up past maxDeliver (dead letters and onGiveUp), and take ending on abort or close.
 */
import assert from "node:assert/strict";
import { type DeadLetter, LeaseLostError } from "../../shared/platform/mod.ts";
import {
  abortAfter,
  type ContractSettings,
  type DefineTest,
  type PlatformFactory,
  withPlatform,
} from "./contract_helpers.ts";

export function registerQueueContract(
  factory: PlatformFactory,
  settings: ContractSettings,
  define: DefineTest,
): void {
  const test = (name: string, fn: () => Promise<void>) => define(`queue: ${name}`, fn);

  test("publish, take and ack; depth counts waiting and leased messages; dedupe", () =>
    withPlatform(factory, async ({ queue }) => {
      assert.equal(await queue.depth(), 0);
      assert.deepEqual(await queue.publish({ tenant: "t1", jobId: "job_a" }, "job_a"), { duplicate: false });
      assert.deepEqual(await queue.publish({ tenant: "t1", jobId: "job_b" }, "job_b"), { duplicate: false });
      assert.deepEqual(await queue.publish({ tenant: "t1", jobId: "job_a" }, "job_a"), { duplicate: true });
      assert.equal(await queue.depth(), 2);

      const first = await queue.take();
      assert.ok(first);
      assert.deepEqual([first.message.jobId, first.attempt], ["job_a", 1]);
      assert.equal(await queue.depth(), 2); // one waiting, one leased
      await first.extendLease();
      await first.ack();
      assert.equal(await queue.depth(), 1);
      const second = await queue.take();
      assert.equal(second?.message.jobId, "job_b");
      await second?.ack();
      assert.equal(await queue.depth(), 0);
      // The dedupe id is remembered after the message is gone.
      assert.deepEqual(await queue.publish({ tenant: "t1", jobId: "job_a" }, "job_a"), { duplicate: true });
      assert.equal(await queue.depth(), 0);
    }));

  test("take waits for a later publish", () =>
    withPlatform(factory, async ({ queue }) => {
      const taking = queue.take();
      await queue.publish({ tenant: "t1", jobId: "job_late" }, "job_late");
      const delivery = await taking;
      assert.equal(delivery?.message.jobId, "job_late");
      await delivery?.ack();
    }));

  test("an unacknowledged lease runs out and the message is redelivered with attempt 2", () =>
    withPlatform(factory, async ({ queue }) => {
      await queue.publish({ tenant: "t1", jobId: "job_crash", requires: [] }, "job_crash");
      const first = await queue.take();
      assert.equal(first?.attempt, 1);
      const second = await queue.take(); // waits for the lease to run out
      assert.ok(second);
      assert.deepEqual([second.message.jobId, second.attempt], ["job_crash", 2]);
      await assert.rejects(first!.extendLease(), LeaseLostError);
      await second.ack();
      assert.equal(await queue.depth(), 0);
    }));

  test("messages requiring a capability only go to runners that have it", () =>
    withPlatform(factory, async ({ queue }) => {
      await queue.publish({ tenant: "t1", jobId: "job_gpu", requires: ["gpu"] }, "job_gpu");
      await queue.publish({ tenant: "t1", jobId: "job_any" }, "job_any");
      for (const bad of [["gpu_a100"], ["any"], [""]]) {
        await assert.rejects(queue.publish({ tenant: "t1", jobId: "job_bad", requires: bad }, `bad-${bad}`), {
          name: "ApiError",
          status: 400,
        });
      }
      const cpu = await queue.take({ capabilities: [] });
      assert.equal(cpu?.message.jobId, "job_any");
      await cpu?.ack();
      const timeout = abortAfter(settings.leaseMs * 2);
      assert.equal(await queue.take({ capabilities: ["avx"], signal: timeout.signal }), null);
      timeout.clear();
      const gpu = await queue.take({ capabilities: ["gpu", "avx"] });
      assert.deepEqual(gpu?.message, { tenant: "t1", jobId: "job_gpu", requires: ["gpu"] });
      await gpu?.ack();
      assert.equal(await queue.depth(), 0);
    }));

  test("a gpu runner also takes messages that need nothing", () =>
    withPlatform(factory, async ({ queue }) => {
      await queue.publish({ tenant: "t1", jobId: "job_plain" }, "job_plain");
      const delivery = await queue.take({ capabilities: ["gpu"] });
      assert.equal(delivery?.message.jobId, "job_plain");
      await delivery?.ack();
    }));

  test("retry redelivers after the delay with the next attempt number", () =>
    withPlatform(factory, async ({ queue }) => {
      await queue.publish({ tenant: "t1", jobId: "job_retry" }, "job_retry");
      const first = await queue.take();
      const delayMs = settings.leaseMs;
      const retriedAt = performance.now();
      await first?.retry(delayMs);
      const second = await queue.take();
      const waited = performance.now() - retriedAt;
      assert.deepEqual([second?.message.jobId, second?.attempt], ["job_retry", 2]);
      assert.ok(waited >= delayMs * 0.9, `redelivered after ${waited} ms, before the ${delayMs} ms delay`);
      await second?.ack();
    }));

  test("giveUp removes the message for good and records the reason", () =>
    withPlatform(factory, async ({ queue }) => {
      const announced: DeadLetter[] = [];
      const unsubscribe = queue.onGiveUp((letter) => void announced.push(letter));
      await queue.publish({ tenant: "t1", jobId: "job_bad" }, "job_bad");
      const delivery = await queue.take();
      await delivery?.giveUp("dataset is corrupt");
      assert.equal(await queue.depth(), 0);
      const letters = await queue.deadLetters();
      assert.equal(letters.length, 1);
      assert.equal(letters[0].message.jobId, "job_bad");
      assert.equal(letters[0].reason, "dataset is corrupt");
      assert.equal(letters[0].automatic, false);
      assert.deepEqual(announced.map((l) => l.message.jobId), ["job_bad"]);
      await queue.forgetDeadLetter(letters[0].id);
      assert.deepEqual(await queue.deadLetters(), []);
      unsubscribe();
      const timeout = abortAfter(settings.leaseMs * 2);
      assert.equal(await queue.take({ signal: timeout.signal }), null);
      timeout.clear();
    }));

  test(`a message is given up automatically after maxDeliver (${settings.maxDeliver}) deliveries`, () =>
    withPlatform(factory, async ({ queue }) => {
      const announced: DeadLetter[] = [];
      queue.onGiveUp((letter) => void announced.push(letter));
      await queue.publish({ tenant: "t1", jobId: "job_flaky" }, "job_flaky");
      const attempts: number[] = [];
      for (let i = 0; i < settings.maxDeliver; i++) {
        const delivery = await queue.take();
        assert.ok(delivery);
        attempts.push(delivery.attempt);
        await delivery.retry(0);
      }
      assert.deepEqual(attempts, Array.from({ length: settings.maxDeliver }, (_, i) => i + 1));
      const letters = await queue.deadLetters();
      assert.equal(letters.length, 1);
      assert.equal(letters[0].automatic, true);
      assert.equal(letters[0].attempts, settings.maxDeliver);
      assert.match(letters[0].reason, /maxDeliver/);
      assert.deepEqual(announced.map((l) => l.message.jobId), ["job_flaky"]);
      assert.equal(await queue.depth(), 0);
    }));

  test("a message whose leases keep running out is given up after maxDeliver deliveries", () =>
    withPlatform(factory, async ({ queue }) => {
      const announced: DeadLetter[] = [];
      queue.onGiveUp((letter) => void announced.push(letter));
      await queue.publish({ tenant: "t1", jobId: "job_dies" }, "job_dies");
      for (let attempt = 1; attempt <= settings.maxDeliver; attempt++) {
        assert.equal((await queue.take())?.attempt, attempt); // never acknowledged: the runner "dies"
      }
      const timeout = abortAfter(settings.leaseMs * 3);
      assert.equal(await queue.take({ signal: timeout.signal }), null);
      timeout.clear();
      assert.deepEqual(announced.map((l) => [l.message.jobId, l.automatic, l.attempts]), [
        ["job_dies", true, settings.maxDeliver],
      ]);
      assert.equal((await queue.deadLetters()).length, 1);
      assert.equal(await queue.depth(), 0);
    }));

  test("take resolves null when its signal aborts or the queue closes", async () => {
    const platform = await factory();
    try {
      const controller = new AbortController();
      const waiting = platform.queue.take({ signal: controller.signal });
      controller.abort();
      assert.equal(await waiting, null);
      const pending = platform.queue.take();
      await platform.close();
      assert.equal(await pending, null);
    } finally {
      await platform.close();
    }
  });
}
