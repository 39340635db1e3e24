/**
 * The table of every HTTP route the edge answers, for the OpenAPI document: method, path, summary, whether
 * it needs the bearer key, its parameters, its request body and its responses, each pointing at the zod
 * schema the route itself validates with or answers with (request schemas from shared/schemas and the route
 * modules, response views from api_schemas.ts). tests/openapi checks this table against Hono's own list.
 */
import type { z } from "zod";
import { predictRequest } from "../routes/predict.ts";
import { deploymentPredictRequest } from "../routes/deployments.ts";
import {
  createDeploymentRequest,
  publicDeploymentSchema,
  rollbackRequest,
  updateDeploymentRequest,
} from "../../shared/schemas/deployments.ts";
import { randomModelSpec } from "../models/random_init.ts";
import { createJobBody, jobEstimateSchema } from "../routes/job_estimate.ts";
import {
  datasetUploadForm,
  deletedSchema,
  healthSchema,
  listOf,
  modelUploadForm,
  predictResponseSchema,
  publicDatasetSchema,
  publicJobSchema,
  publicModelSchema,
  storedEventSchema,
} from "./api_schemas.ts";

export interface ParamSpec {
  name: string;
  in: "path" | "query" | "header";
  description: string;
  required?: boolean;
  schema: Record<string, unknown>;
}

export interface ResponseSpec {
  description: string;
  /** Component name → schema; or a media type with a plain JSON Schema (HTML, SSE). */
  schema?: string;
  content?: Record<string, Record<string, unknown>>;
}

export interface RouteSpec {
  method: "get" | "post" | "delete" | "put" | "patch";
  /** OpenAPI path template (`{id}`). */
  path: string;
  tag: string;
  summary: string;
  auth: boolean;
  params?: ParamSpec[];
  /** Media type → component name. */
  body?: Record<string, string>;
  responses: Record<string, ResponseSpec>;
}

const id = (what: string): ParamSpec => ({
  name: "id",
  in: "path",
  required: true,
  description: `the ${what}'s id`,
  schema: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$" },
});
const deploymentName: ParamSpec = {
  name: "name",
  in: "path",
  required: true,
  description: "the deployment's name",
  schema: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$" },
};
const PREDICT_200 =
  "the task's pipeline output per input (labels by score, {score}, entities, answers, generated_text, " +
  "translation_text); with `stream: true` (generative models) server-sent events, one per token; headers x-edgetune-model, x-queue-time, x-tokenization-time, " +
  "x-inference-time, x-total-time (ms), x-compute-tokens";
/** JSON for every task; server-sent events for `stream: true` on generative models. */
const PREDICT_CONTENT = {
  "application/json": { schema: { $ref: "#/components/schemas/PredictResponse" } },
  "text/event-stream": {
    schema: {
      type: "string",
      description: "one `data: {token:{id,text,special}, generated_text:null}` event per token, then " +
        "`event: done` with generated_text (translation_text) and details {finish_reason, generated_tokens}",
    },
  },
};
const QUEUE_FULL = "the prediction queue is full: retry after the Retry-After header's seconds";
const html = (description: string): ResponseSpec => ({
  description,
  content: { "text/html": { schema: { type: "string" } } },
});

/** Named request/response schemas; `maxFieldChars` bounds predict inputs as the route does. */
export function componentSchemas(maxFieldChars: number): Record<string, z.ZodType> {
  return {
    Dataset: publicDatasetSchema,
    DatasetList: listOf(publicDatasetSchema),
    DatasetUpload: datasetUploadForm,
    Model: publicModelSchema,
    ModelList: listOf(publicModelSchema),
    RandomModelSpec: randomModelSpec,
    ModelFolderUpload: modelUploadForm,
    Job: publicJobSchema,
    JobList: listOf(publicJobSchema, true),
    CreateJobRequest: createJobBody,
    JobEstimate: jobEstimateSchema,
    JobEvent: storedEventSchema,
    JobEventList: listOf(storedEventSchema, true),
    PredictRequest: predictRequest(maxFieldChars),
    PredictResponse: predictResponseSchema,
    Deleted: deletedSchema,
    Health: healthSchema,
    Deployment: publicDeploymentSchema,
    DeploymentList: listOf(publicDeploymentSchema),
    CreateDeploymentRequest: createDeploymentRequest,
    UpdateDeploymentRequest: updateDeploymentRequest,
    RollbackRequest: rollbackRequest,
    DeploymentPredictRequest: deploymentPredictRequest(maxFieldChars),
  };
}

