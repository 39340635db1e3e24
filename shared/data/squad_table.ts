/**
 * SQuAD v1.1 JSON as a table: `scanSquad` reads the whole upload (one JSON document; the upload limit bounds
 * it) and yields what shared/data/table.ts's scanTable yields for CSV/JSONL — the columns
 * ["id", "title", "context", "question", "answers"], then one row per question with `answers` as the Hugging
 * Face datasets JSON string `{"text": […], "answer_start": […]}`, interleaved with every problem found. A row's
 * line is the 1-based line where the question's `{` entry starts in the file, found by a small JSON scanner
 * that also locates syntax errors (V8's JSON.parse messages do not always carry a position). Problems: not
 * UTF-8 / not JSON / no `data` array (fatal), articles or paragraphs of the wrong shape, questions with an
 * empty question or context, bad answers (checked by tasks/squad.ts's JSONL parser, so an answer_start that
 * does not point at the answer text is named with where the text really is), duplicate ids, oversized fields.
 */
import { ApiError } from "../schemas/errors.ts";
import { parseQaJsonl } from "../core/tasks/squad.ts";
import { DEFAULT_MAX_FIELD_CHARS, type TableItem, type TableOptions } from "./table.ts";

export const SQUAD_COLUMNS = ["id", "title", "context", "question", "answers"];

type Frame = { kind: "obj" | "arr"; key: string | null; index: number };

/** Where the articles, paragraphs and questions start ("a", "a/p", "a/p/q" → offset), or a syntax error. */
export function scanSquadJson(
  text: string,
): { marks: Map<string, number> } | { error: { offset: number; reason: string } } {
  const marks = new Map<string, number>();
  const stack: Frame[] = [];
  const n = text.length;
  let i = 0;
  let state: "value" | "key" | "after" = "value";
  const fail = (reason: string) => ({ error: { offset: Math.min(i, n), reason } });
  const mark = () => {
    const s = stack;
    const at = (k: number, key: string) =>
      s[k].kind === "obj" && s[k].key === key && s[k + 1]?.kind === "arr";
    if (s.length === 2 && at(0, "data")) marks.set(`${s[1].index}`, i);
    else if (s.length === 4 && at(0, "data") && at(2, "paragraphs")) {
      marks.set(`${s[1].index}/${s[3].index}`, i);
    } else if (s.length === 6 && at(0, "data") && at(2, "paragraphs") && at(4, "qas")) {
      marks.set(`${s[1].index}/${s[3].index}/${s[5].index}`, i);
    }
  };
  const skipString = (): string | null => { // i at the opening quote; null = ok, else the reason
    for (i++; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return null;
      }
      if (c === 0x5c) i++;
      else if (c < 0x20) return "control character inside a string (unescaped line break?)";
    }
    return "unterminated string";
  };
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  for (;;) {
    while (i < n && " \t\n\r".includes(text[i])) i++;
    if (state === "value") {
      if (i >= n) return fail("unexpected end of the file");
      const c = text[i];
      mark();
      if (c === "{" || c === "[") {
        stack.push({ kind: c === "{" ? "obj" : "arr", key: null, index: 0 });
        i++;
        while (i < n && " \t\n\r".includes(text[i])) i++;
        if (text[i] === (c === "{" ? "}" : "]")) {
          i++;
          stack.pop();
          state = "after";
        } else state = c === "{" ? "key" : "value";
        continue;
      }
      if (c === '"') {
        const bad = skipString();
        if (bad) return fail(bad);
      } else if (c === "-" || (c >= "0" && c <= "9")) {
        NUMBER.lastIndex = i;
        if (!NUMBER.test(text)) return fail(`invalid number`);
        i = NUMBER.lastIndex;
      } else {
        const word = ["true", "false", "null"].find((w) => text.startsWith(w, i));
        if (!word) return fail(`unexpected character '${c}'`);
        i += word.length;
      }
      state = "after";
    } else if (state === "key") {
      if (text[i] !== '"') return fail("expected a property name in double quotes");
      const start = i;
      const bad = skipString();
      if (bad) return fail(bad);
      let key: string | null = null;
      try {
        key = i - start < 64 ? JSON.parse(text.slice(start, i)) : null;
      } catch { /* a malformed escape: JSON.parse reports it later */ }
      stack[stack.length - 1].key = key;
      while (i < n && " \t\n\r".includes(text[i])) i++;
      if (text[i] !== ":") return fail("expected ':' after a property name");
      i++;
      state = "value";
    } else {
      const top = stack[stack.length - 1];
      if (!top) return i < n ? fail("unexpected text after the JSON document") : { marks };
      const c = text[i];
      if (c === ",") {
        i++;
        if (top.kind === "arr") top.index++;
        state = top.kind === "arr" ? "value" : "key";
      } else if (c === (top.kind === "obj" ? "}" : "]")) {
        i++;
        stack.pop();
      } else if (i >= n) return fail("unexpected end of the file");
      else return fail(`expected ',' or '${top.kind === "obj" ? "}" : "]"}'`);
    }
  }
}

