/**
 * Token-classification data formats as pure text ↔ sentence functions: CoNLL column text (one token per line,
 * columns split on spaces/tabs, a blank line between sentences, `-DOCSTART-` lines skipped but remembered so
 * the writer can put them back) and JSONL rows `{"tokens": [...], "tags": [...]}` (tags as strings, or as
 * integer ids mapped through `labelNames` as in Hugging Face datasets' ner_tags). Every sentence keeps the
 * 1-based line of its first token (a CoNLL token i sits on line `line + i`). Problems a user can fix — ragged
 * column counts, a missing tag column, bad JSON, token/tag length mismatch — are collected and thrown as one
 * ApiError 400 `invalid_file` whose details list `{line, column?, reason}`.
 */
import { ApiError } from "../../schemas/errors.ts";

export interface TaggedSentence {
  tokens: string[];
  tags: string[];
  /** 1-based line of the first token (CoNLL) or of the row (JSONL). */
  line: number;
  /** CoNLL only: every column of every token line, for writing the file back unchanged. */
  columns?: string[][];
  /** CoNLL only: a `-DOCSTART-` line came between the previous sentence and this one. */
  docStart?: boolean;
}

export interface FileProblem {
  line: number;
  column?: number;
  reason: string;
}

export function invalidFile(format: string, problems: FileProblem[], total = problems.length): ApiError {
  const first = problems.slice(0, 3).map((p) => `line ${p.line}: ${p.reason}`).join("; ");
  const more = total > 3 ? ` (and ${total - 3} more)` : "";
  return new ApiError(400, "invalid_file", `invalid ${format} file: ${first}${more}`, problems);
}

/** Collects up to `max` problems and counts the rest. */
class ProblemList {
  readonly items: FileProblem[] = [];
  total = 0;
  constructor(private readonly max: number) {}
  add(p: FileProblem): void {
    this.total++;
    if (this.items.length < this.max) this.items.push(p);
  }
  throwIfAny(format: string): void {
    if (this.total > 0) throw invalidFile(format, this.items, this.total);
  }
}

export interface ConllOptions {
  /** 0-based token column (default 0). */
  tokenColumn?: number;
  /** 0-based tag column; negative counts from the end (default -1: the last column). */
  tagColumn?: number;
  /** Keep all columns on each sentence (needed for a byte-exact writeConll). Default false. */
  keepColumns?: boolean;
  /** At most this many problems are listed in the error (default 20). */
  maxProblems?: number;
}

export interface ConllDocument {
  sentences: TaggedSentence[];
  /** Number of `-DOCSTART-` lines. */
  documents: number;
  tokenCount: number;
}

const lines = (text: string): string[] => text.replace(/^\uFEFF/, "").split(/\r?\n/);

/** Parses CoNLL column text. Throws ApiError 400 invalid_file (with line numbers) on malformed input. */
export function parseConll(text: string, options: ConllOptions = {}): ConllDocument {
  const tokenColumn = options.tokenColumn ?? 0;
  const tagColumn = options.tagColumn ?? -1;
  const problems = new ProblemList(options.maxProblems ?? 20);
  const sentences: TaggedSentence[] = [];
  let documents = 0;
  let tokenCount = 0;
  let expected: { columns: number; line: number } | undefined;
  let current: TaggedSentence | undefined;
  let pendingDocStart = false;
  const close = () => {
    if (current) sentences.push(current);
    current = undefined;
  };
  lines(text).forEach((raw, index) => {
    const lineNo = index + 1;
    const trimmed = raw.trim();
    if (trimmed === "") return close();
    const cols = trimmed.split(/[ \t]+/);
    if (cols[0] === "-DOCSTART-") {
      close();
      documents++;
      pendingDocStart = true;
      return;
    }
    if (expected === undefined) expected = { columns: cols.length, line: lineNo };
    else if (cols.length !== expected.columns) {
      problems.add({
        line: lineNo,
        reason: `has ${cols.length} columns but line ${expected.line} has ${expected.columns}`,
      });
      return;
    }
    const tagIndex = tagColumn < 0 ? cols.length + tagColumn : tagColumn;
    if (tagIndex < 0 || tagIndex >= cols.length || tokenColumn >= cols.length) {
      const want = Math.max(tokenColumn, tagColumn < 0 ? -tagColumn - 1 : tagColumn) + 1;
      problems.add({
        line: lineNo,
        reason: `needs at least ${want} columns (token and tag), found ${cols.length}`,
      });
      return;
    }
    if (tagIndex === tokenColumn) {
      problems.add({
        line: lineNo,
        column: tagIndex + 1,
        reason: "the token column and the tag column are the same",
      });
      return;
    }
    if (!current) {
      current = { tokens: [], tags: [], line: lineNo };
      if (options.keepColumns) current.columns = [];
      if (pendingDocStart) current.docStart = true;
      pendingDocStart = false;
    }
    current.tokens.push(cols[tokenColumn]);
    current.tags.push(cols[tagIndex]);
    current.columns?.push(cols);
    tokenCount++;
  });
  close();
  if (sentences.length === 0 && problems.total === 0) problems.add({ line: 1, reason: "no sentences found" });
  problems.throwIfAny("CoNLL");
  return { sentences, documents, tokenCount };
}

