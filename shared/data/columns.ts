/**
 * Checks that a dataset has the columns a task needs (e.g. text-classification reads `columns.text` and
 * `columns.label`; masked-lm only `columns.text`, so it passes no label), answering ApiError 400
 * `invalid_request` that names the missing columns and lists the ones the dataset has. Used by the edge at
 * job creation and by the runner before training.
 */
import { ApiError } from "../schemas/errors.ts";

export function validateColumnsForTask(
  columns: readonly string[],
  wanted: { [role: string]: string | undefined },
  datasetId?: string,
): void {
  const missing = [...new Set(Object.values(wanted))].filter((name): name is string =>
    name !== undefined && !columns.includes(name)
  );
  if (missing.length === 0) return;
  const where = datasetId ? `dataset '${datasetId}'` : "the dataset";
  throw new ApiError(
    400,
    "invalid_request",
    `${where} has no column ${missing.map((name) => `"${name}"`).join(" or ")}; it has ${
      columns.map((name) => `"${name}"`).join(", ")
    }`,
    { missing, columns },
  );
}
