/**
 * Turns a dataset byte stream (CSV, TSV, JSONL, CoNLL, SQuAD JSON or plain text) into named rows, streaming: `scanTable` yields the columns,
 * then every row with its line number, interleaved with every problem found (ragged rows, bad JSON, non-UTF-8,
 * oversized fields, missing header...), so the edge can list them all; `readTable` is the strict reader the
 * runner uses, which stops with an ApiError `invalid_file` at the first problem. JSONL rows are objects whose
 * keys are the columns (taken from the first line); non-string values are stringified (numbers as written).
 */
import { ApiError } from "../schemas/errors.ts";
import type { DatasetFormat } from "../schemas/resources.ts";
import { csvRecords, isRecordProblem, type RecordItem, tsvRecords } from "./csv.ts";
import { isLineProblem, readLines } from "./lines.ts";
import { textLineItems } from "./text_lines.ts";
import { conllItems } from "./conll_table.ts";
import { scanSquad } from "./squad_table.ts";

export const DEFAULT_MAX_FIELD_CHARS = 100_000;
const MAX_COLUMN_NAME_CHARS = 200;

export interface TableOptions {
  /** Longest field (in characters) accepted; default 100,000. */
  maxFieldChars?: number;
}

export interface TableRow {
  line: number;
  row: Record<string, string>;
}

/** One problem in a data file, as listed in an `invalid_file` error's details. */
export interface DataProblem {
  line: number;
  column?: string;
  reason: string;
}

export type TableItem =
  | { kind: "columns"; columns: string[] }
  | { kind: "row"; line: number; row: Record<string, string> }
  | { kind: "problem"; problem: DataProblem; fatal: boolean };

const problem = (line: number, reason: string, fatal = false, column?: string): TableItem => ({
  kind: "problem",
  problem: column === undefined ? { line, reason } : { line, column, reason },
  fatal,
});

/** Every column, row and problem of the table in file order; stops after a fatal problem. */
export async function* scanTable(
  stream: ReadableStream<Uint8Array>,
  format: DatasetFormat,
  options: TableOptions = {},
): AsyncGenerator<TableItem> {
  const maxFieldChars = options.maxFieldChars ?? DEFAULT_MAX_FIELD_CHARS;
  if (format === "squad") { // one JSON document, not lines
    yield* scanSquad(stream, options);
    return;
  }
  // A line may hold several maximal fields; 4 bytes per character is the UTF-8 worst case.
  const maxLineBytes = Math.max(maxFieldChars * 8, 1 << 20);
  const lines = readLines(stream, maxLineBytes);
  const items = itemsOf(format, lines, maxFieldChars);
  for await (const item of items) {
    yield item;
    if (item.kind === "problem" && item.fatal) return;
  }
}

function itemsOf(
  format: DatasetFormat,
  lines: ReturnType<typeof readLines>,
  maxFieldChars: number,
): AsyncIterable<TableItem> {
  switch (format) {
    case "jsonl":
      return jsonlItems(lines, maxFieldChars);
    case "csv":
      return delimitedItems(csvRecords(lines, maxFieldChars), maxFieldChars);
    case "tsv":
      return delimitedItems(tsvRecords(lines), maxFieldChars);
    case "text":
      return textLineItems(lines, maxFieldChars);
    case "conll":
      return conllItems(lines, maxFieldChars);
    case "squad":
      throw new Error("squad is read as a whole document (scanSquad)");
  }
}

/** The rows of a table, stopping with ApiError 400 `invalid_file` at the first problem. */
export async function* readTable(
  stream: ReadableStream<Uint8Array>,
  format: DatasetFormat,
  options: TableOptions = {},
): AsyncGenerator<TableRow> {
  for await (const item of scanTable(stream, format, options)) {
    if (item.kind === "problem") {
      throw new ApiError(400, "invalid_file", `line ${item.problem.line}: ${item.problem.reason}`, [
        item.problem,
      ]);
    }
    if (item.kind === "row") yield { line: item.line, row: item.row };
  }
}

