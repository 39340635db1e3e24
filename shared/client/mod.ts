/**
 * A typed TypeScript client for the edgetune HTTP API, built on fetch and the shared zod schemas' types. The
 * end-to-end tests, the demo and the CLI talk to edgetune through it, so it is exercised on every test run.
 * Errors come back as `EdgetuneError` carrying the HTTP status and the API's `{code, message, details}`.
 */
import type { z } from "zod";
import type {
  CreateJobRequest,
  createJobRequest,
  DatasetFormat,
  DatasetRecord,
  JobRecord,
  ModelRecord,
} from "../schemas/resources.ts";
import type { JobEstimate } from "./estimate.ts";

export type { JobEstimate } from "./estimate.ts";

/** A job spec as a client writes it (every field with a default may be left out). */
export type JobSpec = z.input<typeof createJobRequest>;
/** A job as the API shows it: the record without its tenant, plus the ETA of a running job. */
export type JobView = Omit<JobRecord, "tenant"> & { eta_seconds?: number | null };
export type DatasetView = Omit<DatasetRecord, "tenant" | "blob_key">;
export type ModelView = Omit<ModelRecord, "tenant" | "blob_prefix">;

export interface ListPage<T> {
  object: "list";
  data: T[];
  has_more?: boolean;
}

export interface LabelScore {
  label: string;
  score: number;
}

export interface JobEvent {
  seq: number;
  type: string;
  time: string;
  data: Record<string, unknown>;
}

export class EdgetuneError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: unknown) {
    super(`${status} ${code}: ${message}`);
    this.name = "EdgetuneError";
  }
}

export class EdgetuneClient {
  constructor(readonly baseUrl: string, private readonly apiKey: string) {}

  async uploadDataset(
    file: Uint8Array | Blob,
    options: { fileName: string; name?: string; format?: DatasetFormat },
  ): Promise<DatasetRecord> {
    const form = new FormData();
    // The edge reads fields in order: name and format must come before the file.
    if (options.name) form.append("name", options.name);
    if (options.format) form.append("format", options.format);
    form.append("file", file instanceof Blob ? file : new Blob([file as BlobPart]), options.fileName);
    return await this.request("POST", "/v1/datasets", form);
  }

  getDataset(id: string): Promise<DatasetRecord> {
    return this.request("GET", `/v1/datasets/${id}`);
  }

  /** Create a randomly initialised base model from an architecture spec (see README: Base models). */
  createModel(spec: Record<string, unknown>): Promise<ModelRecord> {
    return this.request("POST", "/v1/models", spec);
  }

  /** Import a Hugging Face folder: file name → bytes. */
  importModel(files: Record<string, Uint8Array>, name?: string): Promise<ModelRecord> {
    const form = new FormData();
    for (const [fileName, bytes] of Object.entries(files)) {
      form.append(fileName, new Blob([bytes as BlobPart]), fileName);
    }
    if (name) form.append("name", name);
    return this.request("POST", "/v1/models", form);
  }

  getModel(id: string): Promise<ModelRecord> {
    return this.request("GET", `/v1/models/${id}`);
  }

  createJob(
    body: Partial<CreateJobRequest> & Record<string, unknown>,
    idempotencyKey?: string,
  ): Promise<JobRecord> {
    return this.request(
      "POST",
      "/v1/jobs",
      body,
      idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {},
    );
  }

  getJob(id: string): Promise<JobRecord> {
    return this.request("GET", `/v1/jobs/${id}`);
  }

  cancelJob(id: string): Promise<JobRecord> {
    return this.request("POST", `/v1/jobs/${id}/cancel`);
  }

  predict(modelId: string, inputs: string | string[], topK?: number): Promise<LabelScore[] | LabelScore[][]> {
    return this.request("POST", `/v1/models/${modelId}/predict`, { inputs, top_k: topK });
  }

  /**
   * A prediction with the model task's full request body (`{inputs, parameters, ...}`: text pairs, QA
   * `{question, context}`, generation parameters); answers the task's pipeline shape.
   */
  infer<T = unknown>(modelId: string, body: Record<string, unknown>): Promise<T> {
    return this.request("POST", `/v1/models/${modelId}/predict`, body);
  }

