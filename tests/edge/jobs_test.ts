/**
 * Job creation, listing and cancellation over HTTP: references are checked per tenant (404 naming the field),
 * columns are checked against the dataset (400), the spec is zod-validated (400 with field paths), the
 * Idempotency-Key replays or conflicts, a created job is queued once, and cancel follows the status rules.
 */
import assert from "node:assert/strict";
import type { JobRecord } from "../../shared/schemas/resources.ts";
import { errorOf, type Harness, harness, insertModel, KEY_B, uploadDataset } from "./helpers.ts";

async function setup(h: Harness) {
  await insertModel(h, "tenant-a", "mdl_base");
  const dataset = await uploadDataset(h, "text,label\ngood,1\nbad,0\n", "train.csv");
  return { model: "mdl_base", dataset: String(dataset.id) };
}

const spec = (model: string, dataset: string, extra: Record<string, unknown> = {}) => ({
  task: "text-classification",
  base_model: model,
  training_dataset: dataset,
  ...extra,
});

Deno.test("creating a job stores a queued record, a status event and one queue message", async () => {
  const h = await harness();
  try {
    const { model, dataset } = await setup(h);
    const res = await h.call("POST", "/v1/jobs", {
      json: spec(model, dataset, { hyperparameters: { epochs: 2, learning_rate: 1e-4 } }),
    });
    assert.equal(res.status, 201);
    const job = await res.json();
    assert.match(job.id, /^job_/);
    assert.equal(job.object, "fine_tuning.job");
    assert.equal(job.status, "queued");
    assert.equal(job.hyperparameters.epochs, 2);
    assert.equal(job.hyperparameters.learning_rate, 1e-4);
    assert.equal(job.hyperparameters.batch_size, 8); // schema default filled in
    assert.deepEqual(job.columns, { text: "text", label: "label" });
    assert.deepEqual(job.progress, { step: 0, total_steps: 0, epoch: 0 });
    assert.equal(job.attempts, 0);
    assert.equal(job.cancel_requested, false);

    const stored = await h.platform.meta.get<JobRecord>("jobs", `tenant-a.${job.id}`);
    assert.equal(stored?.value.tenant, "tenant-a");
    const events = [];
    for await (const event of h.platform.events.read(`tenant-a.${job.id}`, {})) events.push(event);
    assert.deepEqual(events.map((e) => [e.seq, e.type, e.data]), [[1, "status", { status: "queued" }]]);
    assert.equal(await h.platform.queue.depth(), 1);
    const delivery = await h.platform.queue.take({ signal: AbortSignal.timeout(2000) });
    assert.deepEqual(delivery?.message, { tenant: "tenant-a", jobId: job.id, requires: [] });
    await delivery?.ack();
  } finally {
    await h.close();
  }
});

Deno.test("job creation refuses unknown resources, missing columns and invalid specs", async () => {
  const h = await harness();
  try {
    const { model, dataset } = await setup(h);
    const noModel = await errorOf(await h.call("POST", "/v1/jobs", { json: spec("mdl_nope", dataset) }));
    assert.equal(noModel.status, 404);
    assert.match(noModel.message, /base_model 'mdl_nope'/);
    const noData = await errorOf(await h.call("POST", "/v1/jobs", { json: spec(model, "ds_nope") }));
    assert.equal(noData.status, 404);
    assert.match(noData.message, /training_dataset 'ds_nope'/);
    const noVal = await errorOf(
      await h.call("POST", "/v1/jobs", { json: spec(model, dataset, { validation_dataset: "ds_gone" }) }),
    );
    assert.match(noVal.message, /validation_dataset 'ds_gone'/);
    // Another tenant's dataset is as unknown as a missing one.
    const otherTenant = await errorOf(
      await h.call("POST", "/v1/jobs", { key: KEY_B, json: spec(model, dataset) }),
    );
    assert.equal(otherTenant.status, 404);

    const columns = await errorOf(
      await h.call("POST", "/v1/jobs", { json: spec(model, dataset, { columns: { text: "sentence" } }) }),
    );
    assert.equal(columns.status, 400);
    assert.match(columns.message, /no column "sentence"/);
    assert.deepEqual((columns.details as { missing: string[] }).missing, ["sentence"]);

    const badSpec = await errorOf(
      await h.call("POST", "/v1/jobs", {
        json: spec(model, dataset, { hyperparameters: { learning_rate: -1, epochs: "3" }, surprise: true }),
      }),
    );
    assert.equal(badSpec.status, 400);
    assert.equal(badSpec.code, "invalid_request");
    const paths = (badSpec.details as { path: string }[]).map((i) => i.path);
    assert.ok(paths.includes("hyperparameters.learning_rate"), JSON.stringify(paths));
    assert.ok(paths.includes("hyperparameters.epochs"), JSON.stringify(paths));

    const notJson = await errorOf(
      await h.call("POST", "/v1/jobs", { body: "{nope", headers: { "content-type": "application/json" } }),
    );
    assert.equal(notJson.status, 400);
    assert.match(notJson.message, /not valid JSON/);
    const wrongType = await errorOf(await h.call("POST", "/v1/jobs", { body: "x=1" }));
    assert.equal(wrongType.status, 415);

    assert.deepEqual(await h.platform.meta.list("jobs", ""), []);
    assert.equal(await h.platform.queue.depth(), 0);
  } finally {
    await h.close();
  }
});

