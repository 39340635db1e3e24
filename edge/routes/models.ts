/**
 * /v1/models: create (multipart HF folder import of a BERT, RoBERTa, ELECTRA or DistilBERT folder; JSON spec
 * for a randomly initialised BERT; or multipart `spec` + tokenizer file), list, get, delete, and export (the
 * stored HF folder as an uncompressed tar, streamed). Uploaded files land under `models/<tenant>/<id>/` and
 * the record is written only after the folder validated; any failure removes what was written.
 */
import { Hono } from "hono";
import { newId } from "../../shared/platform/ids.ts";
import type { Platform } from "../../shared/platform/types.ts";
import { ApiError, ConflictError, invalidRequest } from "../../shared/schemas/errors.ts";
import type { ModelRecord } from "../../shared/schemas/resources.ts";
import type { EdgeEnv, EdgeLimits } from "../deps.ts";
import {
  assertNotInUse,
  getOwned,
  isJsonContentType,
  MAX_JSON_BYTES,
  readTextLimited,
  recordKey,
} from "../http.ts";
import { type ValidatedFolder, validateFolder } from "../models/import_folder.ts";
import { validateGenerativeFolder } from "../models/import_generative.ts";
import { type GenerativeModelType, generativeModelType } from "../../shared/core/model/generative_load.ts";
import { type TarEntry, tarStream } from "../models/tar.ts";
import { buildRandomModel, parseRandomModelSpec } from "../models/random_init.ts";
import { deleteFolder, modelBlobPrefix, publicModel, putFolder } from "../models/records.ts";
import { collectModelUpload, fileJson, type ModelUpload } from "../models/upload.ts";

/** A validated generative folder in the shape of an encoder one (no labels, no generated files). */
function generativeFolder(upload: ModelUpload, type: GenerativeModelType): ValidatedFolder {
  const rawConfig = fileJson(upload, "config.json")!;
  const { task, parameters } = validateGenerativeFolder(upload, type, rawConfig);
  return {
    config: rawConfig as unknown as ValidatedFolder["config"],
    rawConfig,
    task,
    labels: null,
    // transformers keeps a T5-style source prefix in config.json; serving puts it before every source.
    taskOptions: typeof rawConfig.prefix === "string" && task === "translation"
      ? { source_prefix: rawConfig.prefix }
      : {},
    parameters,
    extraFiles: {},
  };
}
import { multipartBoundary, MultipartReader } from "../multipart.ts";
import type { ModelCache } from "../serving/model_cache.ts";

