/**
 * Validates a whole dataset file in one streaming pass and summarises it: row count, columns and per-column
 * stats on success; on any problem an ApiError 400 `invalid_file` whose details list the first 20 problems as
 * `{line, column?, reason}` (the scan goes on after a recoverable problem so the user sees many at once).
 */
import { ApiError } from "../schemas/errors.ts";
import type { DatasetFormat } from "../schemas/resources.ts";
import { type ColumnStats, TableStats } from "./stats.ts";
import { type DataProblem, scanTable, type TableOptions } from "./table.ts";

export const MAX_LISTED_PROBLEMS = 20;

export interface TableSummary {
  rows: number;
  columns: string[];
  stats: Record<string, ColumnStats>;
}

export async function inspectTable(
  stream: ReadableStream<Uint8Array>,
  format: DatasetFormat,
  options: TableOptions = {},
): Promise<TableSummary> {
  const problems: DataProblem[] = [];
  let problemCount = 0;
  let columns: string[] = [];
  let stats: TableStats | null = null;
  let rows = 0;
  for await (const item of scanTable(stream, format, options)) {
    if (item.kind === "columns") {
      columns = item.columns;
      stats = new TableStats(columns);
    } else if (item.kind === "row") {
      rows++;
      stats!.add(item.row);
    } else {
      problemCount++;
      if (problems.length < MAX_LISTED_PROBLEMS) problems.push(item.problem);
    }
  }
  if (problemCount > 0) {
    const first = problems[0];
    const more = problemCount > 1
      ? ` (and ${problemCount - 1} more problem${problemCount > 2 ? "s" : ""})`
      : "";
    throw new ApiError(
      400,
      "invalid_file",
      `invalid ${format} file: line ${first.line}: ${first.reason}${more}`,
      problems,
    );
  }
  return { rows, columns, stats: stats!.result() };
}
