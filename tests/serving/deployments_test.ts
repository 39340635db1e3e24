/**
 * Deployments over HTTP: create/list/show/update/rollback/delete with the version that answered named in
 * response headers; a 20% canary receives 20% ± 4% of 1000 unkeyed requests (a binomial bound of over 3
 * standard deviations) and keyed requests in about the same share, each key always on the same version;
 * rollback takes effect for the very next request; the history names who changed what (tenant and key
 * fingerprint, never the key); a deleted model cannot be deployed; another tenant's deployment is 404;
 * bad bodies are 400 and conflicts 409.
 */
import assert from "node:assert/strict";
import { initBackend } from "../../shared/core/mod.ts";
import { expectJson, KEY_A, KEY_B, servingHarness, tinyDataset, tinyModel } from "./support.ts";

await initBackend();

async function setup() {
  const h = await servingHarness();
  const dataset = await tinyDataset(h);
  const v1 = await tinyModel(h, dataset, 11);
  const v2 = await tinyModel(h, dataset, 12);
  return { h, dataset, v1, v2 };
}

type H = Awaited<ReturnType<typeof servingHarness>>;

async function predictVersion(h: H, name: string, key?: string): Promise<number> {
  const res = await h.call("POST", `/v1/deployments/${name}/predict`, {
    json: { inputs: "a good film" },
    headers: key ? { "x-request-key": key } : {},
  });
  const body = await expectJson(res, 200);
  assert.equal(body.length, 3);
  return Number(res.headers.get("x-edgetune-deployment-version"));
}

/** Runs `n` predictions, `width` at a time, returning the versions in order. */
async function versions(h: H, name: string, n: number, keyOf?: (i: number) => string): Promise<number[]> {
  const out: number[] = [];
  for (let start = 0; start < n; start += 50) {
    const batch = Array.from({ length: Math.min(50, n - start) }, (_, j) => start + j);
    out.push(...await Promise.all(batch.map((i) => predictVersion(h, name, keyOf?.(i)))));
  }
  return out;
}

