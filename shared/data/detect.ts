/**
 * Decides a dataset file's format: an explicit choice wins, then the file name's extension (.csv, .tsv/.tab,
 * .jsonl/.ndjson, .conll/.iob/.iob2/.bio, .json for SQuAD, .txt/.text), then a look at the first bytes (a
 * whole-file JSON object starting with SQuAD's "data"/"version" key is SQuAD; another `{` starts JSONL; a first
 * line with more tabs than commas is TSV; anything else is CSV). CoNLL and plain text are never guessed from
 * content: name them by extension or the `format` field.
 */
import type { DatasetFormat } from "../schemas/resources.ts";

const EXTENSIONS: Record<string, DatasetFormat> = {
  csv: "csv",
  tsv: "tsv",
  tab: "tsv",
  jsonl: "jsonl",
  ndjson: "jsonl",
  txt: "text",
  text: "text",
  conll: "conll",
  iob: "conll",
  iob2: "conll",
  bio: "conll",
  json: "squad",
};

export function formatFromFilename(filename: string | null | undefined): DatasetFormat | null {
  const match = /\.([A-Za-z0-9]+)$/.exec(filename ?? "");
  return match ? EXTENSIONS[match[1].toLowerCase()] ?? null : null;
}

/** Guesses the format from the start of the file (a few KB is plenty). */
export function sniffFormat(head: Uint8Array): DatasetFormat {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(head.subarray(0, 64 * 1024)).replace(
    /^\uFEFF/,
    "",
  );
  const start = text.trimStart();
  // A whole-file JSON document in SQuAD's shape ({"data": [...], "version": ...}) is SQuAD; any other
  // object per line is JSONL.
  if (/^\{\s*"(data|version)"\s*:/.test(start) && !/\n\s*\{/.test(start.slice(0, 4096))) return "squad";
  if (start.startsWith("{")) return "jsonl";
  const firstLine = text.split("\n", 1)[0];
  const tabs = firstLine.split("\t").length - 1;
  const commas = firstLine.split(",").length - 1;
  return tabs > commas ? "tsv" : "csv";
}

export function detectFormat(
  explicit: DatasetFormat | null | undefined,
  filename: string | null | undefined,
  head: Uint8Array,
): DatasetFormat {
  return explicit ?? formatFromFilename(filename) ?? sniffFormat(head);
}
