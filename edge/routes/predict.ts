/**
 * POST /v1/models/:id/predict — predictions in the Hugging Face pipeline shape of the model's task
 * (edge/serving/tasks/: text-classification, text-regression, token-classification, question-answering,
 * text generation, translation). The route finds the model, lets its task validate the body and answer;
 * inputs are bounded (at most 256 per request, each at most maxFieldChars characters). Encoder tasks are
 * dynamically batched (serving/batcher.ts) and answer TEI-style timing headers (x-queue-time,
 * x-tokenization-time, x-inference-time, x-total-time, in ms); a full queue answers 429 with Retry-After.
 * `servePrediction` is shared with deployment predictions.
 */
import { type Context, Hono } from "hono";
import type { Platform } from "../../shared/platform/types.ts";
import { ApiError, notFound } from "../../shared/schemas/errors.ts";
import { idPattern, type ModelRecord } from "../../shared/schemas/resources.ts";
import type { EdgeEnv, EdgeLimits } from "../deps.ts";
import { isJsonContentType, parseJsonText, readTextLimited, recordKey, validateValue } from "../http.ts";
import type { Arrival } from "../serving/batcher.ts";
import type { Serving } from "../serving/runtime.ts";
import { SERVING_TASKS, servingTaskFor } from "../serving/tasks/mod.ts";
import { z } from "zod";

export { MAX_PREDICT_INPUTS } from "../serving/tasks/types.ts";
/** Room for 256 long inputs; each is still bounded by maxFieldChars. */
export const MAX_PREDICT_BODY_BYTES = 32 * 1024 * 1024;

/** Any task's request body (for the OpenAPI document): the union of the tasks' schemas. */
export function predictRequest(maxFieldChars: number) {
  const schemas = Object.values(SERVING_TASKS).map((task) => task!.schema(maxFieldChars));
  return z.union(schemas as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]]);
}

/** The request body as a JSON object (415 unless JSON, 400 unless an object). */
export async function readPredictObject(c: Context<EdgeEnv>): Promise<Record<string, unknown>> {
  if (!isJsonContentType(c.req.header("content-type"))) {
    throw new ApiError(415, "unsupported_media_type", "send the body as application/json");
  }
  const text = await readTextLimited(c.req.raw.body, MAX_PREDICT_BODY_BYTES);
  return parseJsonText(text, z.record(z.string(), z.unknown()));
}

/** Validates `raw` with the model's task schema and answers it; `onInputs` learns the input count. */
export async function servePrediction(
  c: Context<EdgeEnv>,
  serving: Serving,
  limits: EdgeLimits,
  model: ModelRecord,
  raw: unknown,
  started: number,
  arrival: Arrival | undefined,
  onInputs: (count: number) => void,
): Promise<Response> {
  const task = servingTaskFor(model);
  const body = validateValue(raw, task.schema(limits.maxFieldChars));
  onInputs(task.inputCount(body));
  return await task.serve({ c, serving, model, body, started, arrival });
}

/**
 * Counts a predict request (and its error) and observes its latency, whatever the outcome; announces it to
 * the batcher from the start (so a forming batch waits for it) until it is queued or fails.
 */
export async function measured(
  serving: Serving,
  labels: () => { tenant: string; deployment: string; model: string },
  handle: (arrival: Arrival) => Promise<Response>,
  inputs: () => number,
): Promise<Response> {
  const started = performance.now();
  const m = serving.metrics;
  const arrival = serving.batcher.arrive();
  try {
    const response = await handle(arrival);
    const l = labels();
    m.requests.inc({ ...l, code: String(response.status) });
    m.inputs.inc({ tenant: l.tenant, deployment: l.deployment }, inputs());
    m.latency.observe((performance.now() - started) / 1000, { tenant: l.tenant, deployment: l.deployment });
    return response;
  } catch (error) {
    const l = labels();
    const status = error instanceof ApiError ? error.status : 500;
    const code = error instanceof ApiError ? error.code : "internal_error";
    m.requests.inc({ ...l, code: String(status) });
    m.errors.inc({ tenant: l.tenant, deployment: l.deployment, code });
    m.latency.observe((performance.now() - started) / 1000, { tenant: l.tenant, deployment: l.deployment });
    throw error;
  } finally {
    arrival.release();
  }
}

export function predictRoutes(_platform: Platform, limits: EdgeLimits, serving: Serving): Hono<EdgeEnv> {
  const app = new Hono<EdgeEnv>();

  app.post("/:id/predict", (c) => {
    const started = performance.now();
    let inputs = 0;
    let model = "";
    return measured(serving, () => ({ tenant: c.get("tenant"), deployment: "", model }), async (arrival) => {
      const id = c.req.param("id");
      const found = idPattern.test(id)
        ? await serving.records.get<ModelRecord>("models", recordKey(c.get("tenant"), id))
        : null;
      if (found === null) throw notFound("model", id);
      model = found.value.id;
      servingTaskFor(found.value); // 400 before reading the body when the model cannot predict
      const raw = await readPredictObject(c);
      return await servePrediction(c, serving, limits, found.value, raw, started, arrival, (n) => inputs = n);
    }, () => inputs);
  });

  return app;
}
