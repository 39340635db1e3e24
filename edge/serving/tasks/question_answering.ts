/**
 * Serving for extractive question answering, in the Hugging Face question-answering pipeline's shape:
 * `inputs` `{question, context}` or a list of them; parameters top_k (default 1), max_answer_len (default
 * 15), doc_stride (default: the model's training doc_stride, else 128; one that leaves windows no room to
 * advance becomes half the room), max_seq_len (default 384, capped by the model), handle_impossible_answer.
 * Long contexts are split into overlapping windows that are batched like any rows; each input answers
 * `{answer, score, start, end}` (top_k 1) or a list of them, with character offsets (UTF-16 indices) into its
 * context.
 */
import { z } from "zod";
import { qaAnswers, qaInputs } from "../../../shared/core/tasks/qa_predict.ts";
import { OverloadedError } from "../batcher.ts";
import { encoderOf } from "../model_cache.ts";
import { MAX_PREDICT_INPUTS, type ServingTask, setTimingHeaders } from "./types.ts";

function qaRequest(maxFieldChars: number) {
  const text = z.string().min(1).max(maxFieldChars, `each field must be at most ${maxFieldChars} characters`);
  const pair = z.object({ question: text, context: text }).strict();
  return z.object({
    inputs: z.union([pair, z.array(pair).min(1).max(MAX_PREDICT_INPUTS)]),
    top_k: z.number().int().min(1).max(100).optional(),
    parameters: z.object({
      top_k: z.number().int().min(1).max(100).optional(),
      max_answer_len: z.number().int().min(1).max(512).optional(),
      doc_stride: z.number().int().min(1).max(4096).optional(),
      max_seq_len: z.number().int().min(16).max(4096).optional(),
      handle_impossible_answer: z.boolean().optional(),
    }).strict().optional(),
  }).strict();
}
type QaBody = z.infer<ReturnType<typeof qaRequest>>;

const pairsOf = (body: QaBody) => Array.isArray(body.inputs) ? body.inputs : [body.inputs];

export const questionAnsweringServing: ServingTask<QaBody> = {
  schema: qaRequest,
  inputCount: (body) => pairsOf(body).length,
  async serve(ctx) {
    const { c, serving, model, body } = ctx;
    const pairs = pairsOf(body);
    const p = body.parameters ?? {};
    const topK = body.top_k ?? p.top_k ?? 1;
    try {
      const measured = await serving.batcher.run(model, (served) => {
        const encoder = encoderOf(served);
        const maxLength = Math.min(p.max_seq_len ?? 384, encoder.model.maxSequenceLength);
        const stride = p.doc_stride ?? (model.task_options?.doc_stride as number | undefined) ?? 128;
        const windows = pairs.map(({ question, context }) =>
          qaInputs(encoder.tokenizer, question, context, {
            maxLength,
            docStride: stride, // one that does not fit a window becomes half its room (windowBudget)
          })
        );
        return {
          rows: windows.flat().map(({ ids, typeIds }) => ({ ids, typeIds })),
          finish: (outputs) => {
            let next = 0;
            return pairs.map(({ context }, i) => {
              const logits = outputs.slice(next, next + windows[i].length);
              next += windows[i].length;
              const answers = qaAnswers(context, windows[i], logits, {
                topK,
                maxAnswerLength: p.max_answer_len,
                handleImpossible: p.handle_impossible_answer,
              });
              return topK === 1 ? answers[0] ?? { answer: "", score: 0, start: 0, end: 0 } : answers;
            });
          },
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
