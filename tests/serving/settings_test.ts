/**
 * Serving settings and traffic routing as pure functions: SERVE_* and EDGETUNE_METRICS_TOKEN parse with
 * defaults and a malformed value fails naming the variable; a version with 0% is never picked, a keyed pick
 * is a pure function of (deployment, key), and 10,000 distinct keys split 30/70 within a binomial bound.
 */
import assert from "node:assert/strict";
import { DEFAULT_SERVE_SETTINGS, serveSettingsFromEnv } from "../../edge/serving/settings.ts";
import { bucketOf, BUCKETS, pickVersion } from "../../edge/serving/traffic.ts";

Deno.test("settings: defaults, parsed values, and errors naming the variable", () => {
  assert.deepEqual(serveSettingsFromEnv({}), DEFAULT_SERVE_SETTINGS);
  const parsed = serveSettingsFromEnv({
    SERVE_CACHE_MB: "64",
    SERVE_MAX_BATCH_TOKENS: "2048",
    SERVE_MAX_QUEUE_DELAY_MS: "5",
    SERVE_MAX_QUEUE: "10",
    EDGETUNE_METRICS_TOKEN: " secret ",
  });
  assert.deepEqual(parsed, {
    cacheBytes: 64 * 2 ** 20,
    maxBatchTokens: 2048,
    maxQueueDelayMs: 5,
    maxQueue: 10,
    metricsToken: "secret",
  });
  for (
    const [name, value] of [
      ["SERVE_CACHE_MB", "lots"],
      ["SERVE_MAX_BATCH_TOKENS", "0"],
      ["SERVE_MAX_QUEUE_DELAY_MS", "-1"],
      ["SERVE_MAX_QUEUE", "NaN"],
    ]
  ) {
    assert.throws(() => serveSettingsFromEnv({ [name]: value }), new RegExp(name));
  }
});

Deno.test("traffic: 0% never picked; keyed picks are stable; 10,000 keys split 30/70 within tolerance", () => {
  const traffic = { "1": 30, "2": 70 };
  assert.equal(pickVersion("d", { "1": 100, "2": 0 }, "any", () => 0.99), 1);
  assert.equal(pickVersion("d", { "3": 100 }, null), 3);
  assert.equal(pickVersion("d", traffic, null, () => 0), 1);
  assert.equal(pickVersion("d", traffic, null, () => 0.2999), 1);
  assert.equal(pickVersion("d", traffic, null, () => 0.3), 2);
  let second = 0;
  for (let i = 0; i < 10_000; i++) {
    const version = pickVersion("sentiment", traffic, `user-${i}`);
    assert.equal(pickVersion("sentiment", traffic, `user-${i}`), version);
    if (version === 2) second++;
  }
  // binomial sd = sqrt(10000 × 0.3 × 0.7) ≈ 46: ±200 is over 4 sd
  assert.ok(Math.abs(second - 7000) <= 200, `${second} of 10000 keys on the 70% version`);
  for (const key of ["", "a", "user-1", "ü"]) {
    const bucket = bucketOf(key);
    assert.ok(Number.isInteger(bucket) && bucket >= 0 && bucket < BUCKETS);
  }
});
