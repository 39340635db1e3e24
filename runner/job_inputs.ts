/**
 * The runner's I/O helpers for loading a job: the seeded held-out split, records and blobs by id, and the
 * base model's tokenizer and files (task_inputs.ts builds on them to load rows and the base model). The math
 * happens in shared/core. Problems a user can fix (a missing record, a base model without a tokenizer) are
 * ApiErrors, so the job fails with a message that says what to change instead of being retried.
 */
import type { BlobStore, MetaStore } from "../shared/platform/types.ts";
import type { JobRecord } from "../shared/schemas/resources.ts";
import { ApiError } from "../shared/schemas/errors.ts";
import { shuffledIndices, TextTokenizer } from "../shared/core/mod.ts";

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
export { loadTaskInputs, type TaskInputs } from "./task_inputs.ts";
