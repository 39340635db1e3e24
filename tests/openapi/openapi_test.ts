/**
 * The OpenAPI document: structurally valid OpenAPI 3.1 (required fields, path parameters declared, unique
 * operation ids, every $ref resolving, every schema compiling as JSON Schema 2020-12 with ajv), the same
 * set of routes as the Hono app itself registers, and every documented operation answered by a running
 * instance with something other than "no such route", 405, 501 or 5xx — with 2xx JSON bodies matching the
 * documented response schema. /docs renders every operation.
 */
import assert from "node:assert/strict";
import Ajv2020 from "ajv/dist/2020.js";
import { createApp } from "../../edge/app.ts";
import { createEmbeddedPlatform } from "../../shared/platform/mod.ts";
import { startEmbeddedInstance, TENANT_A_KEY } from "../support/embedded_instance.ts";

type Json = Record<string, unknown>;
const METHODS = ["get", "post", "delete", "put", "patch"];

async function withApp<T>(fn: (app: ReturnType<typeof createApp>) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "edgetune-openapi-" });
  const platform = await createEmbeddedPlatform(dir);
  try {
    return await fn(createApp({ platform, apiKeys: new Map([[TENANT_A_KEY, "tenant-a"]]) }));
  } finally {
    await platform.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function operations(doc: Json): { method: string; path: string; op: Json }[] {
  return Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    Object.entries(item).filter(([m]) => METHODS.includes(m)).map(([method, op]) => ({
      method,
      path,
      op: op as Json,
    }))
  );
}

function collectRefs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => collectRefs(v, out));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else collectRefs(v, out);
    }
  }
  return out;
}

function resolvePointer(doc: Json, ref: string): unknown {
  assert.ok(ref.startsWith("#/"), `only local refs: ${ref}`);
  return ref.slice(2).split("/").reduce<unknown>(
    (node, part) => (node as Json | undefined)?.[part.replace(/~1/g, "/").replace(/~0/g, "~")],
    doc,
  );
}

function newAjv(doc: Json) {
  const ajv = new Ajv2020.default({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: "doc", components: doc.components }, "doc");
  return ajv;
}

Deno.test("openapi: the document is structurally valid OpenAPI 3.1 with valid JSON Schemas", async () => {
  const doc = await withApp(async (app) => (await app.request("/openapi.json")).json());
  assert.match(doc.openapi, /^3\.1\.\d+$/);
  assert.equal(typeof doc.info.title, "string");
  assert.equal(typeof doc.info.version, "string");
  assert.deepEqual(doc.components.securitySchemes.bearerAuth, {
    type: "http",
    scheme: "bearer",
    description: "an edgetune API key",
  });
  const ops = operations(doc);
  assert.ok(ops.length >= 20, `${ops.length} operations`);
  const ids = ops.map(({ op }) => op.operationId);
  assert.equal(new Set(ids).size, ids.length, "operationIds are unique");
  for (const { method, path, op } of ops) {
    const where = `${method} ${path}`;
    assert.ok(Object.keys(op.responses as Json).length > 0, `${where} has responses`);
    for (const response of Object.values(op.responses as Record<string, Json>)) {
      assert.equal(typeof response.description, "string", `${where}: response description`);
    }
    const declared = ((op.parameters as Json[] | undefined) ?? []).filter((p) => p.in === "path")
      .map((p) => p.name).sort();
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    assert.deepEqual(declared, templated, `${where}: path parameters declared`);
    if (path.startsWith("/v1/")) {
      assert.deepEqual(op.security, [{ bearerAuth: [] }], `${where} needs the key`);
    }
  }
  const refs = collectRefs(doc);
  assert.ok(refs.length > 20);
  for (const ref of refs) assert.ok(resolvePointer(doc, ref) !== undefined, `$ref ${ref} resolves`);

  const ajv = newAjv(doc);
  for (const [name, schema] of Object.entries(doc.components.schemas as Record<string, Json>)) {
    assert.ok(ajv.validateSchema(schema), `${name}: ${ajv.errorsText(ajv.errors)}`);
    ajv.getSchema(`doc#/components/schemas/${name}`); // compiles it (throws on a bad keyword value)
  }
  // The schemas say what the routes check: a job spec with an unknown field is refused, dry_run is known.
  const createJob = ajv.getSchema("doc#/components/schemas/CreateJobRequest")!;
  const base = { task: "text-classification", base_model: "mdl_a", training_dataset: "ds_b" };
  assert.equal(createJob({ ...base, dry_run: true }), true);
  assert.equal(createJob({ ...base, surprise: 1 }), false);
  assert.equal(createJob({ ...base, hyperparameters: { epochs: 0 } }), false);
});

Deno.test("openapi: the document and the app list the same routes", async () => {
  await withApp(async (app) => {
    const doc = await (await app.request("/openapi.json")).json();
    const documented = operations(doc).map(({ method, path }) => `${method.toUpperCase()} ${path}`).sort();
    const registered = [
      ...new Set(
        app.routes.filter((r) => r.method !== "ALL").map((r) =>
          `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}").replace(/(.)\/$/, "$1")}`
        ),
      ),
    ].sort();
    assert.deepEqual(documented, registered);
  });
});

