/**
 * Small request helpers the routes share: reading a JSON body with a size cap and zod validation (400 naming
 * the fields), reading a bounded text body, tenant-scoped record lookup that answers 404 for another tenant's
 * or a malformed id, the record key convention `<tenant>.<id>`, and the "still used by a job" check.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { ApiError, notFound } from "../shared/schemas/errors.ts";
import { idPattern, type JobRecord } from "../shared/schemas/resources.ts";
import type { Collection, MetaStore, Versioned } from "../shared/platform/types.ts";
import { validationError } from "./middleware/errors/index.ts";

export const MAX_JSON_BYTES = 1024 * 1024;

export const recordKey = (tenant: string, id: string): string => `${tenant}.${id}`;

/** Reads a whole stream as UTF-8 text, failing with 413 past `maxBytes`. */
export async function readTextLimited(
  stream: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  what = "request body",
): Promise<string> {
  if (stream === null) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > maxBytes) {
      throw new ApiError(413, "payload_too_large", `${what} is larger than ${maxBytes} bytes`, {
        limit: maxBytes,
      });
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError(400, "invalid_request", `${what} is not valid UTF-8`);
  }
}

/** Parses JSON text and validates it with `schema` (400 `invalid_request` with field issues). */
export function parseJsonText<S extends z.ZodType>(
  text: string,
  schema: S,
  what = "request body",
): z.infer<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, "invalid_request", `${what} is not valid JSON: ${(error as Error).message}`);
  }
  return validateValue(value, schema, what);
}

/** Validates an already parsed value with `schema` (400 `invalid_request` with field issues). */
export function validateValue<S extends z.ZodType>(
  value: unknown,
  schema: S,
  what = "request body",
): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error, what);
  return parsed.data;
}

export function isJsonContentType(contentType: string | undefined): boolean {
  return /^application\/(.+\+)?json\s*(;|$)/i.test(contentType ?? "");
}

/** The JSON body of `c`, validated by `schema`; 415 unless the content type is JSON. */
export async function readJsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
  maxBytes = MAX_JSON_BYTES,
): Promise<z.infer<S>> {
  if (!isJsonContentType(c.req.header("content-type"))) {
    throw new ApiError(415, "unsupported_media_type", "send the body as application/json");
  }
  return parseJsonText(await readTextLimited(c.req.raw.body, maxBytes), schema);
}

/** 409 if a queued or running job of the tenant still needs the resource (`uses` picks the reference). */
export async function assertNotInUse(
  meta: MetaStore,
  tenant: string,
  what: string,
  id: string,
  uses: (job: JobRecord) => boolean,
): Promise<void> {
  const jobs = await meta.list<JobRecord>("jobs", `${tenant}.`);
  const busy = jobs.map((r) => r.value).filter((job) =>
    (job.status === "queued" || job.status === "running") && uses(job)
  );
  if (busy.length > 0) {
    throw new ApiError(
      409,
      "conflict",
      `${what} '${id}' is used by job '${busy[0].id}' (${busy[0].status})`,
      {
        jobs: busy.map((job) => job.id),
      },
    );
  }
}

/** The tenant's record `id` in `collection`, or 404 (also for ids that cannot exist). */
export async function getOwned<T>(
  meta: MetaStore,
  collection: Collection,
  tenant: string,
  id: string,
  what: string,
): Promise<Versioned<T>> {
  const record = idPattern.test(id) ? await meta.get<T>(collection, recordKey(tenant, id)) : null;
  if (record === null) throw notFound(what, id);
  return record;
}
