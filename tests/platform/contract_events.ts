/**
 * Contract tests for the EventLog: gap-free seq numbers, replay after a seq, live follow across appends,
 * follow ending on abort, the per-stream retention limit and stream deletion.
 */
import assert from "node:assert/strict";
import type { StoredEvent } from "../../shared/platform/types.ts";
import {
  type ContractSettings,
  type DefineTest,
  type PlatformFactory,
  take,
  withPlatform,
} from "./contract_helpers.ts";

export function registerEventContract(
  factory: PlatformFactory,
  settings: ContractSettings,
  define: DefineTest,
): void {
  const test = (name: string, fn: () => Promise<void>) => define(`events: ${name}`, fn);

  test("append numbers events from 1; read replays after a seq and ends without follow", () =>
    withPlatform(factory, async ({ events }) => {
      const appended: StoredEvent[] = [];
      for (let i = 0; i < 4; i++) appended.push(await events.append("t1.job_a", "progress", { step: i }));
      await events.append("t1.job_b", "other", {});
      assert.deepEqual(appended.map((e) => e.seq), [1, 2, 3, 4]);
      assert.ok(!Number.isNaN(Date.parse(appended[0].time)));
      const all = await take(events.read("t1.job_a", {}));
      assert.deepEqual(all, appended);
      const later = await take(events.read("t1.job_a", { afterSeq: 2 }));
      assert.deepEqual(later.map((e) => [e.seq, e.data.step]), [[3, 2], [4, 3]]);
      assert.deepEqual(await take(events.read("t1.job_a", { afterSeq: 4 })), []);
      assert.deepEqual(await take(events.read("t1.none", {})), []);
    }));

  test("follow replays history, then yields live appends until aborted", () =>
    withPlatform(factory, async ({ events }) => {
      await events.append("t1.job_f", "queued", {});
      await events.append("t1.job_f", "started", {});
      const controller = new AbortController();
      const seen: string[] = [];
      let caughtUp: () => void = () => {};
      const replayed = new Promise<void>((resolve) => caughtUp = resolve);
      const following = (async () => {
        for await (
          const event of events.read("t1.job_f", { afterSeq: 1, follow: true, signal: controller.signal })
        ) {
          seen.push(`${event.seq}:${event.type}`);
          if (event.seq === 2) caughtUp();
          if (event.seq === 4) controller.abort();
        }
      })();
      await replayed;
      await events.append("t1.job_f", "progress", { step: 1 });
      await events.append("t1.job_other", "noise", {});
      await events.append("t1.job_f", "done", {});
      await following;
      assert.deepEqual(seen, ["2:started", "3:progress", "4:done"]);
    }));

  test("a follower that is aborted while waiting ends", () =>
    withPlatform(factory, async ({ events }) => {
      const controller = new AbortController();
      const following = take(events.read("t1.job_idle", { follow: true, signal: controller.signal }));
      controller.abort();
      assert.deepEqual(await following, []);
    }));

  test(`each stream keeps only its newest ${settings.eventRetention} events`, () =>
    withPlatform(factory, async ({ events }) => {
      const total = settings.eventRetention + 3;
      for (let i = 1; i <= total; i++) await events.append("t1.job_r", "tick", { i });
      const kept = await take(events.read("t1.job_r", {}));
      assert.deepEqual(
        kept.map((e) => e.seq),
        Array.from({ length: settings.eventRetention }, (_, i) => total - settings.eventRetention + 1 + i),
      );
      assert.equal(kept.at(-1)?.data.i, total);
      assert.equal((await events.append("t1.job_r", "tick", {})).seq, total + 1);
    }));

  test("delete removes a stream's history", () =>
    withPlatform(factory, async ({ events }) => {
      await events.append("t1.job_d", "a", {});
      await events.append("t1.job_keep", "a", {});
      await events.delete("t1.job_d");
      await events.delete("t1.job_never");
      assert.deepEqual(await take(events.read("t1.job_d", {})), []);
      assert.equal((await take(events.read("t1.job_keep", {}))).length, 1);
    }));
}
