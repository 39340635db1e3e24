/**
 * Extractive-QA data formats as pure text → example functions: SQuAD v1.1 JSON (`{data:[{title,
 * paragraphs:[{context, qas:[{id, question, answers:[{text, answer_start}]}]}]}]}`) and JSONL rows in the
 * Hugging Face datasets shape `{id?, title?, context, question, answers:{text:[…], answer_start:[…]}}`, both
 * flattened to one example per question. answer_start counts code points, as Python does; every answer is
 * checked to sit at answer_start in its context and also given as a UTF-16 [start, end) span for JavaScript.
 * Problems are collected and thrown as one ApiError 400 `invalid_file`, naming the JSONL line, or for JSON the
 * article and paragraph index (0-based) and question id.
 */
import { ApiError } from "../../schemas/errors.ts";
import { codePointToUtf16Index } from "./offsets.ts";

export interface QaExample {
  id: string;
  title?: string;
  context: string;
  question: string;
  /** As in the file / HF datasets: answer texts and code-point start offsets. */
  answers: { text: string[]; answer_start: number[] };
  /** The same answers as UTF-16 [start, end) spans into `context` (for JS slicing and tokenizer offsets). */
  spans: { start: number; end: number }[];
  /** Where the example came from, for error messages. */
  source: { line?: number; article?: number; paragraph?: number };
}

export interface QaProblem {
  line?: number;
  article?: number;
  paragraph?: number;
  id?: string;
  reason: string;
}

export interface SquadParseOptions {
  /** Accept questions with no answers (prediction-only data). Default false: v1.1 needs at least one. */
  allowNoAnswers?: boolean;
  maxProblems?: number;
}

function where(p: QaProblem): string {
  if (p.line !== undefined) return `line ${p.line}`;
  const parts = [`article ${p.article}`, p.paragraph !== undefined ? `paragraph ${p.paragraph}` : ""];
  if (p.id !== undefined) parts.push(`question '${p.id}'`);
  return parts.filter(Boolean).join(", ");
}

