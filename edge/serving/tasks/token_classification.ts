/**
 * Serving for token classification (NER/POS), in the Hugging Face token-classification pipeline's shape:
 * `inputs` a text or a list of texts; `parameters.aggregation_strategy` none | simple | first | max | average
 * (default simple) and `ignore_labels` (default ["O"]). Each text answers its entities — grouped
 * `{entity_group, score, word, start, end}`, or per token `{entity, score, index, word, start, end}` with
 * aggregation none — with character offsets (UTF-16 indices) into the text as sent. Texts longer than the
 * model's positions are truncated (the entities cover the kept part).
 */
import { z } from "zod";
import { tokenClassificationInputs, tokenEntities } from "../../../shared/core/tasks/token_predict.ts";
import { OverloadedError } from "../batcher.ts";
import { encoderOf } from "../model_cache.ts";
import { MAX_PREDICT_INPUTS, type ServingTask, setTimingHeaders } from "./types.ts";

function tokenRequest(maxFieldChars: number) {
  const text = z.string().max(maxFieldChars, `each input must be at most ${maxFieldChars} characters`);
  return z.object({
    inputs: z.union([text, z.array(text).min(1).max(MAX_PREDICT_INPUTS)]),
    parameters: z.object({
      aggregation_strategy: z.enum(["none", "simple", "first", "max", "average"]).optional(),
      ignore_labels: z.array(z.string().max(100)).max(1000).optional(),
      max_length: z.number().int().min(8).max(4096).optional(),
    }).strict().optional(),
  }).strict();
}
type TokenBody = z.infer<ReturnType<typeof tokenRequest>>;
const textsOf = (body: TokenBody) => Array.isArray(body.inputs) ? body.inputs : [body.inputs];

export const tokenClassificationServing: ServingTask<TokenBody> = {
  schema: tokenRequest,
  inputCount: (body) => textsOf(body).length,
  async serve(ctx) {
    const { c, serving, model, body } = ctx;
    const texts = textsOf(body);
    const aggregation = body.parameters?.aggregation_strategy ?? "simple";
    const ignore = body.parameters?.ignore_labels ?? ["O"];
    try {
      const measured = await serving.batcher.run(model, (served) => {
        const encoder = encoderOf(served);
        const limit = Math.min(body.parameters?.max_length ?? Infinity, encoder.model.maxSequenceLength);
        const inputs = texts.map((text) => tokenClassificationInputs(encoder.tokenizer, text, limit));
        return {
          rows: inputs.map(({ ids, typeIds }) => ({ ids, typeIds })),
          finish: (outputs) =>
            outputs.map((logits, i) =>
              tokenEntities(texts[i], inputs[i].offsets, logits, encoder.labels, aggregation, ignore)
            ),
        };
      }, ctx.arrival);
      setTimingHeaders(c, model, ctx.started, measured);
      return c.json(Array.isArray(body.inputs) ? measured.result : measured.result[0]);
    } catch (error) {
      if (error instanceof OverloadedError) c.header("Retry-After", String(error.retryAfterSeconds));
      throw error;
    }
  },
};