/**
 * Writes sentences as CoNLL text: the kept columns when present, else `token tag`; a blank line after each
 * sentence; `-DOCSTART- -X- … O` (same column count) plus a blank line before sentences marked docStart.
 */
export function writeConll(sentences: readonly TaggedSentence[], separator = " "): string {
  let out = "";
  for (const s of sentences) {
    const rows = s.columns ?? s.tokens.map((t, i) => [t, s.tags[i]]);
    if (s.docStart) {
      const width = rows[0]?.length ?? 2;
      out += ["-DOCSTART-", ...new Array(Math.max(0, width - 2)).fill("-X-"), "O"].join(separator) + "\n\n";
    }
    for (const row of rows) out += row.join(separator) + "\n";
    out += "\n";
  }
  return out;
}

export interface TokenTagJsonlOptions {
  tokensField?: string;
  tagsField?: string;
  /** Names for integer tag ids (HF datasets ClassLabel names). Without it integer tags are an error. */
  labelNames?: readonly string[];
  maxProblems?: number;
}

/** Parses JSONL rows `{tokens: string[], tags: (string | number)[]}`; blank lines are skipped. */
export function parseTokenTagJsonl(text: string, options: TokenTagJsonlOptions = {}): TaggedSentence[] {
  const tokensField = options.tokensField ?? "tokens";
  const tagsField = options.tagsField ?? "tags";
  const problems = new ProblemList(options.maxProblems ?? 20);
  const sentences: TaggedSentence[] = [];
  lines(text).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    let row: unknown;
    try {
      row = JSON.parse(raw);
    } catch (e) {
      return problems.add({ line, reason: `not valid JSON (${(e as Error).message})` });
    }
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      return problems.add({ line, reason: "expected a JSON object" });
    }
    const obj = row as Record<string, unknown>;
    const tokens = obj[tokensField];
    const rawTags = obj[tagsField];
    if (!Array.isArray(tokens)) {
      return problems.add({ line, reason: `missing or non-array field '${tokensField}'` });
    }
    if (!Array.isArray(rawTags)) {
      return problems.add({ line, reason: `missing or non-array field '${tagsField}'` });
    }
    if (tokens.length === 0) return problems.add({ line, reason: `'${tokensField}' is empty` });
    if (!tokens.every((t) => typeof t === "string")) {
      return problems.add({ line, reason: `'${tokensField}' must hold only strings` });
    }
    if (tokens.length !== rawTags.length) {
      return problems.add({
        line,
        reason: `${tokens.length} tokens but ${rawTags.length} tags`,
      });
    }
    const tags: string[] = [];
    for (const [i, t] of rawTags.entries()) {
      if (typeof t === "string") tags.push(t);
      else if (typeof t === "number" && Number.isInteger(t) && options.labelNames) {
        if (t < 0 || t >= options.labelNames.length) {
          return problems.add({
            line,
            reason: `tag id ${t} at position ${i} is not in the ${options.labelNames.length} label names`,
          });
        }
        tags.push(options.labelNames[t]);
      } else {
        const why = typeof t === "number" && !options.labelNames ? " (integer tags need label names)" : "";
        return problems.add({ line, reason: `tag at position ${i} must be a string${why}` });
      }
    }
    sentences.push({ tokens: tokens as string[], tags, line });
  });
  if (sentences.length === 0 && problems.total === 0) problems.add({ line: 1, reason: "no rows found" });
  problems.throwIfAny("JSONL");
  return sentences;
}

/** One `{"tokens":[…],"tags":[…]}` line per sentence, each ending with "\n". */
export function writeTokenTagJsonl(sentences: readonly Pick<TaggedSentence, "tokens" | "tags">[]): string {
  return sentences.map((s) => JSON.stringify({ tokens: s.tokens, tags: s.tags }) + "\n").join("");
}
