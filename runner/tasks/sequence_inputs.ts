/**
 * Turns a sequence-level job's rows into the core's LabelledTexts: texts (and `text_pair` second segments),
 * and per problem type the class index (single-label), the label index set (multi-label: a JSON list or a
 * delimited string) or the numeric target (regression). Labels are the sorted distinct training labels
 * (numbers numerically); a held-out label unseen in training, an empty label or a non-numeric target is a 400
 * naming the line. Class weights come from `task_options.class_weights` ("balanced" or label → weight).
 */
import { balancedClassWeights } from "../../shared/core/tasks/class_weights.ts";
import type { LabelledTexts } from "../../shared/core/train/fine_tune.ts";
import type { TableRow } from "../../shared/data/mod.ts";
import { multiLabelValues, regressionTarget } from "../../shared/data/task_rows.ts";
import { ApiError } from "../../shared/schemas/errors.ts";
import type { TaskOptions } from "../../shared/schemas/task_options.ts";

const badLine = (line: number, message: string, details: Record<string, unknown> = {}) =>
  new ApiError(400, "invalid_file", `line ${line}: ${message}`, { line, ...details });

/** Numeric labels sort numerically ("2" before "10"), others lexically. */
export function compareLabels(a: string, b: string): number {
  const na = Number(a), nb = Number(b);
  if (a !== "" && b !== "" && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function rowLabels(row: TableRow, column: string, options: TaskOptions): string[] {
  const value = row.row[column] ?? "";
  if (options.multi_label) {
    const labels = multiLabelValues(value, options.label_delimiter);
    if (labels === null) throw badLine(row.line, `column '${column}' is not a list of labels`);
    return labels;
  }
  const label = value.trim();
  if (label === "") throw badLine(row.line, `empty label in column '${column}'`);
  return [label];
}

/** The label set of the training rows (classification). */
export function labelSet(rows: TableRow[], columns: Record<string, string>, options: TaskOptions): string[] {
  const labels = new Set<string>();
  for (const row of rows) for (const label of rowLabels(row, columns.label, options)) labels.add(label);
  const sorted = [...labels].sort(compareLabels);
  if (sorted.length < (options.multi_label ? 1 : 2)) {
    throw new ApiError(400, "invalid_file", `column '${columns.label}' has fewer than 2 distinct labels`, {
      labels: sorted,
    });
  }
  return sorted;
}

function textsOf(rows: TableRow[], columns: Record<string, string>): Pick<LabelledTexts, "texts" | "pairs"> {
  return {
    texts: rows.map((r) => r.row[columns.text] ?? ""),
    ...(columns.text_pair ? { pairs: rows.map((r) => r.row[columns.text_pair] ?? "") } : {}),
  };
}

export function classificationTexts(
  rows: TableRow[],
  columns: Record<string, string>,
  labels: string[],
  options: TaskOptions,
): LabelledTexts {
  const index = new Map(labels.map((label, i) => [label, i]));
  const indices = rows.map((row) =>
    rowLabels(row, columns.label, options).map((label) => {
      const i = index.get(label);
      if (i === undefined) {
        throw badLine(row.line, `label '${label}' does not occur in the training data`, { label });
      }
      return i;
    })
  );
  return options.multi_label
    ? { ...textsOf(rows, columns), multiLabels: indices }
    : { ...textsOf(rows, columns), labels: indices.map((i) => i[0]) };
}

export function regressionTexts(rows: TableRow[], columns: Record<string, string>): LabelledTexts {
  const targets = rows.map((row) => {
    const value = regressionTarget(row.row[columns.label] ?? "");
    if (value === null) {
      throw badLine(
        row.line,
        `column '${columns.label}' must be a number, got '${row.row[columns.label] ?? ""}'`,
      );
    }
    return value;
  });
  return { ...textsOf(rows, columns), targets };
}

/** Loss weights per label index from task_options.class_weights (undefined: unweighted). */
export function classWeightsOf(
  options: TaskOptions,
  labels: string[],
  train: LabelledTexts,
): number[] | undefined {
  const spec = options.class_weights;
  if (spec === undefined) return undefined;
  if (spec === "balanced") {
    if (train.labels) return balancedClassWeights(train.labels, labels.map((_, i) => i));
    // Multi-label: a label column's weight is n / (k · positives), as "balanced" over label occurrences.
    const occurrences = train.multiLabels!.flat();
    return balancedClassWeights(occurrences, labels.map((_, i) => i));
  }
  const unknown = Object.keys(spec).filter((label) => !labels.includes(label));
  if (unknown.length > 0) {
    throw new ApiError(
      400,
      "invalid_request",
      `task_options.class_weights names unknown labels: ${unknown.join(", ")}`,
      {
        unknown,
        labels,
      },
    );
  }
  return labels.map((label) => spec[label] ?? 1);
}
