/**
 * The zod schemas of what the API sends back, derived from the stored-record schemas in
 * shared/schemas/resources.ts by leaving out the fields the routes strip (tenant, storage keys): the public
 * dataset, model and job views, list envelopes, deletion receipts, stored events, the error shape and the
 * prediction result. The OpenAPI document is generated from these and from the request schemas the routes
 * validate with, so there is no second copy of any field.
 */
import { z } from "zod";
import { datasetFormat, datasetRecord, jobRecord, modelRecord } from "../../shared/schemas/resources.ts";

export const publicDatasetSchema = datasetRecord.omit({ tenant: true, blob_key: true });
export const publicModelSchema = modelRecord.omit({ tenant: true, blob_prefix: true });
export const publicJobSchema = jobRecord.omit({ tenant: true }).extend({
  /** Seconds until a running job is expected to finish (from its progress and step throughput). */
  eta_seconds: z.number().nonnegative().nullable().optional(),
});

export const listOf = <T extends z.ZodType>(item: T, paged = false) =>
  z.object({
    object: z.literal("list"),
    data: z.array(item),
    ...(paged ? { has_more: z.boolean() } : {}),
  });

export const deletedSchema = z.object({ id: z.string(), object: z.string(), deleted: z.literal(true) });

/** `{error:{code,message,details}}`: the shape of every 4xx and 5xx answer. */
export const apiErrorSchema = z.object({
  error: z.object({
    code: z.enum([
      "unauthorized",
      "not_found",
      "invalid_request",
      "invalid_file",
      "payload_too_large",
      "conflict",
      "unsupported_media_type",
      "invalid_state",
      "rate_limited",
      "internal_error",
    ]),
    message: z.string(),
    details: z.unknown(),
  }),
});

export const storedEventSchema = z.object({
  seq: z.number().int().positive(),
  time: z.string(),
  type: z.enum(["status", "log", "step", "eval"]).or(z.string()),
  data: z.record(z.string(), z.unknown()),
});

export const labelScoreSchema = z.object({ label: z.string(), score: z.number() });
const perInput = <T extends z.ZodType>(one: T) => z.union([one, z.array(one)]);
/** text-classification: labels by score. */
const labelsSchema = z.array(labelScoreSchema);
/** text-regression: the predicted value. */
const regressionSchema = z.object({ score: z.number() });
/** token-classification: entities (grouped: entity_group; aggregation none: entity + index). */
const entitySchema = z.object({
  entity_group: z.string().optional(),
  entity: z.string().optional(),
  index: z.number().int().optional(),
  score: z.number(),
  word: z.string(),
  start: z.number().int(),
  end: z.number().int(),
});
/** question-answering: answer span with character offsets into the context. */
const answerSchema = z.object({
  answer: z.string(),
  score: z.number(),
  start: z.number().int(),
  end: z.number().int(),
});
/** causal-lm (text generation) and translation. */
const generatedSchema = z.array(z.object({ generated_text: z.string() }));
const translatedSchema = z.array(z.object({ translation_text: z.string() }));
export const predictResponseSchema = z.union([
  perInput(labelsSchema),
  perInput(regressionSchema),
  perInput(z.array(entitySchema)),
  perInput(answerSchema),
  perInput(z.array(answerSchema)),
  perInput(generatedSchema),
  translatedSchema,
]).describe("the shape of the model's task (see README: Predict output per task)");

export const healthSchema = z.object({ status: z.enum(["ok", "ready", "not_ready"]) });

/** Multipart dataset upload (documentation of the form fields; the route reads them as a stream). */
export const datasetUploadForm = z.object({
  format: datasetFormat.optional(),
  name: z.string().min(1).max(256).optional(),
  file: z.string().describe("the data file (binary)"),
}).describe("send `format` and `name` before `file`");

/** Multipart Hugging Face folder import: one part per file, named by its file name. */
export const modelUploadForm = z.object({
  "config.json": z.string(),
  "model.safetensors": z.string().optional(),
  "tokenizer.json": z.string().optional(),
  "vocab.txt": z.string().optional(),
  "tokenizer_config.json": z.string().optional(),
  "special_tokens_map.json": z.string().optional(),
  name: z.string().optional(),
  spec: z.string().optional().describe("a random-init spec (JSON) sent with a tokenizer file"),
});
