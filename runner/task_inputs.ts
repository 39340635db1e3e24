/**
 * The task-agnostic half of loading a job: the training and held-out rows (every column, each with its line
 * number, so a task can name the line of a bad row) and the base model's files. The held-out rows are the
 * validation dataset when the job names one, else the seeded `holdOut` split of the training rows. For
 * translation from two aligned text datasets the rows are zipped into {source, target} by line. Tasks turn
 * rows into examples with the column names of shared/data/task_columns.ts.
 */
import type { Platform } from "../shared/platform/types.ts";
import type { DatasetFormat, DatasetRecord, JobRecord, ModelRecord } from "../shared/schemas/resources.ts";
import { ApiError } from "../shared/schemas/errors.ts";
import { readTable, type TableRow } from "../shared/data/mod.ts";
import { type TaskColumns, taskColumns } from "../shared/data/task_columns.ts";
import { getRecord, holdOut, readBlob } from "./job_inputs.ts";

export interface TaskInputs {
  /** Column names by role for this job (defaults applied; aligned translation: `source`/`target`). */
  columns: TaskColumns;
  train: TableRow[];
  validation: TableRow[] | null;
  /** The training dataset's upload format (plain `text` files are one document, not one row per text). */
  trainingFormat: DatasetFormat;
  baseModel: ModelRecord;
  baseModelFiles: Map<string, Uint8Array>;
}

async function readRows(platform: Platform, dataset: DatasetRecord, needed: string[]): Promise<TableRow[]> {
  const missing = needed.filter((column) => !dataset.columns.includes(column));
  if (missing.length > 0) {
    throw new ApiError(
      400,
      "invalid_request",
      `dataset '${dataset.id}' has no column ${missing.map((c) => `'${c}'`).join(" or ")}`,
      { dataset: dataset.id, missing, columns: dataset.columns },
    );
  }
  const stream = await platform.blobs.get(dataset.blob_key);
  if (!stream) throw new ApiError(404, "not_found", `dataset '${dataset.id}' has no stored file`);
  const rows: TableRow[] = [];
  for await (const row of readTable(stream, dataset.format)) rows.push(row);
  if (rows.length === 0) throw new ApiError(400, "invalid_file", `dataset '${dataset.id}' has no rows`);
  return rows;
}

/** Source lines and target lines of two text datasets as rows {source, target} (line numbers of the source). */
function zipAligned(sources: TableRow[], targets: TableRow[], ids: [string, string]): TableRow[] {
  if (sources.length !== targets.length) {
    throw new ApiError(
      400,
      "invalid_file",
      `aligned datasets differ in length: '${ids[0]}' has ${sources.length} rows, '${
        ids[1]
      }' ${targets.length}`,
      { source_rows: sources.length, target_rows: targets.length },
    );
  }
  return sources.map((s, i) => ({
    line: s.line,
    row: { source: s.row.text ?? "", target: targets[i].row.text ?? "" },
  }));
}

export async function loadTaskInputs(platform: Platform, job: JobRecord): Promise<TaskInputs> {
  const dataset = (id: string) => getRecord<DatasetRecord>(platform.meta, "datasets", job.tenant, id);
  const aligned = job.task === "translation" && job.training_target_dataset !== null;
  const columns = taskColumns(job.task, job.columns, aligned);
  const needed = Object.values(columns);
  const load = async (sourceId: string, targetId: string | null): Promise<TableRow[]> => {
    const rows = await readRows(platform, await dataset(sourceId), needed);
    if (!aligned) return rows;
    if (targetId === null) {
      throw new ApiError(400, "invalid_request", "aligned translation needs a target dataset for each side");
    }
    return zipAligned(rows, await readRows(platform, await dataset(targetId), needed), [sourceId, targetId]);
  };
  const trainingRows = await load(job.training_dataset, job.training_target_dataset);
  const validationRows = job.validation_dataset
    ? await load(job.validation_dataset, job.validation_target_dataset)
    : null;
  const { train, heldOut } = validationRows
    ? { train: trainingRows, heldOut: validationRows }
    : holdOut(trainingRows, job);

  const baseModel = await getRecord<ModelRecord>(platform.meta, "models", job.tenant, job.base_model);
  const baseModelFiles = new Map<string, Uint8Array>();
  for (const file of baseModel.files) {
    baseModelFiles.set(file.name, await readBlob(platform.blobs, baseModel.blob_prefix + file.name));
  }
  return {
    columns: aligned ? { source: "source", target: "target" } : columns,
    trainingFormat: (await dataset(job.training_dataset)).format,
    train,
    validation: heldOut && heldOut.length > 0 ? heldOut : null,
    baseModel,
    baseModelFiles,
  };
}
