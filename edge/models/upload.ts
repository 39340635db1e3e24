/**
 * Collects a multipart model upload: plain fields (`name`, `spec`) as text, small files (JSON configs,
 * tokenizer files) in memory with size caps, and `model.safetensors` streamed straight into the blob store
 * while its header (the first 8 + N bytes) is captured for validation. A file name outside the HF folder set
 * we accept, a duplicate, or a file part without a file name is refused with 400.
 */
import { ApiError, invalidRequest } from "../../shared/schemas/errors.ts";
import type { BlobStore } from "../../shared/platform/types.ts";
import { concatBytes, type MultipartReader, readFieldText } from "../multipart.ts";

/** Accepted file names and the most bytes each may have when held in memory (weights stream instead). */
export const FOLDER_FILES: Record<string, number> = {
  "config.json": 1024 * 1024,
  "model.safetensors": Infinity,
  "tokenizer.json": 32 * 1024 * 1024,
  "vocab.txt": 16 * 1024 * 1024,
  "vocab.json": 16 * 1024 * 1024,
  "merges.txt": 16 * 1024 * 1024,
  "tokenizer_config.json": 1024 * 1024,
  "special_tokens_map.json": 1024 * 1024,
  "generation_config.json": 1024 * 1024,
  /** Written by edgetune's own exports of fine-tuned models; stored as is. */
  "metrics.json": 1024 * 1024,
  "eval_report.json": 16 * 1024 * 1024,
  /** SentencePiece models that Hub folders carry beside tokenizer.json (stored; tokenizer.json is what loads). */
  "spiece.model": 16 * 1024 * 1024,
  "sentencepiece.bpe.model": 16 * 1024 * 1024,
  "source.spm": 16 * 1024 * 1024,
  "target.spm": 16 * 1024 * 1024,
};

const MAX_HEADER_CAPTURE = 16 * 1024 * 1024;

export interface ModelUpload {
  fields: Map<string, string>;
  files: Map<string, Uint8Array>;
  /** Set when model.safetensors was uploaded (already in the blob store at `key`). */
  weights: { key: string; size: number; head: Uint8Array; headerTooLarge: boolean } | null;
}

/** A pass-through that keeps the safetensors header bytes (8-byte length + JSON). */
function headerCapture() {
  const chunks: Uint8Array[] = [];
  let captured = 0;
  let wanted = 8;
  let tooLarge = false;
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (!tooLarge && captured < wanted) {
        const take = chunk.subarray(0, wanted - captured);
        chunks.push(take.slice());
        captured += take.length;
        if (wanted === 8 && captured >= 8) {
          const head = concatBytes(chunks);
          const length = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
          if (length > MAX_HEADER_CAPTURE) tooLarge = true;
          else {
            wanted = 8 + length;
            // The rest of this chunk may already hold header bytes.
            const more = chunk.subarray(take.length, take.length + (wanted - captured));
            chunks.push(more.slice());
            captured += more.length;
          }
        }
      }
      controller.enqueue(chunk);
    },
  });
  return { stream, result: () => ({ head: concatBytes(chunks), headerTooLarge: tooLarge }) };
}

/** Base name of an uploaded file (browsers may send a relative path for folder uploads). */
const baseName = (filename: string) => filename.split(/[\\/]/).pop() ?? filename;

export async function collectModelUpload(
  form: MultipartReader,
  blobs: BlobStore,
  prefix: string,
  onWeightsStored: (key: string) => void,
): Promise<ModelUpload> {
  const upload: ModelUpload = { fields: new Map(), files: new Map(), weights: null };
  for await (const part of form.parts()) {
    if (part.filename === null) {
      if (part.name !== "name" && part.name !== "spec") continue;
      upload.fields.set(part.name, await readFieldText(part, 1024 * 1024));
      continue;
    }
    const name = baseName(part.filename);
    const limit = FOLDER_FILES[name];
    if (limit === undefined) {
      throw invalidRequest(
        `file '${name}' is not part of a supported model folder (accepted: ${
          Object.keys(FOLDER_FILES).join(", ")
        })`,
        { file: name },
      );
    }
    if (upload.files.has(name) || (name === "model.safetensors" && upload.weights)) {
      throw invalidRequest(`file '${name}' was sent twice`, { file: name });
    }
    if (name === "model.safetensors") {
      const key = prefix + name;
      const capture = headerCapture();
      onWeightsStored(key);
      let size: number;
      try {
        size = (await blobs.put(key, part.body.pipeThrough(capture.stream))).size;
      } catch (error) {
        throw form.failure ?? error;
      }
      upload.weights = { key, size, ...capture.result() };
      continue;
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of part.body) {
      total += chunk.length;
      if (total > limit) {
        throw new ApiError(413, "payload_too_large", `file '${name}' is larger than ${limit} bytes`, {
          file: name,
        });
      }
      chunks.push(chunk);
    }
    upload.files.set(name, concatBytes(chunks));
  }
  return upload;
}

/** A file's bytes as UTF-8 text (400 `invalid_file` if it is not UTF-8). */
export function fileText(upload: ModelUpload, name: string): string | null {
  const bytes = upload.files.get(name);
  if (bytes === undefined) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError(400, "invalid_file", `${name} is not valid UTF-8`, { file: name });
  }
}

/** A JSON file's parsed object (400 `invalid_file` naming the file if it is not a JSON object). */
export function fileJson(upload: ModelUpload, name: string): Record<string, unknown> | null {
  const text = fileText(upload, name);
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, "invalid_file", `${name} is not valid JSON: ${(error as Error).message}`, {
      file: name,
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ApiError(400, "invalid_file", `${name} must be a JSON object`, { file: name });
  }
  return value as Record<string, unknown>;
}
