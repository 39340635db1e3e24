/**
 * One question-answering example from a table row (CSV, TSV, JSONL, or a SQuAD upload's rows): the question,
 * context and answers columns, where answers is the Hugging Face datasets shape as JSON text —
 * `{"text": ["…"], "answer_start": [17]}` (answer_start in code points, as Python counts). The checks are
 * tasks/squad.ts's JSONL checks (so every answer must sit at its answer_start, and a wrong offset is named
 * together with where the text really is), plus a non-empty question and context; a problem comes back as a
 * message for the caller to prefix with the line.
 */
import { ApiError } from "../../schemas/errors.ts";
import { parseQaJsonl, type QaExample } from "../../core/tasks/squad.ts";

export interface QaColumns {
  question: string;
  context: string;
  answers: string;
}

/** The example of one row, or `{problem}` saying what is wrong with it. `id` defaults to the row's "id". */
export function parseQaRow(
  row: Record<string, string>,
  columns: QaColumns,
  options: { id?: string; line?: number } = {},
): QaExample | { problem: string } {
  const question = row[columns.question];
  const context = row[columns.context];
  const rawAnswers = row[columns.answers];
  for (const [role, value] of [["question", question], ["context", context], ["answers", rawAnswers]]) {
    const column = columns[role as keyof QaColumns];
    if (value === undefined) return { problem: `no '${column}' column` };
    if (value.trim() === "") return { problem: `empty ${role} in column '${column}'` };
  }
  let answers: unknown;
  try {
    answers = JSON.parse(rawAnswers);
  } catch {
    return {
      problem: `column '${columns.answers}' must be JSON like {"text": ["…"], "answer_start": [0]}`,
    };
  }
  const id = options.id ?? (row.id !== undefined && row.id !== "" ? row.id : undefined);
  try {
    const [example] = parseQaJsonl(
      JSON.stringify({ ...(id !== undefined ? { id } : {}), context, question, answers }),
    );
    const title = row.title !== undefined && row.title !== "" ? row.title : undefined;
    return {
      ...example,
      id: id ?? (options.line !== undefined ? `line-${options.line}` : example.id),
      title,
      source: options.line !== undefined ? { line: options.line } : {},
    };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const details = error.details as { reason?: string }[] | undefined;
    const reason = details?.[0]?.reason ?? error.message;
    return { problem: reason.replace(/'answers'/, `column '${columns.answers}'`) };
  }
}

/** Every row's example; any bad rows → one ApiError 400 `invalid_file` listing them with their lines. */
export function qaExamplesFromRows(
  rows: readonly { line: number; row: Record<string, string> }[],
  columns: QaColumns,
  what = "dataset",
): QaExample[] {
  const examples: QaExample[] = [];
  const problems: { line: number; reason: string }[] = [];
  let total = 0;
  for (const { line, row } of rows) {
    const parsed = parseQaRow(row, columns, { line });
    if ("problem" in parsed) {
      total++;
      if (problems.length < 20) problems.push({ line, reason: parsed.problem });
    } else examples.push(parsed);
  }
  if (total > 0) {
    const first = problems.slice(0, 3).map((p) => `line ${p.line}: ${p.reason}`).join("; ");
    throw new ApiError(
      400,
      "invalid_file",
      `${what}: ${total} question-answering row(s) are invalid: ${first}${
        total > 3 ? ` (and ${total - 3} more)` : ""
      }`,
      problems,
    );
  }
  return examples;
}
