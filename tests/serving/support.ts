/**
 * Test support for serving: an in-memory edge app on a fresh embedded platform with two tenants and chosen
 * serving settings (optionally with the blob store wrapped, e.g. to hold model loads back), tiny random-init
 * classification models created over HTTP (POST /v1/models with `labels`), and a Prometheus text parser.
 */
import { createApp } from "../../edge/app.ts";
import type { ServeSettings } from "../../edge/serving/settings.ts";
import { createEmbeddedPlatform } from "../../shared/platform/mod.ts";
import type { BlobStore, Platform } from "../../shared/platform/types.ts";

export const KEY_A = "serving-key-a-000000";
export const KEY_B = "serving-key-b-111111";

export interface ServingHarness {
  platform: Platform;
  app: ReturnType<typeof createApp>;
  call(
    method: string,
    path: string,
    init?: { key?: string | null; json?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  close(): Promise<void>;
}

export async function servingHarness(
  serving: Partial<ServeSettings> = {},
  wrapBlobs: (blobs: BlobStore) => BlobStore = (b) => b,
): Promise<ServingHarness> {
  const dir = await Deno.makeTempDir({ prefix: "edgetune-serving-" });
  const platform = await createEmbeddedPlatform(dir);
  const served: Platform = { ...platform, blobs: wrapBlobs(platform.blobs) };
  const app = createApp({ platform: served, apiKeys: new Map([[KEY_A, "tenant-a"], [KEY_B, "tenant-b"]]) }, {
    serving: { metricsToken: null, ...serving },
  });
  return {
    platform: served,
    app,
    call(method, path, init = {}) {
      const headers = new Headers(init.headers);
      const key = init.key === undefined ? KEY_A : init.key;
      if (key !== null) headers.set("authorization", `Bearer ${key}`);
      let body: string | undefined;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        headers.set("content-type", "application/json");
      }
      return Promise.resolve(app.request(path, { method, headers, body }));
    },
    async close() {
      await platform.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

export const TEXTS = [
  "a good film",
  "a bad film",
  "good acting and a good plot",
  "bad plot , bad acting and a long , long film",
  "fine",
];

async function json(res: Response, expected: number) {
  const body = await res.json();
  if (res.status !== expected) {
    throw new Error(`expected ${expected}, got ${res.status}: ${JSON.stringify(body)}`);
  }
  return body;
}

/** Uploads a small dataset (for tokenizers) and returns its id. */
export async function tinyDataset(h: ServingHarness, key = KEY_A): Promise<string> {
  const csv = "text,label\n" + TEXTS.map((t, i) => `"${t}",${i % 2}`).join("\n") + "\n";
  const form = new FormData();
  form.append("file", new Blob([csv]), "tiny.csv");
  const res = await h.app.request("/v1/datasets", {
    method: "POST",
    headers: { authorization: `Bearer ${key}` },
    body: form,
  });
  return (await json(res, 201)).id;
}

/** A tiny random-init classifier (distinct weights per seed); returns the model record. */
export async function tinyModel(
  h: ServingHarness,
  dataset: string,
  seed: number,
  key = KEY_A,
): Promise<{ id: string; parameters: number }> {
  const res = await h.call("POST", "/v1/models", {
    key,
    json: {
      name: `tiny-${seed}`,
      config: {
        hidden_size: 16,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 32,
        max_position_embeddings: 64,
      },
      tokenizer: { dataset, vocab_size: 60 },
      labels: ["neg", "pos", "mixed"],
      seed,
    },
  });
  return await json(res, 201);
}

export async function expectJson(res: Response, expected: number) {
  return await json(res, expected);
}

/** Prometheus text → `name{labels}` → value (labels in the order written). */
export function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    samples.set(match[1], Number(match[2]));
  }
  return samples;
}

/** Sum of every sample of `name` whose labels include all of `labels`. */
export function metricSum(samples: Map<string, number>, name: string, labels: Record<string, string> = {}) {
  let total = 0;
  for (const [key, value] of samples) {
    const m = /^([^{]+)(?:\{(.*)\})?$/.exec(key)!;
    if (m[1] !== name) continue;
    const have = new Map([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) total += value;
  }
  return total;
}
