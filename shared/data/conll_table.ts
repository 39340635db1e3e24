/**
 * CoNLL column files (format `conll`) as table items, streaming: one row per sentence with the columns
 * `tokens` and `tags`, each a JSON array string (`{"tokens":"[\"EU\",\"rejects\"]","tags":"[\"I-ORG\",\"O\"]"}`),
 * so token classification reads CoNLL and JSONL uploads through the same row parser. A token line is split on
 * spaces/tabs; the first column is the token and the last the tag (CoNLL-2003's `token POS chunk NER`);
 * blank lines end sentences and `-DOCSTART-` lines are skipped. A row's `line` is its sentence's first line.
 * Problems carry their line number and drop the sentence they are in: a line whose column count differs from
 * the first token line's, a line without a tag column, an overlong line or field, non-UTF-8 bytes, and — in a
 * file whose first tag is an entity tag (`O` or `B-`/`I-`/`E-`/`S-TYPE`) — a tag that is not one. Files whose
 * first tag is something else (POS tags) take any tag. A file without a sentence is a fatal problem.
 */
import { parseTag } from "../core/tasks/tagging.ts";
import { isLineProblem, type LineItem } from "./lines.ts";
import type { DataProblem, TableItem } from "./table.ts";

export const CONLL_COLUMNS = ["tokens", "tags"];

interface OpenSentence {
  line: number;
  tokens: string[];
  tags: string[];
  /** A problem was found in this sentence: it is dropped at its end. */
  bad: boolean;
}

const problemItem = (problem: DataProblem, fatal = false): TableItem => ({ kind: "problem", problem, fatal });

/** Table items of a CoNLL file from its lines (see module comment); plugs into scanTable's format switch. */
export async function* conllItems(
  lines: AsyncIterable<LineItem>,
  maxFieldChars: number,
): AsyncGenerator<TableItem> {
  yield { kind: "columns", columns: CONLL_COLUMNS };
  let expected: { columns: number; line: number } | undefined;
  let entityTags: boolean | undefined;
  let current: OpenSentence | undefined;
  let rows = 0;
  let problems = 0;
  let lastLine = 0;
  const close = (): TableItem | undefined => {
    const sentence = current;
    current = undefined;
    if (!sentence || sentence.bad) return undefined;
    const row = { tokens: JSON.stringify(sentence.tokens), tags: JSON.stringify(sentence.tags) };
    const column = row.tokens.length > maxFieldChars
      ? "tokens"
      : row.tags.length > maxFieldChars
      ? "tags"
      : "";
    if (column !== "") {
      problems++;
      return problemItem({
        line: sentence.line,
        column,
        reason: `sentence is longer than ${maxFieldChars} characters as a JSON list`,
      });
    }
    rows++;
    return { kind: "row", line: sentence.line, row };
  };
  const fail = (line: number, reason: string): TableItem => {
    problems++;
    if (current) current.bad = true;
    else current = { line, tokens: [], tags: [], bad: true };
    return problemItem({ line, reason });
  };
  for await (const item of lines) {
    lastLine = item.line;
    if (isLineProblem(item)) {
      yield fail(item.line, item.reason);
      continue;
    }
    const trimmed = item.text.trim();
    if (trimmed === "" || trimmed.startsWith("-DOCSTART-")) {
      const done = close();
      if (done) yield done;
      continue;
    }
    const columns = trimmed.split(/[ \t]+/);
    if (columns.length < 2) {
      yield fail(item.line, `has 1 column; a token line needs a token and a tag column`);
      continue;
    }
    if (expected === undefined) expected = { columns: columns.length, line: item.line };
    else if (columns.length !== expected.columns) {
      yield fail(
        item.line,
        `has ${columns.length} columns but line ${expected.line} has ${expected.columns}`,
      );
      continue;
    }
    const token = columns[0];
    const tag = columns[columns.length - 1];
    if (token.length > maxFieldChars) {
      yield fail(item.line, `token is longer than ${maxFieldChars} characters`);
      continue;
    }
    entityTags ??= parseTag(tag) !== null;
    if (entityTags && parseTag(tag) === null) {
      yield fail(item.line, `tag '${tag}' is not O or B-/I-/E-/S- followed by an entity type`);
      continue;
    }
    if (!current) current = { line: item.line, tokens: [], tags: [], bad: false };
    current.tokens.push(token);
    current.tags.push(tag);
  }
  const done = close();
  if (done) yield done;
  if (rows === 0 && problems === 0) {
    yield problemItem({ line: Math.max(1, lastLine), reason: "file has no sentences (token lines)" }, true);
  }
}
