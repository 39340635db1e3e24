/**
 * /v1/deployments: named, versioned deployments of classification models. Create `{name, model}` (version 1,
 * all traffic); list; show; PUT/PATCH `{model}` adds a version (all traffic, or `canary_percent` of it),
 * `{traffic}` re-splits, `{canary_percent}` moves the newer split version's share; rollback restores the
 * traffic before the last change (or all on `{version}`); delete. Predict at /:name/predict with the model
 * predict body (+ optional `request_key`, or the X-Request-Key header, for sticky routing); the answer names
 * the deployment, version and model in headers. Every change is a compare-and-set on the record (retried on
 * a race) and is logged in `history` with the actor's tenant and API-key fingerprint. A model that does not
 * exist (or was deleted) cannot be deployed; another tenant's deployment is 404.
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import type { Platform } from "../../shared/platform/types.ts";
import {
  type Actor,
  createDeploymentRequest,
  type DeploymentRecord,
  type HistoryEntry,
  rollbackRequest,
  type TrafficSplit,
  updateDeploymentRequest,
} from "../../shared/schemas/deployments.ts";
import { ApiError, ConflictError, notFound } from "../../shared/schemas/errors.ts";
import type { ModelRecord } from "../../shared/schemas/resources.ts";
import type { EdgeEnv, EdgeLimits } from "../deps.ts";
import { getOwned, readJsonBody, readTextLimited, recordKey } from "../http.ts";
import { parseJsonText, validateValue } from "../http.ts";
import { servingTaskFor } from "../serving/tasks/mod.ts";
import type { Serving } from "../serving/runtime.ts";
import { pickVersion } from "../serving/traffic.ts";
import { measured, predictRequest, readPredictObject, servePrediction } from "./predict.ts";

const MAX_HISTORY = 100;
const MAX_PREVIOUS = 50;
const CAS_TRIES = 5;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Sticky routing: the same key always reaches the same version (while the split is unchanged). */
const requestKey = z.string().min(1).max(256);

/** A deployment predict body: the model task's body plus an optional `request_key` (OpenAPI view). */
export function deploymentPredictRequest(maxFieldChars: number) {
  return z.intersection(predictRequest(maxFieldChars), z.object({ request_key: requestKey.optional() }));
}

/** The API view: no tenant, no rollback stack (only whether there is one). */
export function publicDeployment(record: DeploymentRecord) {
  const { tenant: _tenant, previous, ...view } = record;
  return { ...view, can_roll_back: previous.length > 0 };
}

/** Who is calling: the tenant and a fingerprint of the bearer key (never the key). */
async function actorOf(c: Context<EdgeEnv>): Promise<Actor> {
  const key = /^Bearer\s+(\S+)/i.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)));
  const hex = [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { tenant: c.get("tenant"), key_id: `key_${hex}` };
}

