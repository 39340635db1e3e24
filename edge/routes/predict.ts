/**
 * POST /v1/models/:id/predict — text classification with the Hugging Face pipeline's I/O shape: `inputs` a
 * string → `[{label, score}, ...]` sorted by score (highest first), a list → one such list per input;
 * `top_k` (top level or in `parameters`) keeps the k best. The model must have a classification head
 * (task `text-classification`); inputs are bounded (at most 256, each at most maxFieldChars characters).
 * Requests are dynamically batched (serving/batcher.ts); responses carry TEI-style timing headers
 * (x-queue-time, x-tokenization-time, x-inference-time, x-total-time, in ms) and the answering model, and a
 * full queue answers 429 with Retry-After. `servePrediction` is shared with deployment predictions.
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import type { Platform } from "../../shared/platform/types.ts";
import { ApiError, notFound } from "../../shared/schemas/errors.ts";
import { idPattern, type ModelRecord } from "../../shared/schemas/resources.ts";
import type { EdgeEnv, EdgeLimits } from "../deps.ts";
import { readJsonBody, recordKey } from "../http.ts";
import { type Arrival, OverloadedError } from "../serving/batcher.ts";
import type { Serving } from "../serving/runtime.ts";

export const MAX_PREDICT_INPUTS = 256;
/** Room for 256 long inputs; each is still bounded by maxFieldChars. */
export const MAX_PREDICT_BODY_BYTES = 32 * 1024 * 1024;

export function predictRequest(maxFieldChars: number) {
  const text = z.string().max(maxFieldChars, `each input must be at most ${maxFieldChars} characters`);
  return z.object({
    inputs: z.union([text, z.array(text).min(1).max(MAX_PREDICT_INPUTS)]),
    top_k: z.number().int().min(1).optional(),
    parameters: z.object({
      top_k: z.number().int().min(1).optional(),
      max_length: z.number().int().min(8).max(4096).optional(),
      truncation: z.boolean().optional(),
    }).strict().optional(),
  }).strict();
}
export type PredictBody = z.infer<ReturnType<typeof predictRequest>>;

export interface LabelScore {
  label: string;
  score: number;
}

/** Probabilities → labels sorted by score (ties by label order), the first `topK`. */
export function rankLabels(probabilities: ArrayLike<number>, labels: string[], topK?: number): LabelScore[] {
  const ranked = labels.map((label, i) => ({ label, score: probabilities[i], i }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .map(({ label, score }) => ({ label, score }));
  return topK === undefined ? ranked : ranked.slice(0, topK);
}

/** 400 unless the model can classify. */
export function assertClassifier(model: ModelRecord): void {
  if (model.task !== "text-classification" || !model.labels || model.labels.length === 0) {
    throw new ApiError(
      400,
      "invalid_request",
      `model '${model.id}' has no classification head to predict with`,
      {
        task: model.task,
      },
    );
  }
}

const ms = (value: number) => value.toFixed(2);

/** Runs one prediction through the batcher and builds the response with timing headers. */
export async function servePrediction(
  c: Context<EdgeEnv>,
  serving: Serving,
  model: ModelRecord,
  body: PredictBody,
  started: number,
  arrival?: Arrival,
): Promise<Response> {
  const texts = typeof body.inputs === "string" ? [body.inputs] : body.inputs;
  const topK = body.top_k ?? body.parameters?.top_k;
  const maxPositions = Number(model.config.max_position_embeddings ?? 512);
  const maxLength = Math.min(body.parameters?.max_length ?? maxPositions, maxPositions);
  let result;
  try {
    result = await serving.batcher.predict(model, texts, maxLength, arrival);
  } catch (error) {
    if (error instanceof OverloadedError) c.header("Retry-After", String(error.retryAfterSeconds));
    throw error;
  }
  const ranked = result.probabilities.map((p) => rankLabels(p, model.labels!, topK));
  c.header("x-edgetune-model", model.id);
  c.header("x-queue-time", ms(result.timings.queueMs));
  c.header("x-tokenization-time", ms(result.timings.tokenizeMs));
  c.header("x-inference-time", ms(result.timings.inferenceMs));
  c.header("x-compute-tokens", String(result.tokens));
  c.header("x-total-time", ms(performance.now() - started));
  return c.json(typeof body.inputs === "string" ? ranked[0] : ranked);
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
  const schema = predictRequest(limits.maxFieldChars);

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
      const record = found;
      model = record.value.id;
      assertClassifier(record.value);
      const body = await readJsonBody(c, schema, MAX_PREDICT_BODY_BYTES);
      inputs = typeof body.inputs === "string" ? 1 : body.inputs.length;
      return await servePrediction(c, serving, record.value, body, started, arrival);
    }, () => inputs);
  });

  return app;
}
