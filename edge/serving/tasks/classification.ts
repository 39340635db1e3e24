/**
 * Serving for sequence-level heads. text-classification follows the Hugging Face text-classification
 * pipeline: `inputs` is a text, a sentence pair `{text, text_pair}`, or a list of them; each answers labels
 * with scores sorted highest first (`top_k` keeps the k best). Single-label models apply softmax; multi-label
 * models apply a sigmoid per label and keep the labels at or above `threshold` (request parameter, else the
 * threshold the model was evaluated with, 0.5 by default); `function_to_apply` overrides the function.
 * text-regression answers `{score}` per input (the raw regression output).
 */
import { z } from "zod";
import { usesTokenTypes } from "../../../shared/core/infer.ts";
import { encoderOf } from "../model_cache.ts";
import { OverloadedError, softmaxRow } from "../batcher.ts";
import { MAX_PREDICT_INPUTS, type ServeContext, type ServingTask, setTimingHeaders } from "./types.ts";

function sequenceRequest(maxFieldChars: number) {
  const text = z.string().max(maxFieldChars, `each input must be at most ${maxFieldChars} characters`);
  const pair = z.object({ text, text_pair: text.optional() }).strict();
  const input = z.union([text, pair]);
  return z.object({
    inputs: z.union([input, z.array(input).min(1).max(MAX_PREDICT_INPUTS)]),
    top_k: z.number().int().min(1).optional(),
    parameters: z.object({
      top_k: z.number().int().min(1).optional(),
      max_length: z.number().int().min(8).max(4096).optional(),
      truncation: z.boolean().optional(),
      function_to_apply: z.enum(["softmax", "sigmoid", "none"]).optional(),
      threshold: z.number().min(0).max(1).optional(),
    }).strict().optional(),
  }).strict();
}
export type SequenceBody = z.infer<ReturnType<typeof sequenceRequest>>;
type SequenceInput = string | { text: string; text_pair?: string };

export interface LabelScore {
  label: string;
  score: number;
}

/** Scores → labels sorted by score (ties by label order), the first `topK`. */
export function rankLabels(scores: ArrayLike<number>, labels: string[], topK?: number): LabelScore[] {
  const ranked = labels.map((label, i) => ({ label, score: scores[i], i }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .map(({ label, score }) => ({ label, score }));
  return topK === undefined ? ranked : ranked.slice(0, topK);
}

const sigmoidRow = (logits: Float32Array) => logits.map((v) => 1 / (1 + Math.exp(-v)));

const inputsOf = (body: SequenceBody): SequenceInput[] =>
  Array.isArray(body.inputs) ? body.inputs : [body.inputs];

/** Runs the inputs through the batcher; returns each input's raw head outputs. */
async function runSequences(ctx: ServeContext<SequenceBody>): Promise<Float32Array[]> {
  const { c, serving, model, body } = ctx;
  const maxPositions = Number(model.config.max_position_embeddings ?? 512);
  const maxLength = Math.min(body.parameters?.max_length ?? maxPositions, maxPositions);
  try {
    const measured = await serving.batcher.run(model, (served) => {
      const { tokenizer, model: encoder } = encoderOf(served);
      const limit = Math.min(maxLength, encoder.maxSequenceLength);
      // As in training (shared/core/infer.ts): a model without segment embeddings gets type ids 0.
      const keepTypes = usesTokenTypes(encoder);
      const rows = inputsOf(body).map((input) => {
        const text = typeof input === "string" ? input : input.text;
        const pair = typeof input === "string" || input.text_pair === undefined ? null : input.text_pair;
        const row = tokenizer.buildInput(
          tokenizer.tokenize(text),
          pair === null ? null : tokenizer.tokenize(pair),
          limit,
        );
        return keepTypes ? row : { ids: row.ids, typeIds: row.typeIds.map(() => 0) };
      });
      return { rows, finish: (outputs) => outputs };
    }, ctx.arrival);
    setTimingHeaders(c, model, ctx.started, measured);
    return measured.result;
  } catch (error) {
    if (error instanceof OverloadedError) c.header("Retry-After", String(error.retryAfterSeconds));
    throw error;
  }
}

export const textClassificationServing: ServingTask<SequenceBody> = {
  schema: sequenceRequest,
  inputCount: (body) => inputsOf(body).length,
  async serve(ctx) {
    const { model, body } = ctx;
    const outputs = await runSequences(ctx);
    const multiLabel = model.task_options?.multi_label === true;
    const fn = body.parameters?.function_to_apply ?? (multiLabel ? "sigmoid" : "softmax");
    const apply = fn === "softmax" ? softmaxRow : fn === "sigmoid" ? sigmoidRow : (x: Float32Array) => x;
    const modelThreshold = Number(model.task_options?.threshold ?? 0.5);
    const threshold = body.parameters?.threshold ?? (multiLabel ? modelThreshold : undefined);
    const topK = body.top_k ?? body.parameters?.top_k;
    const answers = outputs.map((logits) => {
      const ranked = rankLabels(apply(logits), model.labels ?? [], undefined);
      const kept = threshold === undefined ? ranked : ranked.filter((r) => r.score >= threshold);
      return topK === undefined ? kept : kept.slice(0, topK);
    });
    return ctx.c.json(Array.isArray(body.inputs) ? answers : answers[0]);
  },
};

export const textRegressionServing: ServingTask<SequenceBody> = {
  schema: sequenceRequest,
  inputCount: (body) => inputsOf(body).length,
  async serve(ctx) {
    const outputs = await runSequences(ctx);
    const answers = outputs.map((values) => ({ score: values[0] }));
    return ctx.c.json(Array.isArray(ctx.body.inputs) ? answers : answers[0]);
  },
};
