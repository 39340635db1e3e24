/**
 * Contract tests for the BlobStore: put/get/stat/list/delete, key validation, atomic puts (a stream that
 * errors midway leaves no object and keeps the previous one) and a ~20 MB streamed object checked by hash.
 */
import assert from "node:assert/strict";
import { ApiError } from "../../shared/schemas/errors.ts";
import {
  type ContractSettings,
  type DefineTest,
  failingStream,
  generatedStream,
  hashStream,
  type PlatformFactory,
  readText,
  take,
  withPlatform,
} from "./contract_helpers.ts";

const text = (s: string) => new TextEncoder().encode(s);

export function registerBlobContract(
  factory: PlatformFactory,
  _settings: ContractSettings,
  define: DefineTest,
): void {
  const test = (name: string, fn: () => Promise<void>) => define(`blobs: ${name}`, fn);

  test("put, get, stat, list in key order and idempotent delete", () =>
    withPlatform(factory, async ({ blobs }) => {
      assert.equal(await blobs.get("datasets/t1/missing/data.jsonl"), null);
      assert.equal(await blobs.stat("datasets/t1/missing/data.jsonl"), null);
      const info = await blobs.put("datasets/t1/ds_b/data.jsonl", text("hello"));
      assert.deepEqual([info.key, info.size], ["datasets/t1/ds_b/data.jsonl", 5]);
      assert.ok(!Number.isNaN(Date.parse(info.modified)));
      await blobs.put("datasets/t1/ds_a/data.jsonl", new Blob([text("a"), text("bc")]).stream());
      await blobs.put("datasets/t10/ds_c/data.jsonl", text("other tenant"));
      await blobs.put("models/t1/mdl_a/weights.bin", text("w"));
      assert.equal(await readText(await blobs.get("datasets/t1/ds_b/data.jsonl")), "hello");
      assert.equal((await blobs.stat("datasets/t1/ds_a/data.jsonl"))?.size, 3);

      const listed = await take(blobs.list("datasets/t1/"));
      assert.deepEqual(listed.map((b) => [b.key, b.size]), [
        ["datasets/t1/ds_a/data.jsonl", 3],
        ["datasets/t1/ds_b/data.jsonl", 5],
      ]);
      assert.deepEqual((await take(blobs.list("datasets/t1"))).map((b) => b.key), [
        "datasets/t1/ds_a/data.jsonl",
        "datasets/t1/ds_b/data.jsonl",
        "datasets/t10/ds_c/data.jsonl",
      ]);
      assert.equal((await take(blobs.list(""))).length, 4);

      await blobs.put("datasets/t1/ds_b/data.jsonl", text("replaced"));
      assert.equal(await readText(await blobs.get("datasets/t1/ds_b/data.jsonl")), "replaced");
      await blobs.delete("datasets/t1/ds_b/data.jsonl");
      await blobs.delete("datasets/t1/ds_b/data.jsonl");
      assert.equal(await blobs.get("datasets/t1/ds_b/data.jsonl"), null);
      assert.deepEqual((await take(blobs.list("datasets/t1/"))).map((b) => b.key), [
        "datasets/t1/ds_a/data.jsonl",
      ]);
    }));

  test("unsafe keys are rejected with client errors", () =>
    withPlatform(factory, async ({ blobs }) => {
      for (const key of ["", "/abs/x", "a/../b", "a//b", "a/./b", "a/.hidden", "..", "a/b/"]) {
        await assert.rejects(blobs.put(key, text("x")), (error: unknown) => {
          assert.ok(error instanceof ApiError && error.status === 400, `key '${key}' should be a 400`);
          return true;
        });
      }
    }));

  test("a body that errors midway leaves no object, and keeps the previous one", () =>
    withPlatform(factory, async ({ blobs }) => {
      await assert.rejects(blobs.put("uploads/t1/new.bin", failingStream(3, 64 * 1024)), /client went away/);
      assert.equal(await blobs.stat("uploads/t1/new.bin"), null);
      assert.deepEqual(await take(blobs.list("uploads/")), []);

      // Large enough (6.25 MiB) to fail in the middle of a multipart upload on S3.
      await assert.rejects(
        blobs.put("uploads/t1/big.bin", failingStream(100, 64 * 1024)),
        /client went away/,
      );
      assert.equal(await blobs.stat("uploads/t1/big.bin"), null);

      await blobs.put("uploads/t1/old.bin", text("previous"));
      await assert.rejects(blobs.put("uploads/t1/old.bin", failingStream(2, 64 * 1024)), /client went away/);
      assert.equal(await readText(await blobs.get("uploads/t1/old.bin")), "previous");
      assert.deepEqual((await take(blobs.list("uploads/"))).map((b) => [b.key, b.size]), [[
        "uploads/t1/old.bin",
        8,
      ]]);
    }));

  test("a ~20 MB body streams in and out intact", () =>
    withPlatform(factory, async ({ blobs }) => {
      const chunks = 320;
      const chunkSize = 64 * 1024;
      const { stream, digest } = generatedStream(chunks, chunkSize);
      const info = await blobs.put("models/t1/mdl_big/weights.bin", stream);
      assert.equal(info.size, chunks * chunkSize);
      const body = await blobs.get("models/t1/mdl_big/weights.bin");
      assert.ok(body);
      const read = await hashStream(body);
      assert.equal(read.size, chunks * chunkSize);
      assert.equal(read.hex, await digest);
    }));
}