/** 1-based line of an offset: the number of line breaks before it, plus one. */
function lineFinder(text: string): (offset: number) => number {
  const breaks: number[] = [];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) breaks.push(i);
  return (offset) => {
    let lo = 0, hi = breaks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (breaks[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const problem = (line: number, reason: string, fatal = false, column?: string): TableItem => ({
  kind: "problem",
  problem: column === undefined ? { line, reason } : { line, column, reason },
  fatal,
});

/** The table items of a SQuAD JSON text (see module comment). */
export function squadTableItems(text: string, options: TableOptions = {}): TableItem[] {
  const maxFieldChars = options.maxFieldChars ?? DEFAULT_MAX_FIELD_CHARS;
  const body = text.replace(/^\uFEFF/, "");
  const scanned = scanSquadJson(body);
  const lineOf = lineFinder(body);
  if ("error" in scanned) {
    return [problem(lineOf(scanned.error.offset), `not valid JSON: ${scanned.error.reason}`, true)];
  }
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (error) {
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    const message = (error as Error).message.replace(/, ".*" is not valid JSON$/s, "");
    return [problem(position ? lineOf(Number(position)) : 1, `not valid JSON: ${message}`, true)];
  }
  if (!isObject(doc) || !Array.isArray(doc.data)) {
    return [problem(1, "a SQuAD file is an object with a 'data' array of articles", true)];
  }
  const items: TableItem[] = [{ kind: "columns", columns: SQUAD_COLUMNS }];
  const line = (path: string, fallback: number) => {
    const offset = scanned.marks.get(path);
    return offset === undefined ? fallback : lineOf(offset);
  };
  const seen = new Set<string>();
  doc.data.forEach((article, a) => {
    const articleLine = line(`${a}`, 1);
    if (!isObject(article) || !Array.isArray(article.paragraphs)) {
      return items.push(problem(articleLine, `article ${a} must be an object with a 'paragraphs' array`));
    }
    const title = typeof article.title === "string" ? article.title : "";
    article.paragraphs.forEach((paragraph, p) => {
      const paragraphLine = line(`${a}/${p}`, articleLine);
      const where = `article ${a}, paragraph ${p}`;
      if (!isObject(paragraph) || typeof paragraph.context !== "string" || !Array.isArray(paragraph.qas)) {
        return items.push(problem(paragraphLine, `${where} needs a string 'context' and a 'qas' array`));
      }
      const context = paragraph.context;
      if (context.trim() === "") return items.push(problem(paragraphLine, `${where} has an empty context`));
      if (context.length > maxFieldChars) {
        return items.push(
          problem(
            paragraphLine,
            `${where}: context is longer than ${maxFieldChars} characters`,
            false,
            "context",
          ),
        );
      }
      paragraph.qas.forEach((qa, q) => {
        const at = line(`${a}/${p}/${q}`, paragraphLine);
        const item = questionItem(qa, `${where}, question ${q}`, context, title, maxFieldChars, seen);
        items.push(typeof item === "string" ? problem(at, item) : { kind: "row", line: at, row: item });
      });
    });
  });
  if (!items.some((item) => item.kind === "row") && !items.some((item) => item.kind === "problem")) {
    items.push(problem(1, "the file has no questions", true));
  }
  return items;
}

/** One question's row, or the reason it is not one. */
function questionItem(
  qa: unknown,
  where: string,
  context: string,
  title: string,
  maxFieldChars: number,
  seen: Set<string>,
): Record<string, string> | string {
  if (!isObject(qa)) return `${where} must be an object`;
  if (typeof qa.id !== "string" && typeof qa.id !== "number") return `${where} has no 'id'`;
  const id = String(qa.id);
  const named = `question '${id}'`;
  if (seen.has(id)) return `${named}: duplicate id`;
  seen.add(id);
  if (typeof qa.question !== "string" || qa.question.trim() === "") {
    return `${named}: empty or missing 'question'`;
  }
  if (qa.question.length > maxFieldChars) {
    return `${named}: question is longer than ${maxFieldChars} characters`;
  }
  if (!Array.isArray(qa.answers) || !qa.answers.every(isObject)) {
    return `${named}: 'answers' must be an array of {text, answer_start}`;
  }
  const answers = {
    text: qa.answers.map((x) => (x as Record<string, unknown>).text),
    answer_start: qa.answers.map((x) => (x as Record<string, unknown>).answer_start),
  };
  try { // the same answer checks as JSONL uploads
    parseQaJsonl(JSON.stringify({ id, context, question: qa.question, answers }));
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const details = error.details as { reason?: string }[] | undefined;
    return `${named}: ${details?.[0]?.reason ?? error.message}`;
  }
  return { id, title, context, question: qa.question, answers: JSON.stringify(answers) };
}

/** Reads a SQuAD JSON upload and yields its table items (stops after a fatal problem, as scanTable does). */
export async function* scanSquad(
  stream: ReadableStream<Uint8Array>,
  options: TableOptions = {},
): AsyncGenerator<TableItem> {
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    yield problem(1, "the file is not valid UTF-8", true);
    return;
  }
  for (const item of squadTableItems(text, options)) {
    yield item;
    if (item.kind === "problem" && item.fatal) return;
  }
}
