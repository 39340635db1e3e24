/**
 * Row checks per task, run over a whole dataset at job creation (before anything trains) so every fixable
 * problem comes back at once with its line: an empty or non-numeric label, a multi-label list that is not a
 * list, empty source/target sentences, and — through the token-classification and QA row parsers
 * (shared/data/tasks/) — tag/token length mismatches, invalid tags and answers whose `answer_start` does not
 * point at their text; E-/S- (BIOES) tags under an explicit tag_scheme iob1 or iob2, and non-entity tags in a
 * row that also has "O" tags under tag_scheme auto.
 */
import type { TaskName } from "../schemas/resources.ts";
import type { TaskOptions } from "../schemas/task_options.ts";
import type { TaskColumns } from "./task_columns.ts";
import { invalidTagReason, parseTokenRow } from "./tasks/token_classification_rows.ts";
import { parseQaRow } from "./tasks/question_answering_rows.ts";

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

/**
 * A text-classification row's labels as the runner reads them: the multi-label list (null when it is not a
 * list) or the one trimmed label (null when empty).
 */
export function classificationLabels(value: string, options: TaskOptions): string[] | null {
  if (options.multi_label) return multiLabelValues(value, options.label_delimiter);
  const label = value.trim();
  return label === "" ? null : [label];
}

/** A finite regression target, or null. */
export function regressionTarget(value: string): number | null {
  const trimmed = value.trim();
  if (trimmed === "") return null;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : null;
}

export type RowChecker = (row: Record<string, string>) => string | null;

/** The checker of one task's rows (null reason = the row is fine). */
export function rowChecker(task: TaskName, columns: TaskColumns, options: TaskOptions): RowChecker {
  const value = (row: Record<string, string>, role: string) => row[columns[role]] ?? "";
  switch (task) {
    case "text-classification":
      return (row) => {
        const label = value(row, "label");
        if (label.trim() === "") return `empty label in column '${columns.label}'`;
        if (classificationLabels(label, options) === null) {
          return `column '${columns.label}' is not a list of labels`;
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
    case "token-classification": {
      // An explicit scheme makes every tag an entity tag; auto also accepts plain (POS) tags.
      const plainTags = options.tag_scheme === undefined || options.tag_scheme === "auto";
      const names = { tokens: columns.tokens, tags: columns.tags };
      // IOB1/IOB2 have no E-/S- tags; under auto, a row with an "O" makes the data entity-tagged, so its other
      // tags must be entity tags. Both are refused here as the runner would (prepareTokenData).
      const noBioes = !plainTags && options.tag_scheme !== "bioes";
      return (row) => {
        const parsed = parseTokenRow(row, names, { plainTags });
        if ("problem" in parsed) return parsed.problem;
        if (plainTags && parsed.tags.includes("O")) {
          for (const [i, tag] of parsed.tags.entries()) {
            const reason = invalidTagReason(tag, i);
            if (reason) return `${reason} (the data has O tags, so it is entity-tagged)`;
          }
        }
        const bioes = noBioes ? parsed.tags.findIndex((t) => /^[ES]-/.test(t)) : -1;
        if (bioes === -1) return null;
        return `tag '${parsed.tags[bioes]}' at position ${bioes} is not a ${options.tag_scheme} tag ` +
          `(task_options.tag_scheme)`;
      };
    }
    case "question-answering": {
      const names = { question: columns.question, context: columns.context, answers: columns.answers };
      return (row) => {
        const parsed = parseQaRow(row, names);
        return "problem" in parsed ? parsed.problem : null;
      };
    }
    case "causal-lm":
      return (row) =>
        columns.completion !== undefined && value(row, "completion").trim() === ""
          ? `empty completion in column '${columns.completion}'`
          : null;
    default:
      return () => null;
  }
}