Deno.test("Idempotency-Key: same body replays the job, another body conflicts", async () => {
  const h = await harness();
  try {
    const { model, dataset } = await setup(h);
    const headers = { "idempotency-key": "retry-123" };
    const first = await h.call("POST", "/v1/jobs", { json: spec(model, dataset), headers });
    assert.equal(first.status, 201);
    const job = await first.json();
    // Same request with keys in another order and defaults spelled out: still the same request.
    const again = await h.call("POST", "/v1/jobs", {
      json: {
        training_dataset: dataset,
        base_model: model,
        task: "text-classification",
        columns: { text: "text" },
      },
      headers,
    });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal((await again.json()).id, job.id);

    const conflict = await errorOf(
      await h.call("POST", "/v1/jobs", { json: spec(model, dataset, { suffix: "other" }), headers }),
    );
    assert.equal(conflict.status, 409);
    assert.equal(conflict.code, "conflict");

    // The same key from another tenant is a different key.
    await insertModel(h, "tenant-b", "mdl_b");
    const dsB = await uploadDataset(h, "text,label\nx,1\n", "b.csv", KEY_B);
    const otherTenant = await h.call("POST", "/v1/jobs", {
      key: KEY_B,
      json: spec("mdl_b", String(dsB.id)),
      headers,
    });
    assert.equal(otherTenant.status, 201);
    assert.notEqual((await otherTenant.json()).id, job.id);

    assert.equal((await h.platform.meta.list("jobs", "tenant-a.")).length, 1);
    assert.equal(await h.platform.queue.depth(), 2);
  } finally {
    await h.close();
  }
});

Deno.test("jobs list newest first, paginate and stay private", async () => {
  const h = await harness();
  try {
    const { model, dataset } = await setup(h);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await (await h.call("POST", "/v1/jobs", { json: spec(model, dataset) })).json()).id);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const list = await (await h.call("GET", "/v1/jobs")).json();
    assert.deepEqual(list.data.map((j: { id: string }) => j.id), [...ids].reverse());
    assert.equal(list.has_more, false);
    const page = await (await h.call("GET", `/v1/jobs?limit=1&after=${ids[2]}`)).json();
    assert.deepEqual(page.data.map((j: { id: string }) => j.id), [ids[1]]);
    assert.equal(page.has_more, true);
    assert.equal((await h.call("GET", "/v1/jobs?limit=0")).status, 400);
    assert.deepEqual((await (await h.call("GET", "/v1/jobs", { key: KEY_B })).json()).data, []);
    assert.equal((await h.call("GET", `/v1/jobs/${ids[0]}`, { key: KEY_B })).status, 404);
    assert.equal((await h.call("GET", `/v1/jobs/${ids[0]}`)).status, 200);
  } finally {
    await h.close();
  }
});

Deno.test("cancel: queued → cancelled, running → cancel_requested, finished → 409", async () => {
  const h = await harness();
  try {
    const { model, dataset } = await setup(h);
    const create = async () =>
      (await (await h.call("POST", "/v1/jobs", { json: spec(model, dataset) })).json()).id;

    const queued = await create();
    const cancelled = await h.call("POST", `/v1/jobs/${queued}/cancel`);
    assert.equal(cancelled.status, 200);
    const body = await cancelled.json();
    assert.equal(body.status, "cancelled");
    assert.ok(body.finished_at);
    const events = [];
    for await (const event of h.platform.events.read(`tenant-a.${queued}`, {})) {
      events.push(event.data.status);
    }
    assert.deepEqual(events, ["queued", "cancelled"]);
    const again = await errorOf(await h.call("POST", `/v1/jobs/${queued}/cancel`));
    assert.equal(again.status, 409);
    assert.equal(again.code, "invalid_state");

    const running = await create();
    const key = `tenant-a.${running}`;
    const current = await h.platform.meta.get<JobRecord>("jobs", key);
    await h.platform.meta.update("jobs", key, { ...current!.value, status: "running" }, current!.revision);
    const requested = await (await h.call("POST", `/v1/jobs/${running}/cancel`)).json();
    assert.equal(requested.status, "running");
    assert.equal(requested.cancel_requested, true);

    const done = await create();
    const record = await h.platform.meta.get<JobRecord>("jobs", `tenant-a.${done}`);
    await h.platform.meta.update(
      "jobs",
      `tenant-a.${done}`,
      { ...record!.value, status: "succeeded" },
      record!.revision,
    );
    const finished = await errorOf(await h.call("POST", `/v1/jobs/${done}/cancel`));
    assert.equal(finished.status, 409);
    assert.equal((finished.details as { status: string }).status, "succeeded");

    assert.equal((await h.call("POST", `/v1/jobs/${running}/cancel`, { key: KEY_B })).status, 404);
    assert.equal((await h.call("POST", "/v1/jobs/job_unknown/cancel")).status, 404);
  } finally {
    await h.close();
  }
});

Deno.test("a dataset or model used by a queued job cannot be deleted until the job is finished", async () => {
  const h = await harness();
  try {
    const { model, dataset } = await setup(h);
    const job = await (await h.call("POST", "/v1/jobs", { json: spec(model, dataset) })).json();
    for (const path of [`/v1/datasets/${dataset}`, `/v1/models/${model}`]) {
      const error = await errorOf(await h.call("DELETE", path));
      assert.equal(error.status, 409);
      assert.deepEqual((error.details as { jobs: string[] }).jobs, [job.id]);
    }
    await (await h.call("POST", `/v1/jobs/${job.id}/cancel`)).body?.cancel();
    const deleted = await h.call("DELETE", `/v1/datasets/${dataset}`);
    assert.equal(deleted.status, 200);
    await deleted.body?.cancel();
  } finally {
    await h.close();
  }
});