Deno.test("deployments: create, predict with version headers, update, canary split, sticky keys, rollback", async () => {
  const { h, v1, v2 } = await setup();
  try {
    const created = await expectJson(
      await h.call("POST", "/v1/deployments", { json: { name: "sentiment", model: v1.id } }),
      201,
    );
    assert.deepEqual(created.traffic, { "1": 100 });
    assert.equal(created.versions[0].model, v1.id);
    assert.equal(created.tenant, undefined);
    const res = await h.call("POST", "/v1/deployments/sentiment/predict", { json: { inputs: ["a", "b c"] } });
    const body = await expectJson(res, 200);
    assert.equal(body.length, 2);
    assert.equal(res.headers.get("x-edgetune-deployment"), "sentiment");
    assert.equal(res.headers.get("x-edgetune-deployment-version"), "1");
    assert.equal(res.headers.get("x-edgetune-model"), v1.id);
    for (const header of ["x-queue-time", "x-tokenization-time", "x-inference-time", "x-total-time"]) {
      assert.ok(Number(res.headers.get(header)) >= 0, `${header}: ${res.headers.get(header)}`);
    }
    assert.ok(Number(res.headers.get("x-total-time")) >= Number(res.headers.get("x-inference-time")));

    // The deployment answers exactly what its model answers.
    const direct = await expectJson(
      await h.call("POST", `/v1/models/${v1.id}/predict`, { json: { inputs: ["a", "b c"] } }),
      200,
    );
    assert.deepEqual(body, direct);

    // A new version with a 20% canary.
    const canary = await expectJson(
      await h.call("PATCH", "/v1/deployments/sentiment", { json: { model: v2.id, canary_percent: 20 } }),
      200,
    );
    assert.deepEqual(canary.traffic, { "1": 80, "2": 20 });
    const unkeyed = await versions(h, "sentiment", 1000);
    const share = unkeyed.filter((v) => v === 2).length / 1000;
    assert.ok(Math.abs(share - 0.2) <= 0.04, `canary share ${share}`);
    assert.deepEqual([...new Set(unkeyed)].sort(), [1, 2]);

    const keyed = await versions(h, "sentiment", 600, (i) => `user-${i % 200}`);
    const keyedShare = keyed.filter((v) => v === 2).length / 600;
    assert.ok(Math.abs(keyedShare - 0.2) <= 0.09, `keyed canary share ${keyedShare} (200 keys)`);
    for (let k = 0; k < 200; k++) {
      const seen = new Set([keyed[k], keyed[k + 200], keyed[k + 400]]);
      assert.equal(seen.size, 1, `key user-${k} always reaches one version`);
    }
    // request_key in the body is the same key as the header.
    const viaBody = await h.call("POST", "/v1/deployments/sentiment/predict", {
      json: { inputs: "x", request_key: "user-7" },
    });
    assert.equal(Number(viaBody.headers.get("x-edgetune-deployment-version")), keyed[7]);
    await viaBody.body?.cancel();

    // Roll the canary back: the next request is on version 1.
    const rolled = await expectJson(await h.call("POST", "/v1/deployments/sentiment/rollback"), 200);
    assert.deepEqual(rolled.traffic, { "1": 100 });
    assert.deepEqual(await versions(h, "sentiment", 30), Array(30).fill(1));

    // Full switch to version 2, then rollback again, then nothing left to roll back to.
    await expectJson(
      await h.call("PUT", "/v1/deployments/sentiment", { json: { traffic: { "2": 100 } } }),
      200,
    );
    assert.equal(await predictVersion(h, "sentiment"), 2);
    await expectJson(await h.call("POST", "/v1/deployments/sentiment/rollback", { json: {} }), 200);
    assert.equal(await predictVersion(h, "sentiment"), 1);
    const empty = await h.call("POST", "/v1/deployments/sentiment/rollback");
    assert.equal(empty.status, 409);
    await empty.body?.cancel();
    // An explicit version is always possible.
    const explicit = await expectJson(
      await h.call("POST", "/v1/deployments/sentiment/rollback", { json: { version: 2 } }),
      200,
    );
    assert.deepEqual(explicit.traffic, { "2": 100 });

    // History: who did what, when; the key itself never appears.
    const shown = await expectJson(await h.call("GET", "/v1/deployments/sentiment"), 200);
    assert.deepEqual(
      shown.history.map((e: { action: string }) => e.action),
      ["create", "update", "rollback", "traffic", "rollback", "rollback"],
    );
    for (const entry of shown.history) {
      assert.equal(entry.by.tenant, "tenant-a");
      assert.match(entry.by.key_id, /^key_[0-9a-f]{12}$/);
      assert.ok(!Number.isNaN(Date.parse(entry.at)));
    }
    assert.equal(shown.history[1].model, v2.id);
    assert.deepEqual(shown.history[1].traffic_after, { "1": 80, "2": 20 });
    assert.ok(!JSON.stringify(shown).includes(KEY_A), "the API key is never stored or shown");
    const list = await expectJson(await h.call("GET", "/v1/deployments"), 200);
    assert.deepEqual(list.data.map((d: { name: string }) => d.name), ["sentiment"]);

    const deleted = await expectJson(await h.call("DELETE", "/v1/deployments/sentiment"), 200);
    assert.deepEqual(deleted, { id: "sentiment", object: "deployment", deleted: true });
    assert.equal((await h.call("GET", "/v1/deployments/sentiment")).status, 404);
    assert.equal(
      (await h.call("POST", "/v1/deployments/sentiment/predict", { json: { inputs: "x" } })).status,
      404,
    );
  } finally {
    await h.close();
  }
});

