/**
 * Plain text datasets (format `text`): one row `{text}` per line, empty lines kept, so a text file can be read
 * back as the document it was (causal-LM training joins the rows with newlines) or as one sentence per line
 * (the two sides of an aligned translation corpus). Lines that are not UTF-8 or exceed the field limit are
 * problems with their line number, as in the other formats.
 */
import type { TableItem } from "./table.ts";
import { isLineProblem, type readLines } from "./lines.ts";

export async function* textLineItems(
  lines: ReturnType<typeof readLines>,
  maxFieldChars: number,
): AsyncGenerator<TableItem> {
  let rows = 0;
  let started = false;
  for await (const item of lines) {
    if (!started) {
      started = true;
      yield { kind: "columns", columns: ["text"] };
    }
    if (isLineProblem(item)) {
      yield { kind: "problem", problem: { line: item.line, reason: item.reason }, fatal: false };
      continue;
    }
    const text = item.text.replace(/\r$/, "");
    if (text.length > maxFieldChars) {
      yield {
        kind: "problem",
        problem: {
          line: item.line,
          column: "text",
          reason: `line is longer than ${maxFieldChars} characters`,
        },
        fatal: false,
      };
      continue;
    }
    rows++;
    yield { kind: "row", line: item.line, row: { text } };
  }
  if (rows === 0) {
    if (!started) yield { kind: "columns", columns: ["text"] };
    yield { kind: "problem", problem: { line: 1, reason: "file is empty" }, fatal: true };
  }
}
