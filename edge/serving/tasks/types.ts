/**
 * The seam between the predict routes and each task's serving: a task names its request schema (the
 * Hugging Face pipeline's input shape for that task), how many inputs a body carries (for metrics and
 * limits), and how to answer it — encoder tasks through the dynamic batcher (tokenize → rows → raw head
 * outputs → post-processing), generative tasks through generation. Routes stay task-agnostic: they find the
 * model, pick its task's ServingTask, validate, and call `serve`.
 */
import type { Context } from "hono";
import type { z } from "zod";
import type { ModelRecord } from "../../../shared/schemas/resources.ts";
import type { EdgeEnv } from "../../deps.ts";
import type { Arrival } from "../batcher.ts";
import type { Serving } from "../runtime.ts";

export interface ServeContext<Body> {
  c: Context<EdgeEnv>;
  serving: Serving;
  model: ModelRecord;
  body: Body;
  /** performance.now() when the request arrived (for x-total-time). */
  started: number;
  arrival?: Arrival;
}

export interface ServingTask<Body = unknown> {
  /** The request body's schema (strict), given the edge's per-field character limit. */
  schema(maxFieldChars: number): z.ZodType<Body>;
  /** Inputs in a body (a single input counts 1). */
  inputCount(body: Body): number;
  serve(ctx: ServeContext<Body>): Promise<Response>;
}

/** The most inputs one predict request may carry (every task). */
export const MAX_PREDICT_INPUTS = 256;

const ms = (value: number) => value.toFixed(2);

/** TEI-style timing headers and the answering model. */
export function setTimingHeaders(
  c: Context<EdgeEnv>,
  model: ModelRecord,
  started: number,
  measured: { tokens: number; timings: { queueMs: number; tokenizeMs: number; inferenceMs: number } },
): void {
  c.header("x-edgetune-model", model.id);
  c.header("x-queue-time", ms(measured.timings.queueMs));
  c.header("x-tokenization-time", ms(measured.timings.tokenizeMs));
  c.header("x-inference-time", ms(measured.timings.inferenceMs));
  c.header("x-compute-tokens", String(measured.tokens));
  c.header("x-total-time", ms(performance.now() - started));
}
