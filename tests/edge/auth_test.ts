/** Authentication, health probes and the error shape: 401 without/with a wrong key, JSON 404 for unknown routes. */
import assert from "node:assert/strict";
import { type AccessLogEntry, createApp } from "../../edge/app.ts";
import type { Platform } from "../../shared/platform/types.ts";
import { errorOf, harness, KEY_B } from "./helpers.ts";

Deno.test("/v1 routes need a known bearer key", async () => {
  const h = await harness();
  try {
    for (const [key, message] of [[null, /missing API key/], ["nope", /unknown API key/]] as const) {
      for (const path of ["/v1/datasets", "/v1/models", "/v1/jobs", "/v1/jobs/job_x/events"]) {
        const res = await h.call("GET", path, { key });
        assert.equal(res.status, 401);
        assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
        const error = await errorOf(res);
        assert.equal(error.code, "unauthorized");
        assert.match(error.message, message);
      }
    }
    const ok = await h.call("GET", "/v1/datasets", { key: KEY_B });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { object: "list", data: [] });
  } finally {
    await h.close();
  }
});

Deno.test("health and readiness probes need no key and follow the readiness function", async () => {
  let ready = false;
  const h = await harness({}, () => Promise.resolve(ready));
  try {
    const health = await h.call("GET", "/healthz", { key: null });
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" });
    const notReady = await h.call("GET", "/readyz", { key: null });
    assert.equal(notReady.status, 503);
    assert.deepEqual(await notReady.json(), { status: "not_ready" });
    ready = true;
    const isReady = await h.call("GET", "/readyz", { key: null });
    assert.equal(isReady.status, 200);
    assert.deepEqual(await isReady.json(), { status: "ready" });
  } finally {
    await h.close();
  }
});

Deno.test("unknown routes answer a JSON 404", async () => {
  const h = await harness();
  try {
    const error = await errorOf(await h.call("GET", "/v1/nothing-here"));
    assert.equal(error.status, 404);
    assert.equal(error.code, "not_found");
  } finally {
    await h.close();
  }
});

Deno.test("an unexpected failure is a bare 500 internal_error, logged with its cause", async () => {
  const h = await harness();
  const logged: unknown[] = [];
  try {
    const broken = {
      ...h.platform,
      meta: { ...h.platform.meta, list: () => Promise.reject(new Error("disk on fire at /secret/path")) },
    };
    const app = createApp(
      { platform: broken as Platform, apiKeys: new Map([["k", "t"]]) },
      { logError: (_message, error) => logged.push(error) },
    );
    const res = await app.request("/v1/datasets", { headers: { authorization: "Bearer k" } });
    assert.equal(res.status, 500);
    const body = await res.json();
    assert.deepEqual(body, { error: { code: "internal_error", message: "internal error", details: null } });
    assert.equal(logged.length, 1);
    assert.match(String((logged[0] as Error).message), /disk on fire/);
  } finally {
    await h.close();
  }
});

Deno.test("the access log gets one entry per request with status and tenant, without query strings", async () => {
  const h = await harness();
  const entries: AccessLogEntry[] = [];
  try {
    const app = createApp(
      { platform: h.platform, apiKeys: new Map([["k", "t"]]) },
      { accessLog: (entry) => entries.push(entry) },
    );
    await (await app.request("/v1/jobs?secret=1", { headers: { authorization: "Bearer k" } })).body?.cancel();
    await (await app.request("/v1/jobs")).body?.cancel();
    assert.deepEqual(entries.map(({ ms: _ms, ...rest }) => rest), [
      { method: "GET", path: "/v1/jobs", status: 200, tenant: "t" },
      { method: "GET", path: "/v1/jobs", status: 401, tenant: null },
    ]);
  } finally {
    await h.close();
  }
});

Deno.test("createApp refuses tenant names that are not safe key tokens", () => {
  assert.throws(
    () => createApp({ platform: {} as Platform, apiKeys: new Map([["k", "a.b"]]) }),
    /tenant 'a.b'/,
  );
  assert.throws(() => createApp({ platform: {} as Platform, apiKeys: new Map([["k", "../x"]]) }), /tenant/);
});
