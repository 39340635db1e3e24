/**
 * One token-classification row → its tokens and tags, or the problem to report for its line. A column value
 * is a list either as a JSON array of strings (JSONL uploads, and CoNLL files, whose rows conll_table.ts
 * writes that way) or, when it is not a JSON array, as whitespace-separated items (CSV/TSV cells such as
 * `EU rejects German call` / `B-ORG O B-MISC O`). Problems: a missing column, a value that is JSON but not
 * a list of strings, no tokens, a token/tag count mismatch, and a tag that is not `O` or `B-`/`I-`/`E-`/`S-TYPE`
 * (per tagging.ts parseTag) — unless `plainTags` (POS-style tag sets), where any non-empty tag is accepted.
 */
import { ApiError } from "../../schemas/errors.ts";
import { type FileProblem, invalidFile } from "../../core/tasks/conll.ts";
import { detectScheme, labelsForScheme, parseTag, type TagScheme } from "../../core/tasks/tagging.ts";
import type { TableRow } from "../table.ts";

export interface TokenRowColumns {
  tokens: string;
  tags: string;
}

export interface TokenRowOptions {
  /** Accept tags that are not entity tags (POS tagging); default false. */
  plainTags?: boolean;
}

export type ParsedTokenRow = { tokens: string[]; tags: string[] } | { problem: string };

/** A JSON array of strings, a whitespace-separated list, or the reason the value is neither. */
export function parseListValue(value: string, what: string): string[] | { problem: string } {
  const trimmed = value.trim();
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      parsed = undefined; // not JSON: a whitespace list that happens to start with a bracket ("[ citation ]")
    }
    if (parsed !== undefined) {
      if (!Array.isArray(parsed)) {
        return { problem: `${what} is not a list (a JSON array or space-separated)` };
      }
      const bad = parsed.findIndex((v) => typeof v !== "string");
      if (bad !== -1) {
        const why = typeof parsed[bad] === "number"
          ? " (integer tag ids need label names; write the tags)"
          : "";
        return { problem: `${what} item ${bad} is ${JSON.stringify(parsed[bad])}, not a string${why}` };
      }
      return parsed as string[];
    }
  }
  return trimmed === "" ? [] : trimmed.split(/\s+/);
}

/** The reason `tag` is not an entity tag, or null when it is one. */
export function invalidTagReason(tag: string, position: number): string | null {
  if (parseTag(tag) !== null) return null;
  return `tag '${tag}' at position ${position} is not O or B-/I-/E-/S- followed by an entity type`;
}

export function parseTokenRow(
  row: Record<string, string>,
  columns: TokenRowColumns,
  options: TokenRowOptions = {},
): ParsedTokenRow {
  for (const name of [columns.tokens, columns.tags]) {
    if (!Object.hasOwn(row, name)) return { problem: `missing column '${name}'` };
  }
  const tokens = parseListValue(row[columns.tokens], `column '${columns.tokens}'`);
  if (!Array.isArray(tokens)) return tokens;
  const tags = parseListValue(row[columns.tags], `column '${columns.tags}'`);
  if (!Array.isArray(tags)) return tags;
  if (tokens.length === 0) return { problem: `column '${columns.tokens}' has no tokens` };
  const emptyToken = tokens.findIndex((t) => t.trim() === "");
  if (emptyToken !== -1) return { problem: `token ${emptyToken} is empty` };
  if (tokens.length !== tags.length) {
    return { problem: `${tokens.length} tokens but ${tags.length} tags` };
  }
  for (const [i, tag] of tags.entries()) {
    if (tag.trim() === "" || /\s/.test(tag)) {
      return { problem: `tag at position ${i} is empty or has spaces` };
    }
    if (!options.plainTags) {
      const reason = invalidTagReason(tag, i);
      if (reason) return { problem: reason };
    }
  }
  return { tokens, tags };
}

/** Token-classification data of a job, ready for training (see prepareTokenData). */
export interface TokenData {
  train: { tokens: string[][]; tags: string[][] };
  validation: { tokens: string[][]; tags: string[][] } | null;
  /** The model's labels: "O" then B-/I- per entity type (sorted), or the sorted plain tag set. */
  labels: string[];
  /** The data's scheme (predictions are scored in it). */
  scheme: TagScheme;
}