export function modelRoutes(platform: Platform, limits: EdgeLimits, cache: ModelCache): Hono<EdgeEnv> {
  const app = new Hono<EdgeEnv>();
  const { blobs, meta } = platform;

  async function createRandom(tenant: string, id: string, specText: string, upload: ModelUpload | null) {
    const spec = parseRandomModelSpec(specText, upload ? "field 'spec'" : "request body");
    if (upload?.weights) throw invalidRequest("model.safetensors cannot be sent with a random-init spec");
    const built = await buildRandomModel(platform, tenant, spec, upload);
    const prefix = modelBlobPrefix(tenant, id);
    const files = await putFolder(blobs, prefix, built.files);
    const record: ModelRecord = {
      id,
      object: "model",
      tenant,
      name: spec.name,
      source: "random",
      architecture: built.architecture,
      task: built.task,
      labels: built.labels,
      task_options: {},
      parameters: built.parameters,
      config: { ...built.config },
      files,
      blob_prefix: prefix,
      job_id: null,
      created_at: new Date().toISOString(),
    };
    return record;
  }

  async function createImported(tenant: string, id: string, upload: ModelUpload) {
    const rawConfig = fileJson(upload, "config.json");
    const generativeType = rawConfig === null ? null : generativeModelType(rawConfig);
    const folder = generativeType === null
      ? validateFolder(upload)
      : generativeFolder(upload, generativeType);
    const prefix = modelBlobPrefix(tenant, id);
    const uploaded: Record<string, Uint8Array> = Object.fromEntries(upload.files);
    const files = await putFolder(blobs, prefix, { ...uploaded, ...folder.extraFiles });
    files.push({ name: "model.safetensors", size: upload.weights!.size });
    files.sort((a, b) => a.name.localeCompare(b.name));
    const name = upload.fields.get("name")?.trim();
    if (name !== undefined && (name.length === 0 || name.length > 256)) {
      throw invalidRequest("field 'name' must be 1-256 characters");
    }
    const record: ModelRecord = {
      id,
      object: "model",
      tenant,
      name: name ??
        (typeof folder.rawConfig._name_or_path === "string" ? folder.rawConfig._name_or_path : id),
      source: "import",
      architecture: folder.config.model_type,
      task: folder.task,
      labels: folder.labels,
      task_options: folder.taskOptions ?? {},
      parameters: folder.parameters,
      config: { ...folder.config, ...(folder.labels ? { id2label: folder.rawConfig.id2label } : {}) },
      files,
      blob_prefix: prefix,
      job_id: null,
      created_at: new Date().toISOString(),
    };
    if (record.name.trim() === "") record.name = id;
    return record;
  }

  app.post("/", async (c) => {
    const tenant = c.get("tenant");
    const id = newId("mdl");
    const prefix = modelBlobPrefix(tenant, id);
    const contentType = c.req.header("content-type");
    let wroteBlobs = false;
    try {
      let record: ModelRecord;
      if (isJsonContentType(contentType)) {
        wroteBlobs = true;
        record = await createRandom(tenant, id, await readTextLimited(c.req.raw.body, MAX_JSON_BYTES), null);
      } else {
        const boundary = multipartBoundary(contentType);
        const form = new MultipartReader(c.req.raw.body, boundary, { maxBytes: limits.maxModelUploadBytes });
        const upload = await collectModelUpload(form, blobs, prefix, () => (wroteBlobs = true));
        wroteBlobs = true;
        const spec = upload.fields.get("spec");
        record = spec !== undefined
          ? await createRandom(tenant, id, spec, upload)
          : await createImported(tenant, id, upload);
      }
      await meta.create("models", recordKey(tenant, id), record);
      return c.json(publicModel(record), 201);
    } catch (error) {
      if (wroteBlobs) await deleteFolder(blobs, prefix).catch(() => {});
      throw error;
    }
  });

  app.get("/", async (c) => {
    const records = await meta.list<ModelRecord>("models", `${c.get("tenant")}.`);
    const data = records.map((r) => publicModel(r.value)).sort((a, b) =>
      b.created_at.localeCompare(a.created_at)
    );
    return c.json({ object: "list", data });
  });

  app.get("/:id", async (c) => {
    const record = await getOwned<ModelRecord>(meta, "models", c.get("tenant"), c.req.param("id"), "model");
    return c.json(publicModel(record.value));
  });

  app.get("/:id/export", async (c) => {
    const record = await getOwned<ModelRecord>(meta, "models", c.get("tenant"), c.req.param("id"), "model");
    const { blob_prefix: prefix, id } = record.value;
    const folder = exportFolderName(record.value.name, id);
    const entries: TarEntry[] = [];
    for await (const info of blobs.list(prefix)) {
      const file = info.key.slice(prefix.length);
      if (file === "" || file.includes("/")) continue;
      entries.push({
        name: `${folder}/${file}`,
        size: info.size,
        mtime: Date.parse(info.modified) / 1000 || undefined,
        body: async () => {
          const body = await blobs.get(info.key);
          if (body === null) throw new Error(`blob ${info.key} disappeared during export`);
          return body;
        },
      });
    }
    if (!entries.some((e) => e.name.endsWith("/config.json"))) {
      throw new ApiError(409, "conflict", `model '${id}' has no stored files to export`);
    }
    return new Response(tarStream(entries), {
      headers: {
        "content-type": "application/x-tar",
        "content-disposition": `attachment; filename="${folder}.tar"`,
      },
    });
  });

  app.delete("/:id", async (c) => {
    const tenant = c.get("tenant");
    const record = await getOwned<ModelRecord>(meta, "models", tenant, c.req.param("id"), "model");
    await assertNotInUse(meta, tenant, "model", record.value.id, (job) => job.base_model === record.value.id);
    try {
      await meta.delete("models", recordKey(tenant, record.value.id), record.revision);
    } catch (error) {
      if (error instanceof ConflictError) {
        throw new ApiError(409, "conflict", `model '${record.value.id}' changed while deleting; retry`);
      }
      throw error;
    }
    cache.evict(tenant, record.value.id);
    await deleteFolder(blobs, record.value.blob_prefix);
    return c.json({ id: record.value.id, object: "model", deleted: true });
  });

  return app;
}

/** A safe folder/file name for an export: the model's name with anything but [A-Za-z0-9._-] replaced. */
export function exportFolderName(name: string, id: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "").slice(0, 80);
  return safe === "" ? id : safe;
}
