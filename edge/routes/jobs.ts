/**
 * /v1/jobs: create a fine-tuning job (validated spec, referenced model and datasets must belong to the tenant,
 * columns must exist; `Idempotency-Key` makes retries safe), list (newest first), get, cancel. A created job
 * is a `queued` record in meta "jobs" at `<tenant>.<id>`, a `status` event in stream `<tenant>.<id>`, and a
 * queue message deduplicated by the job id. The event stream itself lives in job_events.ts.
 */
import { Hono } from "hono";
import { normalizeCapabilities } from "../../shared/platform/queue_extras.ts";
import { newId } from "../../shared/platform/ids.ts";
import { updateWithRetry } from "../../shared/platform/meta_helpers.ts";
import type { Platform } from "../../shared/platform/types.ts";
import { ApiError, ConflictError, invalidRequest, notFound } from "../../shared/schemas/errors.ts";
import {
  type CreateJobRequest,
  idPattern,
  type JobRecord,
  type JobStatus,
} from "../../shared/schemas/resources.ts";
import type { EdgeEnv } from "../deps.ts";
import { getOwned, readJsonBody, recordKey } from "../http.ts";
import { createJobBody, estimateJob, jobEta } from "./job_estimate.ts";
import { checkJobReferences } from "./job_checks.ts";

export const FINAL_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "cancelled"];
export const isFinalStatus = (status: unknown): boolean => FINAL_STATUSES.includes(status as JobStatus);

interface IdempotencyRecord {
  request_hash: string;
  job_id: string;
  created_at: string;
}

/** The API view of a job (the owning tenant left out). */
export function publicJob(job: JobRecord) {
  const { tenant: _tenant, ...view } = job;
  return view;
}

