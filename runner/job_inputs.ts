/**
 * Loads what one fine-tuning job needs from the platform into memory: the training and validation rows
 * (text + label columns) from the blob store, the label set, the held-out split, and the base model's
 * Hugging Face folder files. Everything here is I/O and bookkeeping; the math happens in shared/core.
 * Problems a user can fix (a missing column, an empty label, a base model without weights) are ApiErrors,
 * so the job fails with a message that says what to change instead of being retried.
 */
import type { BlobStore, MetaStore } from "../shared/platform/types.ts";
import type { DatasetRecord, JobRecord, ModelRecord } from "../shared/schemas/resources.ts";
import { ApiError } from "../shared/schemas/errors.ts";
import { readTable } from "../shared/data/mod.ts";
import { shuffledIndices, TextTokenizer } from "../shared/core/mod.ts";

export interface LabeledTexts {
  texts: string[];
  labels: number[];
}

export interface JobInputs {
  labels: string[];
  train: LabeledTexts;
  validation: LabeledTexts | null;
  baseModel: ModelRecord;
  baseModelFiles: Map<string, Uint8Array>;
}

/**
 * The held-out part of the training rows when the job names no validation dataset: `validation_split`, or
 * 10% by default once there are at least 50 rows; a seeded shuffle decides which rows, so every run and every
 * task (classification, masked-lm) holds out the same ones.
 */
export function holdOut<T>(rows: T[], job: JobRecord): { train: T[]; heldOut: T[] | null } {
  const split = job.validation_split ??
    (rows.length >= MIN_ROWS_FOR_DEFAULT_SPLIT ? DEFAULT_VALIDATION_SPLIT : 0);
  if (split <= 0) return { train: rows, heldOut: null };
  const order = shuffledIndices(rows.length, job.hyperparameters.seed + 7919);
  const heldOutCount = Math.max(1, Math.round(rows.length * split));
  return {
    train: order.slice(heldOutCount).map((i) => rows[i]),
    heldOut: order.slice(0, heldOutCount).map((i) => rows[i]),
  };
}

/** Default share of training rows held out when the job names neither a validation set nor a split. */
const DEFAULT_VALIDATION_SPLIT = 0.1;
/** Below this many training rows nothing is held out by default (too few to spare). */
const MIN_ROWS_FOR_DEFAULT_SPLIT = 50;

export async function loadJobInputs(meta: MetaStore, blobs: BlobStore, job: JobRecord): Promise<JobInputs> {
  const trainingDataset = await getRecord<DatasetRecord>(meta, "datasets", job.tenant, job.training_dataset);
  const trainingRows = await readLabeledRows(blobs, trainingDataset, job.columns);
  const validationRows = job.validation_dataset
    ? await readLabeledRows(
      blobs,
      await getRecord<DatasetRecord>(meta, "datasets", job.tenant, job.validation_dataset),
      job.columns,
    )
    : null;

  const labels = [...new Set(trainingRows.map((row) => row.label))].sort(compareLabels);
  if (labels.length < 2) {
    throw new ApiError(
      400,
      "invalid_file",
      `column '${job.columns.label}' has fewer than 2 distinct labels`,
      {
        dataset: job.training_dataset,
        labels,
      },
    );
  }
  const labelIndex = new Map(labels.map((label, index) => [label, index]));

  const { train: trainPart, heldOut } = validationRows
    ? { train: trainingRows, heldOut: validationRows }
    : holdOut(trainingRows, job);
  const unknown = heldOut?.find((row) => !labelIndex.has(row.label));
  if (unknown) {
    throw new ApiError(
      400,
      "invalid_file",
      `validation label '${unknown.label}' does not occur in training data`,
      {
        line: unknown.line,
        label: unknown.label,
      },
    );
  }
  const toLabeled = (rows: LabeledRow[]): LabeledTexts => ({
    texts: rows.map((row) => row.text),
    labels: rows.map((row) => labelIndex.get(row.label)!),
  });

  const baseModel = await getRecord<ModelRecord>(meta, "models", job.tenant, job.base_model);
  const baseModelFiles = new Map<string, Uint8Array>();
  for (const file of baseModel.files) {
    baseModelFiles.set(file.name, await readBlob(blobs, baseModel.blob_prefix + file.name));
  }
  return {
    labels,
    train: toLabeled(trainPart),
    validation: heldOut && heldOut.length > 0 ? toLabeled(heldOut) : null,
    baseModel,
    baseModelFiles,
  };
}

interface LabeledRow {
  line: number;
  text: string;
  label: string;
}

async function readLabeledRows(
  blobs: BlobStore,
  dataset: DatasetRecord,
  columns: { text: string; label: string },
): Promise<LabeledRow[]> {
  for (const column of [columns.text, columns.label]) {
    if (!dataset.columns.includes(column)) {
      throw new ApiError(400, "invalid_request", `dataset '${dataset.id}' has no column '${column}'`, {
        dataset: dataset.id,
        columns: dataset.columns,
      });
    }
  }
  const stream = await blobs.get(dataset.blob_key);
  if (!stream) throw new ApiError(404, "not_found", `dataset '${dataset.id}' has no stored file`);
  const rows: LabeledRow[] = [];
  for await (const { line, row } of readTable(stream, dataset.format)) {
    const text = row[columns.text] ?? "";
    const label = (row[columns.label] ?? "").trim();
    if (label === "") {
      throw new ApiError(400, "invalid_file", `line ${line}: empty label in column '${columns.label}'`, {
        dataset: dataset.id,
        line,
      });
    }
    rows.push({ line, text, label });
  }
  if (rows.length === 0) throw new ApiError(400, "invalid_file", `dataset '${dataset.id}' has no rows`);
  return rows;
}

/** Numeric labels sort numerically ("2" before "10"), others lexically. */
function compareLabels(a: string, b: string): number {
  const na = Number(a), nb = Number(b);
  if (a !== "" && b !== "" && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

export async function getRecord<T>(
  meta: MetaStore,
  collection: "datasets" | "models",
  tenant: string,
  id: string,
) {
  const found = await meta.get<T>(collection, `${tenant}.${id}`);
  if (!found) {
    throw new ApiError(404, "not_found", `${collection.slice(0, -1)} '${id}' no longer exists`, { id });
  }
  return found.value;
}

export async function readBlob(blobs: BlobStore, key: string): Promise<Uint8Array> {
  const stream = await blobs.get(key);
  if (!stream) throw new ApiError(404, "not_found", `stored file '${key}' is missing`);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The base model's tokenizer: tokenizer.json when present, else vocab.txt (BERT WordPiece). */
export function loadTokenizer(files: Map<string, Uint8Array>): TextTokenizer {
  const tokenizerConfig = files.has("tokenizer_config.json")
    ? JSON.parse(fileText(files, "tokenizer_config.json"))
    : {};
  if (files.has("tokenizer.json")) {
    return TextTokenizer.fromTokenizerJson(fileText(files, "tokenizer.json"), tokenizerConfig);
  }
  if (files.has("vocab.txt")) {
    return TextTokenizer.fromVocabTxt(fileText(files, "vocab.txt"), {
      lowercase: tokenizerConfig.do_lower_case ?? true,
    });
  }
  throw new ApiError(400, "invalid_file", "base model has neither tokenizer.json nor vocab.txt");
}

/** A base-model file as text; a missing one is the user's problem to fix (400). */
export function fileText(files: Map<string, Uint8Array>, name: string): string {
  const bytes = files.get(name);
  if (!bytes) throw new ApiError(400, "invalid_file", `base model has no ${name}`);
  return new TextDecoder().decode(bytes);
}
