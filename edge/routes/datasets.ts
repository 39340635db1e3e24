/**
 * /v1/datasets: upload (multipart `file`, optional `format` and `name`, sent before the file), list, get,
 * delete. An upload streams into the blob store under `datasets/<tenant>/<id>/data.<ext>`, is then read back
 * and validated in one streaming pass (shared/data), and only a valid file gets a record; on any failure the
 * blob is deleted, so nothing half-written is ever visible.
 */
import { Hono } from "hono";
import { z } from "zod";
import { detectFormat, inspectTable } from "../../shared/data/mod.ts";
import { newId } from "../../shared/platform/ids.ts";
import type { Platform } from "../../shared/platform/types.ts";
import { ApiError, ConflictError, invalidRequest } from "../../shared/schemas/errors.ts";
import { type DatasetFormat, datasetFormat, type DatasetRecord } from "../../shared/schemas/resources.ts";
import type { EdgeEnv, EdgeLimits } from "../deps.ts";
import { assertNotInUse, getOwned, recordKey } from "../http.ts";
import { validationError } from "../middleware/errors/index.ts";
import { multipartBoundary, type MultipartPart, MultipartReader, readFieldText } from "../multipart.ts";

interface StoredUpload {
  key: string;
  filename: string | null;
  format: DatasetFormat;
  bytes: number;
}

const nameSchema = z.string().trim().min(1).max(256);

/** The API view of a dataset record (storage details left out). */
export function publicDataset(record: DatasetRecord) {
  const { tenant: _tenant, blob_key: _blobKey, ...view } = record;
  return view;
}

/** Puts a stream back together after its first chunk was read (to sniff the format). */
async function peek(
  stream: ReadableStream<Uint8Array>,
): Promise<{ head: Uint8Array; stream: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  const first = await reader.read();
  const head = first.done ? new Uint8Array(0) : first.value;
  let sentHead = first.done;
  return {
    head,
    stream: new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!sentHead) {
          sentHead = true;
          if (head.length > 0) return controller.enqueue(head);
        }
        const next = await reader.read();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      cancel: (reason) => reader.cancel(reason),
    }),
  };
}

export function datasetRoutes(platform: Platform, limits: EdgeLimits): Hono<EdgeEnv> {
  const app = new Hono<EdgeEnv>();
  const { blobs, meta } = platform;

  app.post("/", async (c) => {
    const tenant = c.get("tenant");
    const boundary = multipartBoundary(c.req.header("content-type"));
    const declared = Number(c.req.header("content-length"));
    if (Number.isFinite(declared) && declared > limits.maxUploadBytes) {
      throw new ApiError(413, "payload_too_large", `upload is larger than ${limits.maxUploadBytes} bytes`, {
        limit: limits.maxUploadBytes,
      });
    }
    const id = newId("ds");
    const form = new MultipartReader(c.req.raw.body, boundary, { maxBytes: limits.maxUploadBytes });
    let format: DatasetFormat | null = null;
    let name: string | null = null;
    const state: { upload: StoredUpload | null } = { upload: null };

    const storeFile = async (part: MultipartPart) => {
      if (state.upload !== null) throw invalidRequest("send exactly one 'file' part");
      const { head, stream } = await peek(part.body);
      const fileFormat = detectFormat(format, part.filename, head);
      const key = `datasets/${tenant}/${id}/data.${fileFormat}`;
      const upload: StoredUpload = { key, filename: part.filename, format: fileFormat, bytes: 0 };
      state.upload = upload;
      try {
        upload.bytes = (await blobs.put(key, stream)).size;
      } catch (error) {
        throw form.failure ?? error;
      }
    };

    try {
      for await (const part of form.parts()) {
        if (part.name === "file") {
          await storeFile(part);
        } else if (part.name === "format") {
          const parsed = datasetFormat.safeParse((await readFieldText(part)).trim().toLowerCase());
          if (!parsed.success) throw validationError(parsed.error, "field 'format'");
          if (state.upload !== null && state.upload.format !== parsed.data) {
            throw invalidRequest("send the 'format' field before the 'file' part");
          }
          format = parsed.data;
        } else if (part.name === "name") {
          const parsed = nameSchema.safeParse(await readFieldText(part));
          if (!parsed.success) throw validationError(parsed.error, "field 'name'");
          name = parsed.data;
        }
        // Other fields are ignored (and skipped by the reader).
      }
      const stored = state.upload;
      if (stored === null) throw invalidRequest("multipart field 'file' is required");
      const body = await blobs.get(stored.key);
      if (body === null) throw new Error(`blob ${stored.key} vanished after upload`);
      const summary = await inspectTable(body, stored.format, { maxFieldChars: limits.maxFieldChars });
      const record: DatasetRecord = {
        id,
        object: "dataset",
        tenant,
        name: name ?? stored.filename ?? `data.${stored.format}`,
        format: stored.format,
        rows: summary.rows,
        columns: summary.columns,
        bytes: stored.bytes,
        stats: summary.stats as Record<string, unknown>,
        blob_key: stored.key,
        created_at: new Date().toISOString(),
      };
      await meta.create("datasets", recordKey(tenant, id), record);
      return c.json(publicDataset(record), 201);
    } catch (error) {
      if (state.upload) await blobs.delete(state.upload.key).catch(() => {});
      throw error;
    }
  });

  app.get("/", async (c) => {
    const records = await meta.list<DatasetRecord>("datasets", `${c.get("tenant")}.`);
    const data = records.map((r) => publicDataset(r.value)).sort((a, b) =>
      b.created_at.localeCompare(a.created_at)
    );
    return c.json({ object: "list", data });
  });

  app.get("/:id", async (c) => {
    const record = await getOwned<DatasetRecord>(
      meta,
      "datasets",
      c.get("tenant"),
      c.req.param("id"),
      "dataset",
    );
    return c.json(publicDataset(record.value));
  });

  app.delete("/:id", async (c) => {
    const tenant = c.get("tenant");
    const record = await getOwned<DatasetRecord>(meta, "datasets", tenant, c.req.param("id"), "dataset");
    const id = record.value.id;
    await assertNotInUse(
      meta,
      tenant,
      "dataset",
      id,
      (job) => job.training_dataset === id || job.validation_dataset === id,
    );
    try {
      await meta.delete("datasets", recordKey(tenant, id), record.revision);
    } catch (error) {
      if (error instanceof ConflictError) {
        throw new ApiError(409, "conflict", `dataset '${id}' changed while deleting; retry`);
      }
      throw error;
    }
    await blobs.delete(record.value.blob_key);
    return c.json({ id: record.value.id, object: "dataset", deleted: true });
  });

  return app;
}