function checkHeader(line: number, names: string[]): TableItem | null {
  const seen = new Set<string>();
  for (const [index, name] of names.entries()) {
    if (name.trim() === "") {
      return problem(line, `header has an empty column name (column ${index + 1})`, true);
    }
    if (name.length > MAX_COLUMN_NAME_CHARS) {
      return problem(
        line,
        `column name ${index + 1} is longer than ${MAX_COLUMN_NAME_CHARS} characters`,
        true,
      );
    }
    if (seen.has(name)) return problem(line, `duplicate column name "${name}"`, true);
    seen.add(name);
  }
  return null;
}

async function* delimitedItems(records: AsyncIterable<RecordItem>, maxFieldChars: number) {
  let columns: string[] | null = null;
  let lastLine = 0;
  let rows = 0;
  let problems = 0;
  for await (const record of records) {
    if (isRecordProblem(record)) {
      problems++;
      yield problem(record.line, record.reason, record.fatal ?? columns === null);
      continue;
    }
    lastLine = record.line;
    if (columns === null) {
      const bad = checkHeader(record.line, record.fields);
      if (bad) {
        yield bad;
        return;
      }
      columns = record.fields;
      yield { kind: "columns", columns } as TableItem;
      continue;
    }
    if (record.fields.length !== columns.length) {
      problems++;
      yield problem(record.line, `expected ${columns.length} fields, found ${record.fields.length}`);
      continue;
    }
    const row: Record<string, string> = {};
    let ok = true;
    for (const [index, name] of columns.entries()) {
      const value = record.fields[index];
      if (value.length > maxFieldChars) {
        yield problem(record.line, `field is longer than ${maxFieldChars} characters`, false, name);
        ok = false;
      }
      row[name] = value;
    }
    if (ok) {
      rows++;
      yield { kind: "row", line: record.line, row } as TableItem;
    } else problems++;
  }
  if (columns === null) yield problem(1, "file is empty (no header row)", true);
  else if (rows === 0 && problems === 0) {
    yield problem(lastLine + 1, "file has a header but no valid data rows", true);
  }
}

function stringify(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null) return "";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value) ?? "";
}

async function* jsonlItems(lines: ReturnType<typeof readLines>, maxFieldChars: number) {
  let columns: string[] | null = null;
  let rows = 0;
  let lastLine = 0;
  for await (const item of lines) {
    if (isLineProblem(item)) {
      yield problem(item.line, item.reason);
      continue;
    }
    lastLine = item.line;
    if (item.text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(item.text);
    } catch (error) {
      yield problem(item.line, `invalid JSON: ${(error as Error).message}`);
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      yield problem(item.line, "each line must be a JSON object");
      continue;
    }
    const object = value as Record<string, unknown>;
    if (columns === null) {
      const names = Object.keys(object);
      if (names.length === 0) {
        yield problem(item.line, "the first object has no fields (its keys are the columns)", true);
        return;
      }
      const bad = checkHeader(item.line, names);
      if (bad) {
        yield bad;
        return;
      }
      columns = names;
      yield { kind: "columns", columns } as TableItem;
    }
    const row: Record<string, string> = {};
    let ok = true;
    for (const name of columns) {
      // Own keys only: a column named "constructor" or "toString" must not find Object.prototype's.
      if (!Object.hasOwn(object, name)) {
        yield problem(item.line, `missing field "${name}"`, false, name);
        ok = false;
        continue;
      }
      const text = stringify(object[name]);
      if (text.length > maxFieldChars) {
        yield problem(item.line, `field is longer than ${maxFieldChars} characters`, false, name);
        ok = false;
      }
      row[name] = text;
    }
    for (const name of Object.keys(object)) {
      if (!columns.includes(name)) {
        yield problem(
          item.line,
          `unexpected field "${name}" (the first line defines the columns)`,
          false,
          name,
        );
        ok = false;
      }
    }
    if (ok) {
      rows++;
      yield { kind: "row", line: item.line, row } as TableItem;
    }
  }
  if (columns === null) yield problem(1, "file is empty (no JSON object lines)", true);
  else if (rows === 0) yield problem(lastLine, "file has no valid rows", true);
}
