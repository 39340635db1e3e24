/**
 * Test support for running one TaskRunner without services: an in-memory platform that answers only what
 * task runners read (meta.get of model and dataset records, blobs.get of their files) holding one base model
 * (`base`, an HF folder) and JSONL datasets, and a TaskContext for a job on it that records its log lines.
 */
import type { Platform } from "../../shared/platform/types.ts";
import { hyperparametersSchema } from "../../shared/schemas/hyperparameters.ts";
import type { DatasetRecord, JobRecord, ModelRecord } from "../../shared/schemas/resources.ts";
import type { TaskContext } from "../../runner/tasks/types.ts";

/** A platform (tenant `t`) with the base model's folder files and JSONL datasets (id → file text). */
export function memoryPlatform(
  baseModelFiles: Record<string, Uint8Array>,
  datasets: Record<string, string>,
  columns: string[],
): Platform {
  const records = new Map<string, unknown>();
  const blobs = new Map<string, Uint8Array>();
  for (const [name, bytes] of Object.entries(baseModelFiles)) blobs.set(`models/base/${name}`, bytes);
  records.set("models/t.base", {
    id: "base",
    name: "tiny-bert",
    architecture: "bert",
    files: Object.entries(baseModelFiles).map(([name, bytes]) => ({ name, size: bytes.length })),
    blob_prefix: "models/base/",
  } as Partial<ModelRecord>);
  for (const [id, text] of Object.entries(datasets)) {
    blobs.set(`datasets/${id}`, new TextEncoder().encode(text));
    records.set(`datasets/t.${id}`, {
      id,
      format: "jsonl",
      columns,
      blob_key: `datasets/${id}`,
    } as Partial<DatasetRecord>);
  }
  const meta = {
    get: (collection: string, key: string) => {
      const value = records.get(`${collection}/${key}`);
      return Promise.resolve(value ? { value, revision: "1" } : null);
    },
  };
  const blobStore = {
    get: (key: string) => {
      const bytes = blobs.get(key);
      return Promise.resolve(bytes ? new Blob([bytes.slice()]).stream() : null);
    },
  };
  return { meta, blobs: blobStore } as unknown as Platform;
}

/** A TaskContext for a job of `task` on `dataset` (25% held out) that never stops and keeps its logs. */
export function taskContext(
  platform: Platform,
  task: JobRecord["task"],
  dataset: string,
  hyperparameters: Record<string, unknown>,
  taskOptions: Record<string, unknown> = {},
): TaskContext & { logs: string[] } {
  const logs: string[] = [];
  const job = {
    id: "job_1",
    tenant: "t",
    task,
    base_model: "base",
    training_dataset: dataset,
    validation_dataset: null,
    training_target_dataset: null,
    validation_target_dataset: null,
    validation_split: 0.25,
    columns: { text: "text", label: "label" },
    hyperparameters: hyperparametersSchema.parse(hyperparameters),
    task_options: taskOptions,
  } as unknown as JobRecord;
  return {
    job,
    platform,
    logs,
    shouldStop: () => false,
    resume: {},
    onTrainEvent: () => Promise.resolve(),
    log: (message) => {
      logs.push(message);
      return Promise.resolve();
    },
  };
}

export const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
