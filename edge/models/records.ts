/**
 * Model records and their blobs: the public view of a record, where a model's HF folder lives
 * (`models/<tenant>/<id>/<file>`), writing a folder's files and removing them all again (used to roll back a
 * failed creation and by DELETE), and reading labels from a config's `id2label`.
 */
import type { BlobStore } from "../../shared/platform/types.ts";
import type { ModelRecord } from "../../shared/schemas/resources.ts";

export const modelBlobPrefix = (tenant: string, id: string): string => `models/${tenant}/${id}/`;

/** The API view of a model record (storage details left out). */
export function publicModel(record: ModelRecord) {
  const { tenant: _tenant, blob_prefix: _prefix, ...view } = record;
  return view;
}

/** Writes every file of a folder under `prefix`; returns name + size of each. */
export async function putFolder(
  blobs: BlobStore,
  prefix: string,
  files: Record<string, Uint8Array>,
): Promise<{ name: string; size: number }[]> {
  const written: { name: string; size: number }[] = [];
  for (const [name, bytes] of Object.entries(files)) {
    const info = await blobs.put(prefix + name, bytes);
    written.push({ name, size: info.size });
  }
  return written;
}

/** Deletes every blob under `prefix` (a model folder). */
export async function deleteFolder(blobs: BlobStore, prefix: string): Promise<void> {
  const keys: string[] = [];
  for await (const info of blobs.list(prefix)) keys.push(info.key);
  for (const key of keys) await blobs.delete(key);
}

/** Labels in id order from a config's `id2label` ({"0": "neg", "1": "pos"}), or null if absent/invalid. */
export function labelsFromId2Label(config: Record<string, unknown>): string[] | null {
  const id2label = config.id2label;
  if (!id2label || typeof id2label !== "object" || Array.isArray(id2label)) return null;
  const entries = Object.entries(id2label as Record<string, unknown>);
  if (entries.length === 0) return null;
  const labels: string[] = [];
  for (const [key, value] of entries) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= entries.length || typeof value !== "string") {
      return null;
    }
    labels[index] = value;
  }
  return labels.every((label) => typeof label === "string") ? labels : null;
}
