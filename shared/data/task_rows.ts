/**
 * Row checks per task, run over a whole dataset at job creation (before anything trains) so every fixable
 * problem comes back at once with its line: an empty or non-numeric label, a multi-label list that is not a
 * list, empty source/target sentences, and — through the token-classification and QA row parsers — tag/token
 * length mismatches, unknown tags and answers whose `answer_start` does not point at their text.
 */
import type { TaskName } from "../schemas/resources.ts";
import type { TaskOptions } from "../schemas/task_options.ts";
import type { TaskColumns } from "./task_columns.ts";

/** A row's labels for multi-label classification: a JSON array, else the delimited string (trimmed). */
export function multiLabelValues(value: string, delimiter = ","): string[] | null {
  const trimmed = value.trim();
  if (trimmed.startsWith("[")) {
    try {
      const parsed = JSON.parse(trimmed);
      if (Array.isArray(parsed) && parsed.every((v) => typeof v === "string" || typeof v === "number")) {
        return [...new Set(parsed.map((v) => String(v).trim()).filter((v) => v !== ""))];
      }
    } catch {
      // not JSON: read it as a delimited string below
    }
    return null;
  }
  return [...new Set(trimmed.split(delimiter).map((v) => v.trim()).filter((v) => v !== ""))];
}

/** A finite regression target, or null. */
export function regressionTarget(value: string): number | null {
  const trimmed = value.trim();
  if (trimmed === "") return null;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : null;
}

export type RowChecker = (row: Record<string, string>) => string | null;

/** Extra checkers by task, registered by the task modules that own the parsing (token classification, QA). */
const extraCheckers = new Map<TaskName, (columns: TaskColumns, options: TaskOptions) => RowChecker>();

export function registerRowChecker(
  task: TaskName,
  make: (columns: TaskColumns, options: TaskOptions) => RowChecker,
): void {
  extraCheckers.set(task, make);
}

/** The checker of one task's rows (null reason = the row is fine). */
export function rowChecker(task: TaskName, columns: TaskColumns, options: TaskOptions): RowChecker {
  const extra = extraCheckers.get(task);
  if (extra) return extra(columns, options);
  const value = (row: Record<string, string>, role: string) => row[columns[role]] ?? "";
  switch (task) {
    case "text-classification":
      return (row) => {
        const label = value(row, "label");
        if (label.trim() === "") return `empty label in column '${columns.label}'`;
        if (options.multi_label) {
          const labels = multiLabelValues(label, options.label_delimiter);
          if (labels === null) return `column '${columns.label}' is not a list of labels`;
        }
        return null;
      };
    case "text-regression":
      return (row) =>
        regressionTarget(value(row, "label")) === null
          ? `column '${columns.label}' must be a number, got '${value(row, "label").slice(0, 40)}'`
          : null;
    case "translation":
      return (row) => {
        for (const role of ["source", "target", "text"]) {
          if (columns[role] !== undefined && value(row, role).trim() === "") {
            return `empty ${role} in column '${columns[role]}'`;
          }
        }
        return null;
      };
    case "causal-lm":
      return (row) =>
        columns.completion !== undefined && value(row, "completion").trim() === ""
          ? `empty completion in column '${columns.completion}'`
          : null;
    default:
      return () => null;
  }
}
