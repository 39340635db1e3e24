/**
 * Tests for the platform configuration parser (embedded vs distributed selection, defaults, and errors that
 * name every missing or bad variable) and for resource id generation.
 */
import assert from "node:assert/strict";
import { parsePlatformConfig } from "../../shared/platform/config.ts";
import { newId } from "../../shared/platform/ids.ts";

const s3 = { S3_ENDPOINT: "http://127.0.0.1:9000", S3_ACCESS_KEY: "ak", S3_SECRET_KEY: "sk" };

Deno.test("config: no services configured selects the embedded platform with a default data dir", () => {
  assert.deepEqual(parsePlatformConfig({}), { kind: "embedded", dataDir: "./data" });
  assert.deepEqual(parsePlatformConfig({ EDGETUNE_DATA_DIR: "/srv/edgetune", NATS_URL: "  " }), {
    kind: "embedded",
    dataDir: "/srv/edgetune",
  });
});

Deno.test("config: NATS and S3 together select the distributed platform", () => {
  const config = parsePlatformConfig({ NATS_URL: "nats://10.0.0.5:4222", ...s3, S3_PART_SIZE_MB: "8" });
  assert.equal(config.kind, "distributed");
  if (config.kind !== "distributed") return;
  assert.equal(config.natsUrl, "nats://10.0.0.5:4222");
  assert.deepEqual(config.s3, {
    endPoint: "127.0.0.1",
    port: 9000,
    useSSL: false,
    accessKey: "ak",
    secretKey: "sk",
    bucket: "edgetune",
    region: "us-east-1",
    partSize: 8 * 1024 * 1024,
  });
  const tls = parsePlatformConfig({
    NATS_URL: "nats://n:4222",
    ...s3,
    S3_ENDPOINT: "https://s3.example.com",
  });
  assert.ok(tls.kind === "distributed" && tls.s3.useSSL && tls.s3.port === 443);
  const forced = parsePlatformConfig({
    NATS_URL: "nats://n:4222",
    ...s3,
    S3_ENDPOINT: "minio:9000",
    S3_USE_SSL: "true",
  });
  assert.ok(forced.kind === "distributed" && forced.s3.useSSL && forced.s3.endPoint === "minio");
});

Deno.test("config: NATS without S3 names every missing S3 variable", () => {
  assert.throws(() => parsePlatformConfig({ NATS_URL: "nats://127.0.0.1:4222" }), (error: Error) => {
    for (const name of ["S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY"]) {
      assert.match(error.message, new RegExp(name));
    }
    assert.doesNotMatch(error.message, /- NATS_URL:/);
    return true;
  });
  assert.throws(() => parsePlatformConfig({ ...s3 }), /NATS_URL: is required/);
});

Deno.test("config: bad values are reported together, each with its variable name", () => {
  assert.throws(
    () =>
      parsePlatformConfig({
        NATS_URL: "nats://127.0.0.1:4222",
        ...s3,
        S3_PART_SIZE_MB: "two",
        S3_USE_SSL: "maybe",
        S3_BUCKET: "Bad_Bucket",
      }),
    (error: Error) => {
      assert.match(error.message, /S3_PART_SIZE_MB: /);
      assert.match(error.message, /S3_USE_SSL: /);
      assert.match(error.message, /S3_BUCKET: /);
      return true;
    },
  );
  assert.throws(
    () => parsePlatformConfig({ NATS_URL: "nats://a:1", ...s3, S3_PART_SIZE_MB: "2" }),
    /at least 5/,
  );
});

Deno.test("ids: prefix, underscore and 20 random base32 characters, all distinct", () => {
  const ids = new Set<string>();
  for (const prefix of ["ds", "mdl", "job", "dep"] as const) {
    for (let i = 0; i < 50; i++) {
      const id = newId(prefix);
      assert.match(id, new RegExp(`^${prefix}_[a-z2-7]{20}$`));
      ids.add(id);
    }
  }
  assert.equal(ids.size, 200);
});
