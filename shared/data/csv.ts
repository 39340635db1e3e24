/**
 * RFC 4180 record assembly over numbered text lines: comma-separated fields, fields in double quotes may hold
 * commas, `""` (an escaped quote) and line breaks, so one record can span several physical lines; the record
 * carries the number of the line it starts on. A quote inside an unquoted field, text after a closing quote,
 * an unterminated quoted field and a quoted field growing past `maxFieldChars` are reported as problems with
 * their line numbers. Also holds the TSV splitter (plain tab split, no quoting, as GLUE files need).
 */
import { isLineProblem, type LineItem } from "./lines.ts";

export interface RawRecord {
  line: number;
  fields: string[];
}

export interface RecordProblem {
  line: number;
  reason: string;
  /** Set when the problem ends parsing (nothing after it can be trusted). */
  fatal?: boolean;
}

export type RecordItem = RawRecord | RecordProblem;

/** The next comma or quote (global, so `lastIndex` starts the search without copying the line). */
const SPECIAL = /[,"]/g;

export const isRecordProblem = (item: RecordItem): item is RecordProblem => "reason" in item;

/** TSV: every non-empty line is one record, fields split on tabs exactly as written. */
export async function* tsvRecords(lines: AsyncIterable<LineItem>): AsyncGenerator<RecordItem> {
  for await (const item of lines) {
    if (isLineProblem(item)) {
      yield item;
      continue;
    }
    if (item.text === "") continue;
    yield { line: item.line, fields: item.text.split("\t") };
  }
}

/** CSV per RFC 4180 (wholly empty lines between records are skipped). */
export async function* csvRecords(
  lines: AsyncIterable<LineItem>,
  maxFieldChars: number,
): AsyncGenerator<RecordItem> {
  let fields: string[] = [];
  let field = "";
  let inQuotes = false;
  let startLine = 0;

  for await (const item of lines) {
    if (isLineProblem(item)) {
      if (inQuotes) {
        yield { ...item, fatal: true };
        return;
      }
      yield item;
      continue;
    }
    const text = item.text;
    if (!inQuotes) {
      if (text === "") continue;
      startLine = item.line;
      fields = [];
      field = "";
    } else {
      field += "\n";
    }

    let problem: string | null = null;
    let i = 0;
    // `afterQuote`: the previous character closed a quoted field, so only a comma or the line end may follow.
    let afterQuote = false;
    while (i < text.length) {
      const ch = text[i];
      if (inQuotes) {
        const close = text.indexOf('"', i);
        if (close === -1) {
          field += text.slice(i);
          i = text.length;
          break;
        }
        field += text.slice(i, close);
        if (text[close + 1] === '"') {
          field += '"';
          i = close + 2;
        } else {
          inQuotes = false;
          afterQuote = true;
          i = close + 1;
        }
        continue;
      }
      if (ch === ",") {
        fields.push(field);
        field = "";
        afterQuote = false;
        i++;
      } else if (afterQuote) {
        problem = `unexpected character after closing quote in field ${fields.length + 1}`;
        break;
      } else if (ch === '"') {
        if (field !== "") {
          problem = `quote inside unquoted field ${fields.length + 1} (quote the whole field and double it)`;
          break;
        }
        inQuotes = true;
        i++;
      } else {
        SPECIAL.lastIndex = i;
        const end = SPECIAL.exec(text)?.index ?? text.length;
        field += text.slice(i, end);
        i = end;
      }
    }

    if (problem !== null) {
      inQuotes = false;
      yield { line: item.line, reason: problem };
      continue;
    }
    if (inQuotes) {
      if (field.length > maxFieldChars) {
        yield {
          line: startLine,
          reason: `quoted field ${
            fields.length + 1
          } grows past ${maxFieldChars} characters (unterminated quote?)`,
          fatal: true,
        };
        return;
      }
      continue;
    }
    fields.push(field);
    yield { line: startLine, fields };
  }
  if (inQuotes) {
    yield { line: startLine, reason: `unterminated quoted field ${fields.length + 1}`, fatal: true };
  }
}