Deno.test("deployments: deleted or missing models cannot be deployed; other tenants see 404; bad input is 4xx", async () => {
  const { h, dataset, v1, v2 } = await setup();
  try {
    await expectJson(await h.call("POST", "/v1/deployments", { json: { name: "d1", model: v1.id } }), 201);
    await expectJson(await h.call("DELETE", `/v1/models/${v2.id}`), 200);
    const create = await h.call("POST", "/v1/deployments", { json: { name: "d2", model: v2.id } });
    assert.equal(create.status, 404);
    assert.equal((await create.json()).error.code, "not_found");
    const update = await h.call("PUT", "/v1/deployments/d1", { json: { model: v2.id } });
    assert.equal(update.status, 404);
    await update.body?.cancel();
    assert.equal((await h.call("GET", "/v1/deployments/d2")).status, 404);

    // A deployed model deleted afterwards: its version answers 409 (roll back), not 5xx.
    const v3 = await tinyModel(h, dataset, 13);
    await expectJson(await h.call("PUT", "/v1/deployments/d1", { json: { model: v3.id } }), 200);
    await expectJson(await h.call("DELETE", `/v1/models/${v3.id}`), 200);
    const gone = await h.call("POST", "/v1/deployments/d1/predict", { json: { inputs: "x" } });
    assert.equal(gone.status, 409);
    await gone.body?.cancel();
    await expectJson(await h.call("POST", "/v1/deployments/d1/rollback"), 200);
    const back = await h.call("POST", "/v1/deployments/d1/predict", { json: { inputs: "x" } });
    assert.equal(back.status, 200);
    await back.body?.cancel();
    // Traffic onto the deleted model's version is refused.
    const onto = await h.call("PATCH", "/v1/deployments/d1", { json: { traffic: { "1": 50, "2": 50 } } });
    assert.equal(onto.status, 409);
    await onto.body?.cancel();

    // Tenant B: 404 everywhere, and its own list is empty; it cannot deploy tenant A's model.
    for (
      const [method, path, json] of [
        ["GET", "/v1/deployments/d1", undefined],
        ["PUT", "/v1/deployments/d1", { model: v1.id }],
        ["POST", "/v1/deployments/d1/rollback", undefined],
        ["POST", "/v1/deployments/d1/predict", { inputs: "x" }],
        ["DELETE", "/v1/deployments/d1", undefined],
        ["POST", "/v1/deployments", { name: "mine", model: v1.id }],
      ] as const
    ) {
      const res = await h.call(method, path, { key: KEY_B, json });
      assert.equal(res.status, 404, `${method} ${path} as tenant B`);
      await res.body?.cancel();
    }
    assert.deepEqual(
      (await expectJson(await h.call("GET", "/v1/deployments", { key: KEY_B }), 200)).data,
      [],
    );
    assert.equal((await h.call("GET", "/v1/deployments/d1", { key: null })).status, 401);

    // Bad input: 400 naming the field; duplicate names 409.
    for (
      const body of [
        { name: "bad name!", model: v1.id },
        { name: "x" },
        { name: "x", model: v1.id, extra: 1 },
      ]
    ) {
      const res = await h.call("POST", "/v1/deployments", { json: body });
      assert.equal(res.status, 400, JSON.stringify(body));
      await res.body?.cancel();
    }
    for (
      const body of [
        {},
        { traffic: { "1": 50, "2": 40 } },
        { traffic: { "1": 50, "2": 25, "3": 25 } },
        { traffic: { "9": 100 } },
        { traffic: { "1": 100 }, model: v1.id },
        { canary_percent: 101 },
      ]
    ) {
      const res = await h.call("PATCH", "/v1/deployments/d1", { json: body });
      assert.equal(res.status, 400, JSON.stringify(body));
      await res.body?.cancel();
    }
    const canaryAlone = await h.call("PATCH", "/v1/deployments/d1", { json: { canary_percent: 10 } });
    assert.equal(canaryAlone.status, 409, "canary_percent alone needs two versions in the split");
    await canaryAlone.body?.cancel();
    const dup = await h.call("POST", "/v1/deployments", { json: { name: "d1", model: v1.id } });
    assert.equal(dup.status, 409);
    await dup.body?.cancel();
    const badPredict = await h.call("POST", "/v1/deployments/d1/predict", { json: { inputs: [] } });
    assert.equal(badPredict.status, 400);
    await badPredict.body?.cancel();
  } finally {
    await h.close();
  }
});
