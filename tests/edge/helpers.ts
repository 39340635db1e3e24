/**
 * Test harness for the edge: a real embedded platform in a fresh temp dir, the app built on it with two
 * tenants (`key-a` → tenant-a, `key-b` → tenant-b), and small helpers to call it in memory, upload files and
 * look at what the platform holds (to prove failed requests leave nothing behind).
 */
import { createApp } from "../../edge/app.ts";
import type { EdgeLimits } from "../../edge/deps.ts";
import { createEmbeddedPlatform } from "../../shared/platform/mod.ts";
import type { Platform } from "../../shared/platform/types.ts";
import type { ModelRecord } from "../../shared/schemas/resources.ts";

export const KEY_A = "key-a";
export const KEY_B = "key-b";

export interface Harness {
  platform: Platform;
  app: ReturnType<typeof createApp>;
  call(method: string, path: string, init?: CallInit): Promise<Response>;
  /** Blob keys under a prefix. */
  blobKeys(prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

export interface CallInit {
  key?: string | null;
  json?: unknown;
  form?: FormData;
  body?: BodyInit;
  headers?: Record<string, string>;
}

export async function harness(
  limits: Partial<EdgeLimits> = {},
  readiness?: () => Promise<boolean>,
): Promise<Harness> {
  const dir = await Deno.makeTempDir({ prefix: "edgetune-edge-" });
  const platform = await createEmbeddedPlatform(dir);
  const app = createApp({
    platform,
    apiKeys: new Map([[KEY_A, "tenant-a"], [KEY_B, "tenant-b"]]),
    limits,
    readiness,
  }, { heartbeatMs: 50 });
  return {
    platform,
    app,
    call(method, path, init = {}) {
      const headers = new Headers(init.headers);
      const key = init.key === undefined ? KEY_A : init.key;
      if (key !== null) headers.set("authorization", `Bearer ${key}`);
      let body: BodyInit | undefined = init.body;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        headers.set("content-type", "application/json");
      }
      if (init.form) body = init.form;
      return Promise.resolve(app.request(path, { method, headers, body }));
    },
    async blobKeys(prefix) {
      const keys: string[] = [];
      for await (const info of platform.blobs.list(prefix)) keys.push(info.key);
      return keys;
    },
    async close() {
      await platform.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A multipart form with one file part (and optional extra fields, sent before the file). */
export function fileForm(
  content: string | Uint8Array,
  filename: string,
  fields: Record<string, string> = {},
): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", new Blob([content as BlobPart]), filename);
  return form;
}

export async function uploadDataset(
  h: Harness,
  content: string | Uint8Array,
  filename: string,
  key = KEY_A,
): Promise<Record<string, unknown>> {
  const res = await h.call("POST", "/v1/datasets", { key, form: fileForm(content, filename) });
  const body = await res.json();
  if (res.status !== 201) throw new Error(`upload failed: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** Puts a model record straight into the metadata store (for job tests that need no weights). */
export async function insertModel(h: Harness, tenant: string, id: string): Promise<void> {
  const record: ModelRecord = {
    id,
    object: "model",
    tenant,
    name: id,
    source: "random",
    architecture: "bert",
    task: null,
    labels: null,
    task_options: {},
    parameters: 0,
    config: {},
    files: [],
    blob_prefix: `models/${tenant}/${id}/`,
    job_id: null,
    created_at: new Date().toISOString(),
  };
  await h.platform.meta.create("models", `${tenant}.${id}`, record);
}

export async function errorOf(
  res: Response,
): Promise<{ status: number; code: string; message: string; details: unknown }> {
  const body = await res.json();
  return { status: res.status, ...body.error };
}