Deno.test("openapi: every documented operation is answered, 2xx bodies match their schemas", async () => {
  const instance = await startEmbeddedInstance({ runner: false });
  try {
    const doc = await (await fetch(`${instance.url}/openapi.json`)).json();
    const ajv = newAjv(doc);
    const csv = "text,label\n" +
      Array.from({ length: 30 }, (_, i) => `row ${i} is ${i % 2 ? "good" : "bad"},${i % 2}`)
        .join("\n");
    const dataset = await instance.tenantA.uploadDataset(new TextEncoder().encode(csv), {
      fileName: "d.csv",
    });
    const modelSpec = {
      name: "walk",
      config: { hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32 },
      tokenizer: { dataset: dataset.id, vocab_size: 60 },
      labels: ["0", "1"],
    };
    const model = await instance.tenantA.createModel(modelSpec);
    const job = await instance.tenantA.startJob({
      task: "text-classification",
      base_model: model.id,
      training_dataset: dataset.id,
      hyperparameters: { epochs: 1, batch_size: 8, max_seq_length: 16 },
    });
    for (const name of ["walk", "spare"]) {
      const created = await fetch(`${instance.url}/v1/deployments`, {
        method: "POST",
        headers: { Authorization: `Bearer ${TENANT_A_KEY}`, "Content-Type": "application/json" },
        body: JSON.stringify({ name, model: model.id }),
      });
      assert.equal(created.status, 201, await created.text());
    }
    const ids: Record<string, string> = {
      datasets: dataset.id,
      models: model.id,
      jobs: job.id,
      deployments: "walk",
    };
    // Deletions get resources no job refers to (a queued job's inputs are protected with 409).
    const spareDataset = await instance.tenantA.uploadDataset(new TextEncoder().encode(csv), {
      fileName: "x.csv",
    });
    const spareModel = await instance.tenantA.createModel({ ...modelSpec, name: "spare" });
    const deleteIds: Record<string, string> = {
      datasets: spareDataset.id,
      models: spareModel.id,
      deployments: "spare",
    };
    const bodies: Record<string, () => BodyInit> = {
      "post /v1/datasets": () => {
        const form = new FormData();
        form.append("file", new Blob([csv]), "again.csv");
        return form;
      },
      "post /v1/models": () => JSON.stringify(modelSpec),
      "post /v1/models/{id}/predict": () => JSON.stringify({ inputs: ["row 3 is good"] }),
      "post /v1/deployments": () => JSON.stringify({ name: "walk2", model: model.id }),
      "put /v1/deployments/{name}": () => JSON.stringify({ model: model.id }),
      "patch /v1/deployments/{name}": () => JSON.stringify({ model: model.id, canary_percent: 10 }),
      "post /v1/deployments/{name}/rollback": () => JSON.stringify({}),
      "post /v1/deployments/{name}/predict": () => JSON.stringify({ inputs: ["row 3 is good"] }),
      "post /v1/jobs": () =>
        JSON.stringify({ task: "text-classification", base_model: model.id, training_dataset: dataset.id }),
    };
    // Deletions last, so the other calls see live resources.
    const ops = operations(doc).sort((a, b) => Number(a.method === "delete") - Number(b.method === "delete"));
    for (const { method, path, op } of ops) {
      const key = `${method} ${path}`;
      const kind = path.split("/")[2];
      const id = (method === "delete" ? deleteIds : ids)[kind] ?? "fake_id";
      let url = path.replace("{id}", id).replace("{name}", id).replace("{file}", "app.js");
      if (path === "/v1/jobs/{id}/events") url += "?format=json";
      const body = bodies[key]?.();
      const headers: Record<string, string> = { Authorization: `Bearer ${TENANT_A_KEY}` };
      if (typeof body === "string") headers["Content-Type"] = "application/json";
      const response = await fetch(instance.url + url, { method: method.toUpperCase(), headers, body });
      const text = await response.text();
      assert.ok(
        ![405, 501].includes(response.status) && response.status < 500,
        `${key}: ${response.status} ${text}`,
      );
      assert.ok(!text.includes('"no route for'), `${key} is routed`);
      assert.ok(response.status < 300, `${key} with plausible input succeeds: ${response.status} ${text}`);
      const documented = (op.responses as Record<string, Json>)[String(response.status)];
      assert.ok(documented, `${key}: status ${response.status} is documented`);
      const schema = (documented.content as Record<string, Json> | undefined)?.["application/json"]?.schema;
      if (schema && response.headers.get("content-type")?.includes("json")) {
        const ref = (schema as Json).$ref;
        if (key === "get /openapi.json") continue; // the document itself: checked by the first test
        assert.equal(typeof ref, "string", `${key}: a named response schema`);
        const validate = ajv.getSchema(`doc${ref}`)!;
        assert.ok(validate(JSON.parse(text)), `${key}: ${ajv.errorsText(validate.errors)}`);
      }
    }
    // A fake id is a resource 404, told apart from an unknown route by its message.
    const missing = await fetch(`${instance.url}/v1/jobs/job_nope`, {
      headers: { Authorization: `Bearer ${TENANT_A_KEY}` },
    });
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).error.message, /job 'job_nope' does not exist/);
    const noRoute = await fetch(`${instance.url}/v1/nothing-here`, {
      headers: { Authorization: `Bearer ${TENANT_A_KEY}` },
    });
    assert.equal(noRoute.status, 404);
    assert.match((await noRoute.json()).error.message, /^no route for GET/);

    const docs = await (await fetch(`${instance.url}/docs`)).text();
    for (const { op } of operations(doc)) {
      assert.ok(docs.includes(`id="op-${op.operationId}"`), `${op.operationId} in /docs`);
    }
    assert.ok(docs.includes('id="schema-CreateJobRequest"'));
  } finally {
    await instance.stop();
  }
});