export function deploymentRoutes(platform: Platform, limits: EdgeLimits, serving: Serving): Hono<EdgeEnv> {
  const app = new Hono<EdgeEnv>();
  const { meta } = platform;

  async function deployableModel(tenant: string, id: string): Promise<ModelRecord> {
    const model = (await getOwned<ModelRecord>(meta, "models", tenant, id, "model")).value;
    servingTaskFor(model);
    return model;
  }

  async function getDeployment(tenant: string, name: string) {
    const record = NAME.test(name)
      ? await meta.get<DeploymentRecord>("deployments", recordKey(tenant, name))
      : null;
    if (record === null) throw notFound("deployment", name);
    return record;
  }

  /** All versions in `traffic` must exist and their models must still exist. */
  async function checkTraffic(tenant: string, record: DeploymentRecord, traffic: TrafficSplit) {
    for (const version of Object.keys(traffic)) {
      const found = record.versions.find((v) => v.version === Number(version));
      if (!found) {
        throw new ApiError(400, "invalid_request", `deployment '${record.name}' has no version ${version}`);
      }
      const model = await meta.get<ModelRecord>("models", recordKey(tenant, found.model));
      if (model === null) {
        throw new ApiError(409, "conflict", `version ${version}'s model '${found.model}' was deleted`, {
          version: Number(version),
          model: found.model,
        });
      }
    }
  }

  /** Read-modify-write with compare-and-set, retried on a concurrent change. */
  async function change(
    c: Context<EdgeEnv>,
    name: string,
    apply: (record: DeploymentRecord) => Promise<Omit<HistoryEntry, "at" | "by" | "traffic_before">>,
  ) {
    const tenant = c.get("tenant");
    const by = await actorOf(c);
    for (let attempt = 1;; attempt++) {
      const current = await getDeployment(tenant, name);
      const record: DeploymentRecord = structuredClone(current.value);
      const before = record.traffic;
      const entry = await apply(record);
      const at = new Date().toISOString();
      record.updated_at = at;
      record.history = [...record.history, { at, by, traffic_before: before, ...entry }].slice(-MAX_HISTORY);
      record.previous = record.previous.slice(-MAX_PREVIOUS);
      try {
        const saved = await meta.update("deployments", current.key, record, current.revision);
        serving.records.set("deployments", saved);
        await serving.refreshPins().catch(() => {});
        return c.json(publicDeployment(saved.value));
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= CAS_TRIES) {
          if (error instanceof ConflictError) {
            throw new ApiError(409, "conflict", `deployment '${name}' changed concurrently; retry`);
          }
          throw error;
        }
      }
    }
  }

  app.post("/", async (c) => {
    const tenant = c.get("tenant");
    const body = await readJsonBody(c, createDeploymentRequest);
    const model = await deployableModel(tenant, body.model);
    const by = await actorOf(c);
    const at = new Date().toISOString();
    const traffic = { "1": 100 };
    const record: DeploymentRecord = {
      object: "deployment",
      name: body.name,
      tenant,
      versions: [{ version: 1, model: model.id, created_at: at, created_by: by }],
      traffic,
      previous: [],
      history: [{
        at,
        by,
        action: "create",
        version: 1,
        model: model.id,
        traffic_before: null,
        traffic_after: traffic,
      }],
      created_at: at,
      updated_at: at,
    };
    try {
      serving.records.set(
        "deployments",
        await meta.create("deployments", recordKey(tenant, body.name), record),
      );
    } catch (error) {
      if (error instanceof ConflictError) {
        throw new ApiError(
          409,
          "conflict",
          `deployment '${body.name}' already exists; PUT it to add a version`,
        );
      }
      throw error;
    }
    await serving.refreshPins().catch(() => {});
    return c.json(publicDeployment(record), 201);
  });

  app.get("/", async (c) => {
    const records = await meta.list<DeploymentRecord>("deployments", `${c.get("tenant")}.`);
    return c.json({ object: "list", data: records.map((r) => publicDeployment(r.value)) });
  });

  app.get("/:name", async (c) => {
    return c.json(publicDeployment((await getDeployment(c.get("tenant"), c.req.param("name"))).value));
  });

  const update = async (c: Context<EdgeEnv>) => {
    const tenant = c.get("tenant");
    const name = c.req.param("name")!;
    await getDeployment(tenant, name); // 404 before reading the body
    const body = await readJsonBody(c, updateDeploymentRequest);
    const model = body.model === undefined ? null : await deployableModel(tenant, body.model);
    const by = await actorOf(c);
    return await change(c, name, async (record) => {
      const before = record.traffic;
      if (model) {
        const version = Math.max(...record.versions.map((v) => v.version)) + 1;
        record.versions.push({
          version,
          model: model.id,
          created_at: new Date().toISOString(),
          created_by: by,
        });
        const stable = Object.entries(before).sort((a, b) =>
          b[1] - a[1] || Number(b[0]) - Number(a[0])
        )[0][0];
        const canary = body.canary_percent;
        record.traffic = canary === undefined || canary === 100
          ? { [version]: 100 }
          : canary === 0
          ? { [stable]: 100 }
          : { [stable]: 100 - canary, [version]: canary };
        await checkTraffic(tenant, record, record.traffic); // the version kept beside a canary must still exist
        record.previous.push(before);
        return { action: "update", version, model: model.id, traffic_after: record.traffic };
      }
      let traffic: TrafficSplit;
      if (body.traffic) traffic = body.traffic;
      else {
        const versions = Object.keys(before).map(Number).sort((a, b) => a - b);
        if (versions.length !== 2) {
          throw new ApiError(409, "conflict", "canary_percent alone needs a split between two versions", {
            traffic: before,
          });
        }
        traffic = { [versions[0]]: 100 - body.canary_percent!, [versions[1]]: body.canary_percent! };
      }
      traffic = Object.fromEntries(Object.entries(traffic).filter(([, share]) => share > 0));
      await checkTraffic(tenant, record, traffic);
      record.traffic = traffic;
      record.previous.push(before);
      return { action: "traffic", version: null, model: null, traffic_after: traffic };
    });
  };
  app.put("/:name", update);
  app.patch("/:name", update);

  app.post("/:name/rollback", async (c) => {
    const tenant = c.get("tenant");
    const name = c.req.param("name");
    await getDeployment(tenant, name);
    const text = await readTextLimited(c.req.raw.body, 4096);
    const body = text.trim() === "" ? {} : parseJsonText(text, rollbackRequest);
    return await change(c, name, async (record) => {
      let traffic: TrafficSplit;
      if (body.version !== undefined) traffic = { [body.version]: 100 };
      else {
        const previous = record.previous.pop();
        if (!previous) {
          throw new ApiError(409, "conflict", `deployment '${name}' has nothing to roll back to`);
        }
        traffic = previous;
      }
      await checkTraffic(tenant, record, traffic);
      record.traffic = traffic;
      return { action: "rollback", version: null, model: null, traffic_after: traffic };
    });
  });

  app.delete("/:name", async (c) => {
    const tenant = c.get("tenant");
    const record = await getDeployment(tenant, c.req.param("name"));
    try {
      await meta.delete("deployments", record.key, record.revision);
      serving.records.forget("deployments", record.key);
    } catch (error) {
      if (error instanceof ConflictError) {
        throw new ApiError(
          409,
          "conflict",
          `deployment '${record.value.name}' changed while deleting; retry`,
        );
      }
      throw error;
    }
    await serving.refreshPins().catch(() => {});
    return c.json({ id: record.value.name, object: "deployment", deleted: true });
  });

  app.post("/:name/predict", (c) => {
    const started = performance.now();
    const tenant = c.get("tenant");
    const name = c.req.param("name");
    let inputs = 0;
    let model = "";
    let deployment = "";
    return measured(serving, () => ({ tenant, deployment, model }), async (arrival) => {
      const cached = NAME.test(name)
        ? await serving.records.get<DeploymentRecord>("deployments", recordKey(tenant, name))
        : null;
      if (cached === null) throw notFound("deployment", name);
      const record = cached.value;
      deployment = record.name;
      const { request_key: rawKey, ...predictBody } = await readPredictObject(c);
      const bodyKey = rawKey === undefined ? undefined : validateValue(rawKey, requestKey, "request_key");
      const key = c.req.header("x-request-key") ?? bodyKey ?? null;
      const version = pickVersion(record.name, record.traffic, key);
      const modelId = record.versions.find((v) => v.version === version)?.model ?? "";
      model = modelId;
      const found = await serving.records.get<ModelRecord>("models", recordKey(tenant, modelId));
      if (found === null) {
        throw new ApiError(
          409,
          "conflict",
          `version ${version}'s model '${modelId}' was deleted; roll back`,
          {
            version,
            model: modelId,
          },
        );
      }
      c.header("x-edgetune-deployment", record.name);
      c.header("x-edgetune-deployment-version", String(version));
      return await servePrediction(
        c,
        serving,
        limits,
        found.value,
        predictBody,
        started,
        arrival,
        (n) => inputs = n,
      );
    }, () => inputs);
  });

  return app;
}
