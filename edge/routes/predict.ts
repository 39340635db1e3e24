/**
 * POST /v1/models/:id/predict — text classification with the Hugging Face pipeline's I/O shape: `inputs` a
 * string → `[{label, score}, ...]` sorted by score (highest first), a list → one such list per input;
 * `top_k` (top level or in `parameters`) keeps the k best. The model must have a classification head
 * (task `text-classification`); inputs are bounded (at most 256, each at most maxFieldChars characters).
 * Concurrent requests to one model are batched (serving/batcher.ts).
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Platform } from "../../shared/platform/types.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import type { ModelRecord } from "../../shared/schemas/resources.ts";
import type { EdgeEnv, EdgeLimits } from "../deps.ts";
import { getOwned, readJsonBody } from "../http.ts";
import type { PredictBatcher } from "../serving/batcher.ts";

export const MAX_PREDICT_INPUTS = 256;
/** Room for 256 long inputs; each is still bounded by maxFieldChars. */
const MAX_PREDICT_BODY_BYTES = 32 * 1024 * 1024;

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

export function predictRoutes(
  platform: Platform,
  limits: EdgeLimits,
  batcher: PredictBatcher,
): Hono<EdgeEnv> {
  const app = new Hono<EdgeEnv>();
  const schema = predictRequest(limits.maxFieldChars);

  app.post("/:id/predict", async (c) => {
    const record = await getOwned<ModelRecord>(
      platform.meta,
      "models",
      c.get("tenant"),
      c.req.param("id"),
      "model",
    );
    const model = record.value;
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
    const body = await readJsonBody(c, schema, MAX_PREDICT_BODY_BYTES);
    const texts = typeof body.inputs === "string" ? [body.inputs] : body.inputs;
    const topK = body.top_k ?? body.parameters?.top_k;
    const maxPositions = Number(model.config.max_position_embeddings ?? 512);
    const maxLength = Math.min(body.parameters?.max_length ?? maxPositions, maxPositions);
    const probabilities = await batcher.classify(model, texts, maxLength);
    const results = probabilities.map((p) => rankLabels(p, model.labels!, topK));
    return c.json(typeof body.inputs === "string" ? results[0] : results);
  });

  return app;
}