class Problems {
  readonly items: QaProblem[] = [];
  total = 0;
  constructor(private readonly max: number) {}
  add(p: QaProblem): void {
    this.total++;
    if (this.items.length < this.max) this.items.push(p);
  }
  throwIfAny(format: string): void {
    if (this.total === 0) return;
    const first = this.items.slice(0, 3).map((p) => `${where(p)}: ${p.reason}`).join("; ");
    const more = this.total > 3 ? ` (and ${this.total - 3} more)` : "";
    throw new ApiError(400, "invalid_file", `invalid ${format} file: ${first}${more}`, this.items);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks and converts one question's answers. Returns the UTF-16 spans, or a reason string on failure.
 */
function checkAnswers(
  context: string,
  texts: unknown[],
  starts: unknown[],
  allowNone: boolean,
): { spans: { start: number; end: number }[] } | string {
  if (texts.length !== starts.length) {
    return `${texts.length} answer texts but ${starts.length} answer_start values`;
  }
  if (texts.length === 0 && !allowNone) return "has no answers";
  const spans: { start: number; end: number }[] = [];
  for (let k = 0; k < texts.length; k++) {
    const text = texts[k];
    const start = starts[k];
    if (typeof text !== "string" || text.length === 0) return `answer ${k} text must be a non-empty string`;
    if (typeof start !== "number" || !Number.isInteger(start) || start < 0) {
      return `answer ${k} answer_start must be a non-negative integer`;
    }
    const u16 = codePointToUtf16Index(context, start);
    const found = context.slice(u16, u16 + text.length);
    if (found !== text) {
      const hint = context.indexOf(text) === -1
        ? "the text is not in the context"
        : `the text is at ${[...context.slice(0, context.indexOf(text))].length}`;
      return `answer ${k} '${text}' does not start at answer_start ${start} (found '${found}'; ${hint})`;
    }
    spans.push({ start: u16, end: u16 + text.length });
  }
  return { spans };
}

function jsonError(format: string, e: unknown): ApiError {
  const message = (e as Error).message;
  const line = /line (\d+)/.exec(message)?.[1];
  return new ApiError(400, "invalid_file", `invalid ${format} file: not valid JSON (${message})`, [
    { line: line ? Number(line) : 1, reason: `not valid JSON (${message})` },
  ]);
}

/** Parses SQuAD v1.1 JSON into one example per question. */
export function parseSquadJson(text: string, options: SquadParseOptions = {}): QaExample[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (e) {
    throw jsonError("SQuAD JSON", e);
  }
  const problems = new Problems(options.maxProblems ?? 20);
  const examples: QaExample[] = [];
  const seen = new Set<string>();
  if (!isObject(doc) || !Array.isArray(doc.data)) {
    problems.add({ article: 0, reason: "top level must be an object with a 'data' array" });
    problems.throwIfAny("SQuAD JSON");
  }
  (doc as { data: unknown[] }).data.forEach((article, a) => {
    if (!isObject(article) || !Array.isArray(article.paragraphs)) {
      return problems.add({ article: a, reason: "article must be an object with a 'paragraphs' array" });
    }
    const title = typeof article.title === "string" ? article.title : undefined;
    article.paragraphs.forEach((paragraph, p) => {
      if (!isObject(paragraph) || typeof paragraph.context !== "string" || !Array.isArray(paragraph.qas)) {
        return problems.add({
          article: a,
          paragraph: p,
          reason: "paragraph needs a string 'context' and a 'qas' array",
        });
      }
      const context = paragraph.context;
      paragraph.qas.forEach((qa, q) => {
        const at = { article: a, paragraph: p };
        if (!isObject(qa)) return problems.add({ ...at, reason: `qas[${q}] must be an object` });
        const id = typeof qa.id === "string" || typeof qa.id === "number" ? String(qa.id) : undefined;
        if (id === undefined) return problems.add({ ...at, reason: `qas[${q}] has no 'id'` });
        if (seen.has(id)) return problems.add({ ...at, id, reason: "duplicate question id" });
        seen.add(id);
        if (typeof qa.question !== "string") {
          return problems.add({ ...at, id, reason: "'question' must be a string" });
        }
        const rawAnswers = Array.isArray(qa.answers) ? qa.answers : undefined;
        if (!rawAnswers || !rawAnswers.every(isObject)) {
          return problems.add({ ...at, id, reason: "'answers' must be an array of {text, answer_start}" });
        }
        const texts = rawAnswers.map((x) => (x as Record<string, unknown>).text);
        const starts = rawAnswers.map((x) => (x as Record<string, unknown>).answer_start);
        const checked = checkAnswers(context, texts, starts, options.allowNoAnswers ?? false);
        if (typeof checked === "string") return problems.add({ ...at, id, reason: checked });
        examples.push({
          id,
          title,
          context,
          question: qa.question,
          answers: { text: texts as string[], answer_start: starts as number[] },
          spans: checked.spans,
          source: at,
        });
      });
    });
  });
  problems.throwIfAny("SQuAD JSON");
  if (examples.length === 0) {
    throw new ApiError(400, "invalid_file", "invalid SQuAD JSON file: no questions found", [{
      reason: "no questions",
    }]);
  }
  return examples;
}

/** Parses JSONL rows `{id?, title?, context, question, answers:{text[], answer_start[]}}`; ids default to `line-N`. */
export function parseQaJsonl(text: string, options: SquadParseOptions = {}): QaExample[] {
  const problems = new Problems(options.maxProblems ?? 20);
  const examples: QaExample[] = [];
  const seen = new Set<string>();
  text.replace(/^\uFEFF/, "").split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    let row: unknown;
    try {
      row = JSON.parse(raw);
    } catch (e) {
      return problems.add({ line, reason: `not valid JSON (${(e as Error).message})` });
    }
    if (!isObject(row)) return problems.add({ line, reason: "expected a JSON object" });
    for (const field of ["context", "question"]) {
      if (typeof row[field] !== "string") {
        return problems.add({ line, reason: `missing or non-string '${field}'` });
      }
    }
    const answers = row.answers;
    if (!isObject(answers) || !Array.isArray(answers.text) || !Array.isArray(answers.answer_start)) {
      return problems.add({ line, reason: "'answers' must be {text: [...], answer_start: [...]}" });
    }
    const id = row.id === undefined ? `line-${line}` : String(row.id);
    if (seen.has(id)) return problems.add({ line, id, reason: "duplicate id" });
    seen.add(id);
    const context = row.context as string;
    const checked = checkAnswers(
      context,
      answers.text,
      answers.answer_start,
      options.allowNoAnswers ?? false,
    );
    if (typeof checked === "string") return problems.add({ line, id, reason: checked });
    examples.push({
      id,
      title: typeof row.title === "string" ? row.title : undefined,
      context,
      question: row.question as string,
      answers: { text: answers.text as string[], answer_start: answers.answer_start as number[] },
      spans: checked.spans,
      source: { line },
    });
  });
  if (examples.length === 0 && problems.total === 0) problems.add({ line: 1, reason: "no rows found" });
  problems.throwIfAny("JSONL");
  return examples;
}

/** Writes examples as JSONL rows in the HF shape (round trip with parseQaJsonl). */
export function writeQaJsonl(examples: readonly QaExample[]): string {
  return examples.map((e) =>
    JSON.stringify({
      id: e.id,
      ...(e.title !== undefined ? { title: e.title } : {}),
      context: e.context,
      question: e.question,
      answers: e.answers,
    }) + "\n"
  ).join("");
}