/** JSON with object keys sorted, so equal requests hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function newJobRecord(id: string, tenant: string, spec: CreateJobRequest, now: string): JobRecord {
  return {
    id,
    object: "fine_tuning.job",
    tenant,
    task: spec.task,
    status: "queued",
    base_model: spec.base_model,
    training_dataset: spec.training_dataset,
    validation_dataset: spec.validation_dataset ?? null,
    training_target_dataset: spec.training_target_dataset ?? null,
    validation_target_dataset: spec.validation_target_dataset ?? null,
    validation_split: spec.validation_split ?? null,
    columns: spec.columns,
    hyperparameters: spec.hyperparameters,
    task_options: spec.task_options,
    suffix: spec.suffix ?? null,
    requires: normalizeCapabilities(spec.requires),
    created_at: now,
    started_at: null,
    finished_at: null,
    progress: { step: 0, total_steps: 0, epoch: 0 },
    metrics: {},
    backend: null,
    fine_tuned_model: null,
    error: null,
    cancel_requested: false,
    attempts: 0,
  };
}

export function jobRoutes(platform: Platform): Hono<EdgeEnv> {
  const app = new Hono<EdgeEnv>();
  const { meta, events, queue } = platform;

  /** Makes sure the queued job is announced and enqueued (both idempotent by job id). */
  async function enqueue(tenant: string, job: JobRecord, announce: boolean) {
    if (announce) await events.append(recordKey(tenant, job.id), "status", { status: "queued" });
    await queue.publish({ tenant, jobId: job.id, requires: job.requires }, job.id);
  }

  app.post("/", async (c) => {
    const tenant = c.get("tenant");
    const { dry_run: dryRun, ...spec } = await readJsonBody(c, createJobBody);
    await checkJobReferences(platform, tenant, spec);
    if (dryRun) return c.json(await estimateJob(platform, tenant, spec));

    let jobId = newId("job");
    const idempotencyKey = c.req.header("idempotency-key");
    if (idempotencyKey !== undefined) {
      if (idempotencyKey.length === 0 || idempotencyKey.length > 255) {
        throw invalidRequest("Idempotency-Key must be 1-255 characters");
      }
      const requestHash = await sha256Hex(canonicalJson(spec));
      const key = recordKey(tenant, (await sha256Hex(idempotencyKey)).slice(0, 40));
      let remembered = await meta.get<IdempotencyRecord>("idempotency", key);
      if (remembered === null) {
        const fresh = { request_hash: requestHash, job_id: jobId, created_at: new Date().toISOString() };
        try {
          await meta.create("idempotency", key, fresh);
        } catch (error) {
          if (!(error instanceof ConflictError)) throw error;
          remembered = await meta.get<IdempotencyRecord>("idempotency", key);
        }
      }
      if (remembered !== null) {
        if (remembered.value.request_hash !== requestHash) {
          throw new ApiError(
            409,
            "conflict",
            "this Idempotency-Key was already used with a different request",
            {
              job_id: remembered.value.job_id,
            },
          );
        }
        jobId = remembered.value.job_id;
        const existing = await meta.get<JobRecord>("jobs", recordKey(tenant, jobId));
        if (existing !== null) {
          if (existing.value.status === "queued") await enqueue(tenant, existing.value, false);
          c.header("Idempotent-Replayed", "true");
          return c.json(publicJob(existing.value), 200);
        }
        // The first request stopped before creating the job: finish its work under the remembered id.
      }
    }

    const job = newJobRecord(jobId, tenant, spec, new Date().toISOString());
    try {
      await meta.create("jobs", recordKey(tenant, jobId), job);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      // A concurrent retry with the same Idempotency-Key created it first.
      const existing = await meta.get<JobRecord>("jobs", recordKey(tenant, jobId));
      c.header("Idempotent-Replayed", "true");
      return c.json(publicJob(existing!.value), 200);
    }
    await enqueue(tenant, job, true);
    return c.json(publicJob(job), 201);
  });

  app.get("/", async (c) => {
    const limitText = c.req.query("limit") ?? "20";
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw invalidRequest("limit must be an integer from 1 to 100", [{
        path: "limit",
        message: "out of range",
      }]);
    }
    const jobs = (await meta.list<JobRecord>("jobs", `${c.get("tenant")}.`)).map((r) => r.value)
      .sort((a, b) => b.created_at.localeCompare(a.created_at) || (a.id < b.id ? 1 : -1));
    const after = c.req.query("after");
    let start = 0;
    if (after !== undefined) {
      const index = jobs.findIndex((job) => job.id === after);
      if (index === -1) throw notFound("job", after);
      start = index + 1;
    }
    const page = jobs.slice(start, start + limit);
    return c.json({ object: "list", data: page.map(publicJob), has_more: start + limit < jobs.length });
  });

  app.get("/:id", async (c) => {
    const job = await getOwned<JobRecord>(meta, "jobs", c.get("tenant"), c.req.param("id"), "job");
    return c.json({ ...publicJob(job.value), eta_seconds: await jobEta(platform, job.value) });
  });

  app.post("/:id/cancel", async (c) => {
    const tenant = c.get("tenant");
    const id = c.req.param("id");
    if (!idPattern.test(id)) throw notFound("job", id);
    let outcome: "cancelled" | "requested" | "already_requested" | "final" = "final";
    let finalStatus: JobStatus = "cancelled";
    const updated = await updateWithRetry<JobRecord>(meta, "jobs", recordKey(tenant, id), (job) => {
      if (job.status === "queued") {
        outcome = "cancelled";
        return { ...job, status: "cancelled", cancel_requested: true, finished_at: new Date().toISOString() };
      }
      if (job.status === "running") {
        outcome = job.cancel_requested ? "already_requested" : "requested";
        return job.cancel_requested ? null : { ...job, cancel_requested: true };
      }
      outcome = "final";
      finalStatus = job.status;
      return null;
    });
    if (updated === null) throw notFound("job", id);
    if (outcome === "final") {
      throw new ApiError(
        409,
        "invalid_state",
        `job '${id}' already finished (${finalStatus}); nothing to cancel`,
        {
          status: finalStatus,
        },
      );
    }
    if (outcome === "cancelled") {
      await events.append(recordKey(tenant, id), "status", { status: "cancelled" });
    }
    return c.json(publicJob(updated.value));
  });

  return app;
}