const MAX_PROBLEMS = 20;

/**
 * Parses and checks a job's rows: every row through parseTokenRow, then the tag set. The data is entity-tagged
 * when `tagScheme` names a scheme, or when some tag is "O" or every tag is an entity tag; then each tag must
 * be one, the scheme is `tagScheme` or detected (IOB1 / IOB2 / BIOES), and the labels are IOB2. Otherwise the
 * tags are plain (POS) and are the labels as they are. Bad rows, a validation tag or entity type the training
 * data lacks, and fewer than two labels are ApiError 400 invalid_file naming the lines.
 */
export function prepareTokenData(
  trainRows: readonly TableRow[],
  validationRows: readonly TableRow[] | null,
  columns: TokenRowColumns,
  tagScheme: "auto" | "iob1" | "iob2" | "bioes" | undefined,
): TokenData {
  const problems: FileProblem[] = [];
  let total = 0;
  const report = (line: number, reason: string) => {
    total++;
    if (problems.length < MAX_PROBLEMS) problems.push({ line, reason });
  };
  const parse = (rows: readonly TableRow[]) =>
    rows.flatMap(({ line, row }) => {
      const parsed = parseTokenRow(row, columns, { plainTags: true });
      if ("problem" in parsed) {
        report(line, parsed.problem);
        return [];
      }
      return [{ line, ...parsed }];
    });
  const train = parse(trainRows);
  const validation = validationRows ? parse(validationRows) : null;
  const all = [...train, ...(validation ?? [])];
  const trainTags = new Set(train.flatMap((s) => s.tags));
  const explicit = tagScheme !== undefined && tagScheme !== "auto";
  const entity = explicit || trainTags.has("O") || [...trainTags].every((t) => parseTag(t) !== null);
  if (entity) {
    for (const s of all) {
      const bad = s.tags.findIndex((t) => parseTag(t) === null);
      if (bad !== -1) report(s.line, invalidTagReason(s.tags[bad], bad)!);
      const bioes = s.tags.findIndex((t) => /^[ES]-/.test(t));
      if (bad === -1 && explicit && tagScheme !== "bioes" && bioes !== -1) {
        report(
          s.line,
          `tag '${s.tags[bioes]}' at position ${bioes} is not a ${tagScheme} tag (task_options.tag_scheme)`,
        );
      }
    }
  }
  const typeOf = (tag: string) => (parseTag(tag) as { type?: string } | null)?.type;
  const known = new Set<string | undefined>(entity ? [...trainTags].map(typeOf) : trainTags);
  known.delete(undefined);
  for (const s of validation ?? []) {
    const unseen = s.tags.find((t) =>
      entity ? t !== "O" && parseTag(t) !== null && !known.has(typeOf(t)) : !known.has(t)
    );
    if (unseen !== undefined) {
      report(
        s.line,
        entity
          ? `validation tag '${unseen}': entity type '${typeOf(unseen)}' does not occur in the training data`
          : `validation tag '${unseen}' does not occur in the training data`,
      );
    }
  }
  if (total > 0) throw invalidFile("dataset", problems, total);
  const labels = entity ? labelsForScheme([...known] as string[], "IOB2") : [...trainTags].sort(plainOrder);
  if (labels.length < 2) {
    throw new ApiError(
      400,
      "invalid_file",
      `the training data has no ${entity ? "entity tags" : "second tag"}: nothing to learn`,
      {
        labels,
      },
    );
  }
  const scheme: TagScheme = !entity
    ? "plain"
    : explicit
    ? ({ iob1: "IOB1", iob2: "IOB2", bioes: "BIOES" } as const)[tagScheme as "iob1" | "iob2" | "bioes"]
    : detectScheme(all.map((s) => s.tags));
  const words = (list: typeof train) => ({
    tokens: list.map((s) => s.tokens),
    tags: list.map((s) => s.tags),
  });
  return {
    train: words(train),
    validation: validation && validation.length > 0 ? words(validation) : null,
    labels,
    scheme,
  };
}

/** "O" first, then the other tags in code-point order. */
const plainOrder = (a: string, b: string) => (a === "O" ? -1 : b === "O" ? 1 : a < b ? -1 : a > b ? 1 : 0);