export const ROUTES: RouteSpec[] = [
  {
    method: "get",
    path: "/healthz",
    tag: "health",
    summary: "Liveness",
    auth: false,
    responses: { 200: { description: "serving", schema: "Health" } },
  },
  {
    method: "get",
    path: "/readyz",
    tag: "health",
    summary: "Readiness (platform reachable)",
    auth: false,
    responses: {
      200: { description: "ready", schema: "Health" },
      503: { description: "not ready", schema: "Health" },
    },
  },
  {
    method: "get",
    path: "/metrics",
    tag: "health",
    summary:
      "Prometheus metrics (text format 0.0.4); open unless EDGETUNE_METRICS_TOKEN is set (then a bearer " +
      "token of its own)",
    auth: false,
    responses: {
      200: { description: "the metrics", content: { "text/plain": { schema: { type: "string" } } } },
      401: { description: "metrics token required", schema: "Error" },
    },
  },
  {
    method: "get",
    path: "/openapi.json",
    tag: "meta",
    summary: "This OpenAPI document",
    auth: false,
    responses: { 200: { description: "OpenAPI 3.1", content: { "application/json": { schema: {} } } } },
  },
  {
    method: "get",
    path: "/docs",
    tag: "meta",
    summary: "Browsable API reference (HTML)",
    auth: false,
    responses: { 200: html("the reference") },
  },
  {
    method: "get",
    path: "/",
    tag: "meta",
    summary: "The dashboard (HTML; its API calls use the bearer key)",
    auth: false,
    responses: { 200: html("the dashboard page") },
  },
  {
    method: "get",
    path: "/ui/{file}",
    tag: "meta",
    summary: "Dashboard assets (ES modules, CSS)",
    auth: false,
    params: [{
      name: "file",
      in: "path",
      required: true,
      description: "asset name",
      schema: { type: "string" },
    }],
    responses: {
      200: { description: "the asset", content: { "text/javascript": { schema: { type: "string" } } } },
      404: { description: "no such asset", schema: "Error" },
    },
  },
  {
    method: "post",
    path: "/v1/datasets",
    tag: "datasets",
    summary: "Upload a dataset (CSV, TSV or JSONL); validated before it is accepted",
    auth: true,
    body: { "multipart/form-data": "DatasetUpload" },
    responses: { 201: { description: "stored", schema: "Dataset" } },
  },
  {
    method: "get",
    path: "/v1/datasets",
    tag: "datasets",
    summary: "List datasets",
    auth: true,
    responses: { 200: { description: "newest first", schema: "DatasetList" } },
  },
  {
    method: "get",
    path: "/v1/datasets/{id}",
    tag: "datasets",
    summary: "Show a dataset",
    auth: true,
    params: [id("dataset")],
    responses: { 200: { description: "the dataset", schema: "Dataset" } },
  },
  {
    method: "delete",
    path: "/v1/datasets/{id}",
    tag: "datasets",
    summary: "Delete a dataset (409 while a job uses it)",
    auth: true,
    params: [id("dataset")],
    responses: { 200: { description: "deleted", schema: "Deleted" } },
  },
  {
    method: "post",
    path: "/v1/models",
    tag: "models",
    summary: "Create a base model: random-init spec (JSON) or a Hugging Face folder (multipart)",
    auth: true,
    body: { "application/json": "RandomModelSpec", "multipart/form-data": "ModelFolderUpload" },
    responses: { 201: { description: "created", schema: "Model" } },
  },
  {
    method: "get",
    path: "/v1/models",
    tag: "models",
    summary: "List models",
    auth: true,
    responses: { 200: { description: "newest first", schema: "ModelList" } },
  },
  {
    method: "get",
    path: "/v1/models/{id}",
    tag: "models",
    summary: "Show a model",
    auth: true,
    params: [id("model")],
    responses: { 200: { description: "the model", schema: "Model" } },
  },
  {
    method: "get",
    path: "/v1/models/{id}/export",
    tag: "models",
    summary: "Download the model's Hugging Face folder as an uncompressed tar (streamed)",
    auth: true,
    params: [id("model")],
    responses: {
      200: {
        description: "`<name>/config.json`, `<name>/model.safetensors`, … in one tar",
        content: {
          "application/x-tar": { schema: { type: "string", contentMediaType: "application/x-tar" } },
        },
      },
    },
  },
  {
    method: "delete",
    path: "/v1/models/{id}",
    tag: "models",
    summary: "Delete a model (409 while a job uses it)",
    auth: true,
    params: [id("model")],
    responses: { 200: { description: "deleted", schema: "Deleted" } },
  },
  {
    method: "post",
    path: "/v1/models/{id}/predict",
    tag: "models",
    summary: "Predict with a model's task head: classify, score, tag entities, answer, generate, translate",
    auth: true,
    params: [id("model")],
    body: { "application/json": "PredictRequest" },
    responses: {
      200: { description: PREDICT_200, content: PREDICT_CONTENT },
      429: { description: QUEUE_FULL, schema: "Error" },
    },
  },
  {
    method: "post",
    path: "/v1/deployments",
    tag: "deployments",
    summary: "Deploy a model with a task head under a stable name (version 1, all traffic)",
    auth: true,
    body: { "application/json": "CreateDeploymentRequest" },
    responses: { 201: { description: "created", schema: "Deployment" } },
  },
  {
    method: "get",
    path: "/v1/deployments",
    tag: "deployments",
    summary: "List deployments",
    auth: true,
    responses: { 200: { description: "the tenant's deployments", schema: "DeploymentList" } },
  },
  {
    method: "get",
    path: "/v1/deployments/{name}",
    tag: "deployments",
    summary: "Show a deployment: versions, traffic split and change history (who, what, when)",
    auth: true,
    params: [deploymentName],
    responses: { 200: { description: "the deployment", schema: "Deployment" } },
  },
  ...(["put", "patch"] as const).map((method): RouteSpec => ({
    method,
    path: "/v1/deployments/{name}",
    tag: "deployments",
    summary: "Change a deployment: `model` adds a version (all traffic or `canary_percent`), `traffic` " +
      "re-splits two versions, `canary_percent` alone moves the newer split version's share",
    auth: true,
    params: [deploymentName],
    body: { "application/json": "UpdateDeploymentRequest" },
    responses: { 200: { description: "the deployment after the change", schema: "Deployment" } },
  })),
  {
    method: "post",
    path: "/v1/deployments/{name}/rollback",
    tag: "deployments",
    summary: "Restore the traffic before the last change (or put all traffic on `version`); 409 if none",
    auth: true,
    params: [deploymentName],
    body: { "application/json": "RollbackRequest" },
    responses: { 200: { description: "the deployment after the rollback", schema: "Deployment" } },
  },
  {
    method: "post",
    path: "/v1/deployments/{name}/predict",
    tag: "deployments",
    summary:
      "Predict with the deployment (its model task's shape): the traffic split picks a version (sticky by " +
      "X-Request-Key or `request_key`); headers x-edgetune-deployment(-version) name it",
    auth: true,
    params: [deploymentName, {
      name: "X-Request-Key",
      in: "header",
      description: "sticky routing: the same key reaches the same version while the split is unchanged",
      schema: { type: "string", minLength: 1, maxLength: 256 },
    }],
    body: { "application/json": "DeploymentPredictRequest" },
    responses: {
      200: { description: PREDICT_200 + ", x-edgetune-deployment-version", content: PREDICT_CONTENT },
      429: { description: QUEUE_FULL, schema: "Error" },
    },
  },
  {
    method: "delete",
    path: "/v1/deployments/{name}",
    tag: "deployments",
    summary: "Delete a deployment (its models stay)",
    auth: true,
    params: [deploymentName],
    responses: { 200: { description: "deleted", schema: "Deleted" } },
  },
  {
    method: "post",
    path: "/v1/jobs",
    tag: "jobs",
    summary: "Create a fine-tuning job, or with dry_run get its plan and time estimate",
    auth: true,
    params: [{
      name: "Idempotency-Key",
      in: "header",
      description: "same key + same body → the same job; a different body → 409",
      schema: { type: "string", minLength: 1, maxLength: 255 },
    }],
    body: { "application/json": "CreateJobRequest" },
    responses: {
      200: {
        description: "a replayed idempotent create (Job) or a dry run (JobEstimate)",
        content: {
          "application/json": {
            schema: {
              oneOf: [{ $ref: "#/components/schemas/Job" }, { $ref: "#/components/schemas/JobEstimate" }],
            },
          },
        },
      },
      201: { description: "queued", schema: "Job" },
    },
  },
  {
    method: "get",
    path: "/v1/jobs",
    tag: "jobs",
    summary: "List jobs (newest first, paged)",
    auth: true,
    params: [
      {
        name: "limit",
        in: "query",
        description: "page size",
        schema: { type: "integer", minimum: 1, maximum: 100, default: 20 },
      },
      { name: "after", in: "query", description: "a job id: the page after it", schema: { type: "string" } },
    ],
    responses: { 200: { description: "a page", schema: "JobList" } },
  },
  {
    method: "get",
    path: "/v1/jobs/{id}",
    tag: "jobs",
    summary: "Show a job (status, progress, metrics, eta_seconds)",
    auth: true,
    params: [id("job")],
    responses: { 200: { description: "the job", schema: "Job" } },
  },
  {
    method: "post",
    path: "/v1/jobs/{id}/cancel",
    tag: "jobs",
    summary: "Cancel a job (queued: at once; running: within one step; finished: 409)",
    auth: true,
    params: [id("job")],
    responses: { 200: { description: "the job after the request", schema: "Job" } },
  },
  {
    method: "get",
    path: "/v1/jobs/{id}/events",
    tag: "jobs",
    summary: "The job's events as Server-Sent Events (replay, then live), or JSON with ?format=json",
    auth: true,
    params: [
      id("job"),
      {
        name: "Last-Event-ID",
        in: "header",
        description: "resume after this event id",
        schema: { type: "string", pattern: "^\\d{1,15}$" },
      },
      { name: "after", in: "query", description: "resume after this event id", schema: { type: "integer" } },
      {
        name: "format",
        in: "query",
        description: "`json`: the history as a list",
        schema: { enum: ["json"] },
      },
    ],
    responses: {
      200: {
        description: "`text/event-stream`: `id:` seq, `event:` type, `data:` a JobEvent; or JobEventList",
        content: {
          "text/event-stream": { schema: { type: "string" } },
          "application/json": { schema: { $ref: "#/components/schemas/JobEventList" } },
        },
      },
    },
  },
];
