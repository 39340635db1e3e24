/**
 * Dataset parsing for edge and runner: streaming readers for CSV (RFC 4180), TSV (plain tab split) and JSONL
 * with line-numbered problems, whole-file validation with per-column stats, format detection, and the column
 * check a task needs. Pure streams in, rows out: no storage, no HTTP.
 */
export { DEFAULT_MAX_FIELD_CHARS, readTable, scanTable } from "./table.ts";
export type { DataProblem, TableItem, TableOptions, TableRow } from "./table.ts";
export { inspectTable, MAX_LISTED_PROBLEMS } from "./inspect.ts";
export type { TableSummary } from "./inspect.ts";
export { detectFormat, formatFromFilename, sniffFormat } from "./detect.ts";
export { validateColumnsForTask } from "./columns.ts";
export { MAX_LABEL_VALUES } from "./stats.ts";
export type { CharLengthStats, ColumnStats } from "./stats.ts";