  /**
   * Streams a generation (`stream: true` added to `body`): yields every server-sent event's JSON data, the
   * per-token events first, then the final one (`event: done`, with generated_text and details).
   */
  async *streamGeneration(
    modelId: string,
    body: Record<string, unknown>,
  ): AsyncGenerator<{ event: string; data: Record<string, unknown> }> {
    const response = await fetch(`${this.baseUrl}/v1/models/${modelId}/predict`, {
      method: "POST",
      headers: { Authorization: `Bearer ${this.apiKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({ ...body, stream: true }),
    });
    if (!response.ok || !response.body) throw await toError(response);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (data) yield { event, data: JSON.parse(data) };
      }
    }
  }

  /**
   * Follow a job's Server-Sent Events until the stream ends (the job reached a final status) or `signal`
   * aborts; calls `onEvent` for each. Resumes from `afterSeq` (sent as Last-Event-ID).
   */
  async followEvents(
    jobId: string,
    onEvent: (event: JobEvent) => void,
    options: { afterSeq?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.apiKey}`,
      Accept: "text/event-stream",
    };
    if (options.afterSeq) headers["Last-Event-ID"] = String(options.afterSeq);
    const response = await fetch(`${this.baseUrl}/v1/jobs/${jobId}/events`, {
      headers,
      signal: options.signal,
    });
    if (!response.ok || !response.body) throw await toError(response);
    let buffer = "";
    const decoder = new TextDecoder();
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk, { stream: true });
      let boundary;
      while ((boundary = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const event = parseSseBlock(block);
        if (event) onEvent(event);
      }
    }
  }

  listDatasets(): Promise<ListPage<DatasetView>> {
    return this.request("GET", "/v1/datasets");
  }

  deleteDataset(id: string): Promise<{ id: string; deleted: true }> {
    return this.request("DELETE", `/v1/datasets/${id}`);
  }

  listModels(): Promise<ListPage<ModelView>> {
    return this.request("GET", "/v1/models");
  }

  deleteModel(id: string): Promise<{ id: string; deleted: true }> {
    return this.request("DELETE", `/v1/models/${id}`);
  }

  /** Create a job from a spec written with defaults left out. */
  startJob(spec: JobSpec, idempotencyKey?: string): Promise<JobView> {
    return this.request(
      "POST",
      "/v1/jobs",
      spec,
      idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {},
    );
  }

  /** The plan of a job (steps, tokens, parameters, memory, estimated time) without creating it. */
  estimateJob(spec: JobSpec): Promise<JobEstimate> {
    return this.request("POST", "/v1/jobs", { ...spec, dry_run: true });
  }

  /** A page of jobs, newest first. */
  listJobs(options: { limit?: number; after?: string } = {}): Promise<ListPage<JobView>> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    if (options.after !== undefined) query.set("after", options.after);
    return this.request("GET", `/v1/jobs${query.size ? `?${query}` : ""}`);
  }

  /** A job with `eta_seconds` while it runs. */
  getJobView(id: string): Promise<JobView> {
    return this.request("GET", `/v1/jobs/${id}`);
  }

  /** The job's stored events so far (no following). */
  async jobEvents(jobId: string, afterSeq = 0): Promise<JobEvent[]> {
    const page = await this.request<ListPage<JobEvent>>(
      "GET",
      `/v1/jobs/${jobId}/events?format=json&after=${afterSeq}`,
    );
    return page.data;
  }

  /** The API's OpenAPI 3.1 document. */
  openApi(): Promise<Record<string, unknown>> {
    return this.request("GET", "/openapi.json");
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.apiKey}`, ...extraHeaders };
    let payload: BodyInit | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body: payload });
    if (!response.ok) throw await toError(response);
    return await response.json() as T;
  }
}

function parseSseBlock(block: string): JobEvent | null {
  let id = 0, type = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") id = Number(value);
    else if (field === "event") type = value;
    else if (field === "data") data += (data ? "\n" : "") + value;
  }
  if (!data) return null;
  const parsed = JSON.parse(data);
  return { seq: id, type, time: parsed.time ?? "", data: parsed.data ?? parsed };
}

async function toError(response: Response): Promise<EdgetuneError> {
  const text = await response.text();
  try {
    const { error } = JSON.parse(text);
    return new EdgetuneError(response.status, error.code, error.message, error.details);
  } catch {
    return new EdgetuneError(response.status, "unknown", text.slice(0, 500));
  }
}
