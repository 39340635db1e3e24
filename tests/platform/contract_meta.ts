/**
 * Contract tests for MetaStore (and updateWithRetry): compare-and-set create/update/delete, prefix listing
 * in key order, prefix watches with initial values and deletes, key validation and the value size limit.
 */
import assert from "node:assert/strict";
import { ApiError, ConflictError } from "../../shared/schemas/errors.ts";
import { updateWithRetry } from "../../shared/platform/meta_helpers.ts";
import type { MetaChange } from "../../shared/platform/types.ts";
import {
  abortAfter,
  type ContractSettings,
  type DefineTest,
  type PlatformFactory,
  withPlatform,
} from "./contract_helpers.ts";

interface Doc {
  name: string;
  n: number;
}

export function registerMetaContract(
  factory: PlatformFactory,
  settings: ContractSettings,
  define: DefineTest,
): void {
  const test = (name: string, fn: () => Promise<void>) => define(`meta: ${name}`, fn);

  test("create, get, update and delete are compare-and-set", () =>
    withPlatform(factory, async ({ meta }) => {
      assert.equal(await meta.get("datasets", "t1.missing"), null);
      const created = await meta.create<Doc>("datasets", "t1.a", { name: "a", n: 1 });
      assert.deepEqual(created.value, { name: "a", n: 1 });
      await assert.rejects(meta.create<Doc>("datasets", "t1.a", { name: "again", n: 0 }), ConflictError);
      const read = await meta.get<Doc>("datasets", "t1.a");
      assert.deepEqual(read, created);

      const updated = await meta.update<Doc>("datasets", "t1.a", { name: "a", n: 2 }, created.revision);
      assert.notEqual(updated.revision, created.revision);
      assert.equal((await meta.get<Doc>("datasets", "t1.a"))?.value.n, 2);
      await assert.rejects(
        meta.update("datasets", "t1.a", { name: "a", n: 3 }, created.revision),
        ConflictError,
      );
      await assert.rejects(
        meta.update("datasets", "t1.nope", { name: "x", n: 0 }, created.revision),
        ConflictError,
      );

      await assert.rejects(meta.delete("datasets", "t1.a", created.revision), ConflictError);
      assert.equal((await meta.get<Doc>("datasets", "t1.a"))?.value.n, 2);
      await meta.delete("datasets", "t1.a", updated.revision);
      assert.equal(await meta.get("datasets", "t1.a"), null);
      await meta.delete("datasets", "t1.a"); // missing: not an error
      const recreated = await meta.create<Doc>("datasets", "t1.a", { name: "new", n: 0 });
      assert.equal(recreated.value.name, "new");
      // Collections are separate namespaces.
      assert.equal(await meta.get("models", "t1.a"), null);
    }));

  test("list returns the prefixed records in key order", () =>
    withPlatform(factory, async ({ meta }) => {
      for (const key of ["t1.c", "t10.a", "t1.a", "t2.a", "t1.b"]) {
        await meta.create<Doc>("jobs", key, { name: key, n: key.length });
      }
      await meta.create<Doc>("models", "t1.z", { name: "other collection", n: 0 });
      const t1 = await meta.list<Doc>("jobs", "t1.");
      assert.deepEqual(t1.map((r) => r.key), ["t1.a", "t1.b", "t1.c"]);
      assert.deepEqual(t1.map((r) => r.value.name), ["t1.a", "t1.b", "t1.c"]);
      const all = await meta.list<Doc>("jobs", "");
      assert.deepEqual(all.map((r) => r.key), ["t1.a", "t1.b", "t1.c", "t10.a", "t2.a"]);
      for (const record of all) assert.equal(record.revision, (await meta.get("jobs", record.key))?.revision);
      assert.deepEqual(await meta.list("jobs", "t3."), []);
    }));

  test("watch delivers initial values, later changes and deletes under the prefix", () =>
    withPlatform(factory, async ({ meta }) => {
      await meta.create<Doc>("jobs", "t1.old", { name: "old", n: 0 });
      await meta.create<Doc>("jobs", "t2.other", { name: "other", n: 0 });
      const controller = new AbortController();
      const seen: MetaChange<Doc>[] = [];
      let resolveReady: () => void = () => {};
      const ready = new Promise<void>((resolve) => resolveReady = resolve);
      const watching = (async () => {
        for await (
          const change of meta.watch<Doc>("jobs", "t1.", { signal: controller.signal, initial: true })
        ) {
          seen.push(change);
          if (seen.length === 1) resolveReady();
          if (seen.length === 4) controller.abort();
        }
      })();
      await ready; // the initial value arrived, so the watch is live
      const created = await meta.create<Doc>("jobs", "t1.new", { name: "new", n: 1 });
      await meta.create<Doc>("jobs", "t2.ignored", { name: "ignored", n: 1 });
      const updated = await meta.update<Doc>("jobs", "t1.new", { name: "new", n: 2 }, created.revision);
      await meta.delete("jobs", "t1.old");
      await watching;
      assert.deepEqual(seen.map((c) => [c.key, c.value?.n ?? null]), [
        ["t1.old", 0],
        ["t1.new", 1],
        ["t1.new", 2],
        ["t1.old", null],
      ]);
      assert.equal(seen[2].revision, updated.revision);
    }));

  test("watch without initial starts from now and ends when its signal aborts", () =>
    withPlatform(factory, async ({ meta }) => {
      await meta.create<Doc>("deployments", "t1.before", { name: "before", n: 0 });
      const timeout = abortAfter(settings.leaseMs);
      const seen: string[] = [];
      for await (const change of meta.watch<Doc>("deployments", "t1.", { signal: timeout.signal })) {
        seen.push(change.key);
      }
      timeout.clear();
      assert.deepEqual(seen, []);
    }));

  test("invalid keys and oversized values are rejected with client errors", () =>
    withPlatform(factory, async ({ meta }) => {
      for (const key of ["", "a..b", "a b", "a/b", ".a", "a.", "a*"]) {
        await assert.rejects(meta.create("datasets", key, { n: 1 }), (error: unknown) => {
          assert.ok(error instanceof ApiError && error.status === 400, `key '${key}' should be a 400`);
          return true;
        });
      }
      const big = { blob: "x".repeat(70_000) };
      await assert.rejects(meta.create("datasets", "t1.big", big), (error: unknown) => {
        assert.ok(error instanceof ApiError);
        assert.equal(error.status, 413);
        assert.match(error.message, /limit/);
        return true;
      });
      assert.equal(await meta.get("datasets", "t1.big"), null);
    }));

  test("updateWithRetry applies concurrent changes without losing any", () =>
    withPlatform(factory, async ({ meta }) => {
      await meta.create<Doc>("runners", "t1.counter", { name: "counter", n: 0 });
      const results = await Promise.all(
        Array.from(
          { length: 6 },
          () => updateWithRetry<Doc>(meta, "runners", "t1.counter", (doc) => ({ ...doc, n: doc.n + 1 }), 50),
        ),
      );
      assert.ok(results.every((r) => r !== null));
      assert.equal((await meta.get<Doc>("runners", "t1.counter"))?.value.n, 6);
      const unchanged = await updateWithRetry<Doc>(meta, "runners", "t1.counter", () => null);
      assert.equal(unchanged?.value.n, 6);
      assert.equal(await updateWithRetry<Doc>(meta, "runners", "t1.none", (d) => d), null);
    }));
}
